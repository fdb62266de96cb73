"""Receiving invoices from KSeF: one sync per company and subject type (as buyer, as third party, as authorised
subject), downloading new invoices with exports filtered by the permanent-storage date and KSeF's high-water mark.

Rules that make it safe: one export per step; the documents of a step and the mark that covers them are written
in the same transaction and committed together, so an interrupted sync resumes from the last committed mark and
never loses or doubles an invoice (duplicates across adjacent windows are dropped by KSeF number). KSeF allows 20
exports an hour per context: every export is logged on the sync records and the cron comes back, with
``_trigger(at=...)``, only when the budget allows another one. Never a per-invoice download here."""
import datetime
import json
import logging
import time

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..ksef.errors import AuthenticationError, KsefError, RateLimitError
from .res_company_ksef import L10nPlKsefAccessEnded

_logger = logging.getLogger(__name__)

SUBJECT_TYPES = [('Subject2', 'Buyer'), ('Subject3', 'Third party'), ('SubjectAuthorized', 'Authorised subject')]
WINDOW = datetime.timedelta(days=90)           # KSeF: one filter spans at most 3 months
CADENCE = datetime.timedelta(minutes=15)       # per subject type once caught up, as KSeF advises
ERROR_RETRY = datetime.timedelta(minutes=15)
ACCESS_RETRY = datetime.timedelta(minutes=1)   # KSeF ended the cached login: the next run logs in again
# KSeF allows 20 exports an hour, 16 a minute and 8 a second per context; the sync stays below in each window,
# counted from the exports logged in the database (whichever worker or user made them)
EXPORT_BUDGET = ((datetime.timedelta(hours=1), 18), (datetime.timedelta(minutes=1), 14),
                 (datetime.timedelta(seconds=1), 5))
BUDGET_MARGIN = datetime.timedelta(seconds=2)   # KSeF counts an export when it arrives, a moment after we log it
RUN_TIME = 240                                  # seconds one cron run spends on exports before re-triggering
WARSAW = pytz.timezone('Europe/Warsaw')


class L10nPlKsefSync(models.Model):
    _name = 'l10n_pl_ksef.sync'
    _description = "KSeF receiving sync"
    _order = 'company_id, subject_type'
    _check_company_auto = True

    company_id = fields.Many2one('res.company', required=True, index=True, readonly=True,
                                 default=lambda self: self.env.company)
    subject_type = fields.Selection(SUBJECT_TYPES, string="Received as", required=True, readonly=True)
    active = fields.Boolean(default=True)
    backfill_start = fields.Date(string="Receive invoices stored from",
                                 help="Where the first sync starts (KSeF's permanent-storage date). Changing it "
                                      "after the first sync has no effect: fetch an earlier period with the "
                                      "'Fetch from KSeF' wizard instead.")
    high_water_mark = fields.Char(string="Next start", readonly=True,
                                  help="Where the next sync continues, as KSeF gave it (ISO 8601): everything "
                                       "stored before it was received.")
    range_next = fields.Char(string="Requested period: continues at", readonly=True,
                             help="A period asked for with 'Fetch from KSeF', still being fetched from here.")
    range_end = fields.Char(string="Requested period: ends at", readonly=True)
    next_run = fields.Datetime(string="Next run", readonly=True)
    last_run = fields.Datetime(string="Last run", readonly=True)
    last_error = fields.Text(string="Last error", readonly=True)
    received_count = fields.Integer(string="Invoices received", readonly=True)
    export_log = fields.Text(readonly=True, help="Technical: when the recent exports of this sync were asked for "
                                                "(UTC), to stay within KSeF's limits.")

    _sql_constraints = [('company_subject_unique', 'UNIQUE(company_id, subject_type)',
                         "A company has one KSeF sync per subject type.")]

    @api.depends('company_id', 'subject_type')
    def _compute_display_name(self):
        labels = dict(self._fields['subject_type']._description_selection(self.env))
        for sync in self:
            sync.display_name = f"{sync.company_id.name} ({labels.get(sync.subject_type, '')})"

    # --- one step ------------------------------------------------------------------------------------

    def _l10n_pl_ksef_window(self):
        """(start, end or None, is the requested period): the next export's permanent-storage range; no end
        means up to KSeF's high-water mark."""
        self.ensure_one()
        now = _utcnow()
        if self.range_next:
            start, last = _moment(self.range_next), _moment(self.range_end)
            end = min(start + WINDOW, last)
            return self.range_next, (None if end >= now else end), True
        start = self.high_water_mark or _iso(_warsaw_midnight(self.backfill_start or _default_backfill_start()))
        end = _moment(start) + WINDOW
        return start, (None if end >= now else end), False

    def _l10n_pl_ksef_receive_step(self):
        """One export: new invoices become inbound documents and the mark moves on, in this transaction.
        Returns (documents created, whether more is waiting now)."""
        self.ensure_one()
        start, end, is_range = self._l10n_pl_ksef_window()
        subject_type = self.subject_type

        def export(client, tokens):
            try:
                return client.sync_step(tokens, subject_type, start, end=end)
            except RateLimitError as error:   # KSeF said when to come back: a plan, not a failure
                return error
            except AuthenticationError as error:   # forgotten outside this step's savepoint
                return error

        now = fields.Datetime.now()
        self._l10n_pl_ksef_log_export()
        step = self.company_id._l10n_pl_ksef_run(export)
        if isinstance(step, AuthenticationError):
            raise self.company_id._l10n_pl_ksef_access_ended(step)
        if isinstance(step, RateLimitError):
            self.write({'last_run': now, 'next_run': now + datetime.timedelta(seconds=step.retry_after),
                        'last_error': _("KSeF asked to wait %s seconds (rate limit); the sync resumes then.",
                                        round(step.retry_after))})
            return self.env['l10n_pl_ksef.document'], False
        documents = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_inbounds(
            self.company_id, subject_type, step.found)
        more = self._l10n_pl_ksef_advance(step, end, is_range)
        stuck = more and step.next_start == start
        self.write({'last_run': now, 'received_count': self.received_count + len(documents),
                    'next_run': now + CADENCE if stuck or not more else now,
                    'last_error': (stuck and _(
                        "KSeF's package was full of invoices stored at the same moment %s: the sync cannot move "
                        "past it and tries again later.", start)) or self._l10n_pl_ksef_stray_note(step.stray)})
        if stuck:
            return documents, False
        return documents, more

    def _l10n_pl_ksef_stray_note(self, stray):
        """What the sync says of files in KSeF's package that belong to no invoice (not read; never silently)."""
        if not stray:
            return False
        Document = self.env['l10n_pl_ksef.document']
        names = ', '.join(f'{name} ({Document._l10n_pl_ksef_refusal_text(code)})' for name, code in sorted(stray.items())[:10])
        _logger.warning("KSeF sync %s: the package held %s entries that are no invoice, not read", self.id, len(stray))
        return _("KSeF's last package held %(count)s file(s) that belong to no invoice; they were not read: %(names)s",
                 count=len(stray), names=names)

    def _l10n_pl_ksef_advance(self, step, end, is_range):
        """Move the mark (or the requested period) past what ``step`` covered; True when more is waiting."""
        window_done = step.complete or (end is not None and step.next_start == _iso(end))
        if not is_range:
            self.high_water_mark = step.next_start
            return not step.complete
        if window_done and (end is None or end >= _moment(self.range_end)):
            self.write({'range_next': False, 'range_end': False})
            return False
        self.range_next = step.next_start
        return True

    def _l10n_pl_ksef_receive_safely(self):
        """A step whose failure is recorded on the sync (never lost); the next run resumes from the mark."""
        self.ensure_one()
        started = fields.Datetime.now()
        try:
            # a login stores (and commits, outside tests) the company's tokens: never inside the savepoint below,
            # whose release would fail after a commit; with tokens cached this makes no KSeF call
            self.company_id._l10n_pl_ksef_run(lambda client, tokens: tokens)
            with self.env.cr.savepoint():
                return self._l10n_pl_ksef_receive_step()
        except L10nPlKsefAccessEnded as error:
            # KSeF ended the cached login early (not the login failing): a new login in a minute. The export
            # KSeF may have counted is logged first: the forgetting commits it with the tokens
            self._l10n_pl_ksef_log_export()
            self.write({'last_run': started, 'last_error': error.args[0], 'next_run': started + ACCESS_RETRY})
            self.company_id._l10n_pl_ksef_forget_access()
            return self.env['l10n_pl_ksef.document'], False
        except (UserError, KsefError) as error:
            message = error.args[0] if isinstance(error, UserError) else str(error)
        except Exception as error:  # noqa: BLE001 - a broken package must not stop the other companies
            _logger.exception("KSeF sync %s failed", self.id)
            message = _("Unexpected error: %s", error)
        _logger.warning("KSeF sync %s (%s) failed: %s", self.id, self.subject_type, message)
        self._l10n_pl_ksef_log_export()   # the export may have been made before the failure
        self.write({'last_run': started, 'last_error': message, 'next_run': started + ERROR_RETRY})
        return self.env['l10n_pl_ksef.document'], False

    # --- the export budget ---------------------------------------------------------------------------

    def _l10n_pl_ksef_exports(self):
        return [datetime.datetime.fromisoformat(moment) for sync in self for moment in json.loads(sync.export_log or '[]')]

    def _l10n_pl_ksef_log_export(self):
        moment = _utcnow_naive()
        recent = [m for m in self._l10n_pl_ksef_exports() if m > moment - EXPORT_BUDGET[0][0]] + [moment]
        self.export_log = json.dumps([m.isoformat() for m in sorted(recent)])

    def _l10n_pl_ksef_budget_wait(self):
        """How long before the company of these syncs may ask KSeF for another export (timedelta, 0 = now)."""
        now = _utcnow_naive()
        syncs = self.with_context(active_test=False).search([('company_id', 'in', self.company_id.ids)])
        exports = sorted(syncs._l10n_pl_ksef_exports())
        wait = datetime.timedelta(0)
        for span, allowed in EXPORT_BUDGET:
            recent = [moment for moment in exports if moment > now - span]
            if len(recent) >= allowed:
                # the oldest export inside the window must leave it before another one fits
                wait = max(wait, recent[len(recent) - allowed] + span + BUDGET_MARGIN - now)
        return wait

    # --- runs ----------------------------------------------------------------------------------------

    def _l10n_pl_ksef_due(self, now):
        return self.filtered(lambda s: (s.active or s.range_next) and (not s.next_run or s.next_run <= now)) \
                   .sorted(lambda s: (not s.range_next, s.next_run or datetime.datetime.min, s.id))

    def _l10n_pl_ksef_lock_company(self, company):
        """The syncs of ``company``, locked for this transaction; empty when another worker holds one of them."""
        self.env.flush_all()
        self.env.cr.execute("SELECT id FROM l10n_pl_ksef_sync WHERE company_id = %s ORDER BY id FOR UPDATE SKIP LOCKED",
                            (company.id,))
        locked = [row[0] for row in self.env.cr.fetchall()]
        syncs = self.with_context(active_test=False).search([('company_id', '=', company.id)])
        if set(locked) != set(syncs.ids):
            return self.browse()
        syncs.invalidate_recordset()
        return syncs

    @api.model
    def _l10n_pl_ksef_receive_company(self, company, deadline):
        """Steps for ``company`` while one is due and the export budget allows it now; committed one by one.
        Returns the documents created."""
        documents = self.env['l10n_pl_ksef.document']
        while time.monotonic() < deadline:
            syncs = self._l10n_pl_ksef_lock_company(company)
            due = syncs._l10n_pl_ksef_due(fields.Datetime.now())
            if not due or syncs._l10n_pl_ksef_budget_wait():
                break
            created, _more = due[0].with_company(company)._l10n_pl_ksef_receive_safely()
            documents |= created
            self.env['l10n_pl_ksef.document']._l10n_pl_ksef_commit()
        return documents

    @api.model
    def _cron_l10n_pl_ksef_receive(self):
        """Every company's due syncs, as fast as KSeF's export limit allows; the cron comes back by itself."""
        self.env['res.company'].search([])._l10n_pl_ksef_ensure_syncs()
        deadline = time.monotonic() + RUN_TIME
        syncs = self.search(self._l10n_pl_ksef_running_domain()).with_context(active_test=False)
        for company in syncs.company_id:
            self._l10n_pl_ksef_receive_company(company, deadline)
        self._l10n_pl_ksef_plan_next_run()

    @api.model
    def _l10n_pl_ksef_running_domain(self):
        # a requested period is fetched even when the sync itself is off; an archived company receives nothing
        return [('company_id.active', '=', True), '|', ('active', '=', True), ('range_next', '!=', False)]

    @api.model
    def _l10n_pl_ksef_plan_next_run(self):
        """Re-trigger the cron when the earliest sync is due and its company's export budget allows it."""
        now = fields.Datetime.now()
        syncs = self.with_context(active_test=False).search(self._l10n_pl_ksef_running_domain())
        moments = []
        for company in syncs.company_id:
            company_syncs = syncs.filtered(lambda s: s.company_id == company)
            due = min(s.next_run or now for s in company_syncs)
            moments.append(max(due, now + company_syncs._l10n_pl_ksef_budget_wait()))
        if moments:
            at = max(min(moments), now)
            self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_receive')._trigger(at=at)
            return at
        return False

    # --- user actions --------------------------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_check_fetch_access(self):
        if not self.env.user.has_group('account.group_account_invoice'):
            raise AccessError(_("Only accountants (Billing or above) can fetch invoices from KSeF."))

    @api.model
    def _l10n_pl_ksef_check_company_access(self, company):
        if company not in self.env.user.company_ids:
            raise AccessError(_("You have no access to the company %s.", company.sudo().name))

    @api.model
    def _l10n_pl_ksef_fetch_now(self, company, syncs=None, seconds=60, then=None):
        """Run the company's syncs at once (as far as KSeF's limits allow now); a notification with the counts,
        followed by the action ``then`` (default: close the dialog it was asked from)."""
        self._l10n_pl_ksef_check_fetch_access()
        self._l10n_pl_ksef_check_company_access(company)
        company = company.sudo()
        if not company._l10n_pl_ksef_is_configured():
            raise UserError(_("Connect %s to KSeF first (Settings, KSeF).", company.name))
        company._l10n_pl_ksef_ensure_syncs()
        syncs = (syncs or self.sudo().search([('company_id', '=', company.id)])).sudo()
        syncs.filtered(lambda s: s.active or s.range_next).write({'next_run': False})
        documents = self.sudo()._l10n_pl_ksef_receive_company(company, time.monotonic() + seconds)
        at = self.sudo()._l10n_pl_ksef_plan_next_run()
        return self._l10n_pl_ksef_fetch_notification(company, documents, syncs, at, then)

    def _l10n_pl_ksef_fetch_notification(self, company, documents, syncs, at, then=None):
        errors = documents.filtered(lambda d: d.state == 'error')
        parts = [_("%(count)s new invoices received from KSeF for %(company)s.", count=len(documents),
                   company=company.name)]
        if errors:
            parts.append(_("%s of them cannot be read: see Received from KSeF, filter Error.", len(errors)))
        failed = syncs.filtered('last_error')
        if failed:
            parts.append(_("KSeF: %s", failed[0].last_error))
        now = fields.Datetime.now()
        pending = syncs.filtered(lambda s: s.range_next or (s.active and (not s.next_run or s.next_run <= now)))
        if pending and at:
            parts.append(_("More is waiting: KSeF allows 20 exports an hour, so the rest is fetched unattended "
                           "(next at %s UTC).", fields.Datetime.to_string(at)))
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'type': 'warning' if failed or errors else 'success', 'title': _("Fetch from KSeF"),
            'message': ' '.join(parts), 'sticky': bool(failed),
            'next': then or {'type': 'ir.actions.act_window_close'}}}

    def _l10n_pl_ksef_request_period(self, date_from, date_to):
        """Queue the period [date_from, date_to] (dates, Warsaw days) for this sync, joined with what is still
        pending (the union is fetched; duplicates are dropped by KSeF number)."""
        self.ensure_one()
        start, end = _warsaw_midnight(date_from), _warsaw_midnight(date_to + datetime.timedelta(days=1))
        if self.range_next:
            start, end = min(start, _moment(self.range_next)), max(end, _moment(self.range_end))
        self.write({'range_next': _iso(start), 'range_end': _iso(end), 'next_run': False})


def _utcnow_naive():
    """UTC now with microseconds (the export budget's one-second window needs them)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment if isinstance(moment, str) else moment.isoformat()


def _moment(text):
    moment = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    return moment if moment.tzinfo else WARSAW.localize(moment)


def _warsaw_midnight(day):
    return WARSAW.localize(datetime.datetime.combine(day, datetime.time())).astimezone(datetime.timezone.utc)


def _default_backfill_start(today=None):
    """The first day of the previous month."""
    first = (today or fields.Date.today()).replace(day=1)
    return (first - datetime.timedelta(days=1)).replace(day=1)
