"""Sending frozen FA(3) documents to KSeF and following them to their outcome.

Rules that make it safe: documents are locked (SKIP LOCKED) and marked ``sending`` before any HTTP call and the
mark is committed; every reference KSeF gives is committed at once; an unknown outcome (timeout, crash) leaves the
document ``sending`` until the session's invoice list says, by the frozen hash, whether KSeF holds it. Nothing is
ever sent twice: a document goes back to ``to_send`` only when KSeF certainly does not hold it."""
import datetime
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..ksef.errors import (AuthenticationError, KsefApiError, KsefError, PermissionDeniedError, RateLimitError,
                           UnavailableError, UnknownOutcomeError)
from .ksef_time import odoo_datetime

_logger = logging.getLogger(__name__)

PROCESSING = (100, 150)
RESEND = (405, 500, 550)          # cancelled by KSeF (session error, unknown, system): the same file may go again
UNAVAILABLE_RETRY = datetime.timedelta(minutes=5)
LOGIN_RETRY = datetime.timedelta(hours=1)
RECONCILE_AFTER = datetime.timedelta(minutes=2)   # a 'sending' document older than this lost its worker
BATCH_LEFT_AFTER = datetime.timedelta(minutes=30)  # a batch session still open this long after sending: closed
SESSION_NOT_OPEN = '21180'                         # KSeF: the session's status does not allow this
STATUS_POLL = datetime.timedelta(seconds=20)
SESSION_MAX = 10_000                              # invoices KSeF takes in one session


class L10nPlKsefDocument(models.Model):
    _inherit = 'l10n_pl_ksef.document'

    # --- sending -------------------------------------------------------------------------------------

    def _l10n_pl_ksef_send(self):
        """Send the documents of one company that are still to send; the caller committed them."""
        company = self.company_id
        company.ensure_one()
        documents = self._l10n_pl_ksef_lock(['to_send'])
        if not documents:
            return documents
        documents.write({'state': 'sending', 'sent_at': fields.Datetime.now(), 'retry_at': False,
                         'session_reference': False, 'invoice_reference': False, 'outcome_unknown': False})
        self.env.cr.execute("UPDATE l10n_pl_ksef_document SET attempts = attempts + 1 WHERE id IN %s",
                            (tuple(documents.ids),))
        documents.invalidate_recordset(['attempts'])
        self._l10n_pl_ksef_commit()   # the row locks end here; the state 'sending' keeps other workers away
        logged_in = False
        try:
            client = company._l10n_pl_ksef_client()
            tokens = company.sudo()._l10n_pl_ksef_tokens(client)
            logged_in = True
            # technical corrections name the file they replace: only an online session carries that
            corrections = documents.filtered('corrected_hash')
            regular = documents - corrections
            if len(regular) > company.l10n_pl_ksef_batch_threshold:
                # offlineMode is declared for a whole batch session: one session per kind
                for issued_offline in (False, True):
                    group = regular.filtered(lambda d: d.offline == issued_offline)
                    if group:
                        group._l10n_pl_ksef_send_batch(client, tokens)
            else:
                corrections |= regular
            if corrections:
                corrections._l10n_pl_ksef_send_online(client, tokens)
        except AuthenticationError as error:
            if not logged_in:
                self._l10n_pl_ksef_login_failed(company, error, documents)
            else:
                # the login was fine but KSeF ended its session early (a cached access token refused): the
                # next attempt logs in again; nothing for the administrator to fix
                company._l10n_pl_ksef_forget_access()
                documents._l10n_pl_ksef_not_sent(UNAVAILABLE_RETRY, _(
                    "KSeF ended the login session (%s); sent again with a new login.", _error_text(error)))
        except UserError as error:
            self._l10n_pl_ksef_login_failed(company, error, documents)
        except PermissionDeniedError as error:
            # KSeF is there and the login works, but it may not issue invoices: only an administrator can fix it
            message = _("KSeF refused: the login may not issue invoices in this context (it needs the InvoiceWrite "
                        "permission, e.g. a KSeF token with \"Issue invoices\"): %s", _error_text(error))
            documents._l10n_pl_ksef_not_sent(LOGIN_RETRY, message)
            company._l10n_pl_ksef_ask_admin(_("KSeF refused to take invoices"), message,
                                            fields.Date.context_today(self))
            company._l10n_pl_ksef_reached(True)
        except RateLimitError as error:
            documents._l10n_pl_ksef_not_sent(datetime.timedelta(seconds=error.retry_after), _(
                "KSeF asked to wait %s seconds (rate limit); sending resumes then.", round(error.retry_after)))
        except UnknownOutcomeError as error:
            # whatever may have reached KSeF stays 'sending' for the status job to reconcile by its hash
            documents._l10n_pl_ksef_not_sent(UNAVAILABLE_RETRY, _("No answer from KSeF: %s", _error_text(error)))
        except (UnavailableError, KsefError) as error:
            documents._l10n_pl_ksef_not_sent(UNAVAILABLE_RETRY, _("KSeF is unavailable: %s", _error_text(error)))
            company._l10n_pl_ksef_reached(not isinstance(error, UnavailableError))
        else:
            company._l10n_pl_ksef_reached(True)
        self._l10n_pl_ksef_commit()
        return documents

    def _l10n_pl_ksef_login_failed(self, company, error, documents):
        message = _("KSeF login failed: %s", _error_text(error))
        documents._l10n_pl_ksef_not_sent(LOGIN_RETRY, message)
        # nobody may be watching (scheduled action): the administrator is asked to fix the connection
        company._l10n_pl_ksef_ask_admin(_("KSeF login failed"), message, fields.Date.context_today(self))

    def _l10n_pl_ksef_not_sent(self, delay, message):
        """Back to the queue the documents KSeF certainly did not receive (no invoice reference, and no batch
        session that may hold them), to be retried after ``delay``."""
        waiting = self.filtered(lambda d: d.state == 'sending' and not d.invoice_reference and not d.outcome_unknown
                                and not (d.session_type == 'batch' and d.session_reference))
        waiting.write({'state': 'to_send', 'retry_at': fields.Datetime.now() + delay, 'message': message,
                       'session_reference': False, 'session_type': False})
        return waiting

    def _l10n_pl_ksef_send_online(self, client, tokens):
        session = client.open_online_session(tokens)
        self.write({'session_type': 'online', 'session_reference': session.reference_number})
        self._l10n_pl_ksef_commit()
        try:
            for document in self:
                document._l10n_pl_ksef_send_one(client, tokens, session)
        finally:
            try:
                client.close_online_session(tokens, session.reference_number)
            except KsefError as error:   # the session also closes by itself after 12 hours
                _logger.info("KSeF online session %s not closed: %s", session.reference_number, error)

    def _l10n_pl_ksef_send_one(self, client, tokens, session):
        try:
            sent = client.send_invoice(tokens, session, self._l10n_pl_ksef_xml(), offline=self.offline,
                                       hash_of_corrected=self.corrected_hash or None)
        except UnknownOutcomeError:
            _logger.warning("KSeF document %s: no answer to the sending; reconciled later by its hash", self.id)
            self.outcome_unknown = True
        except KsefApiError as error:
            if isinstance(error, (RateLimitError, UnavailableError, AuthenticationError)):
                raise   # nothing of this document reached KSeF; the caller requeues the rest
            self._l10n_pl_ksef_rejected(error.code or error.status, _error_text(error))
        else:
            self.write({'state': 'sent', 'invoice_reference': sent.reference_number})
        self._l10n_pl_ksef_commit()

    def _l10n_pl_ksef_send_batch(self, client, tokens):
        def remember(reference):
            self.write({'session_type': 'batch', 'session_reference': reference})
            self._l10n_pl_ksef_commit()
        files = ((document._l10n_pl_ksef_batch_name(), document._l10n_pl_ksef_xml()) for document in self)
        try:
            client.send_batch(tokens, files, on_open=remember, offline=self[:1].offline)
        except UnknownOutcomeError:
            raise
        except KsefApiError as error:
            if not self[:1].session_reference or isinstance(error, (RateLimitError, UnavailableError)):
                raise
            if str(error.code) == SESSION_NOT_OPEN:
                # closed meanwhile by the status job (this worker took longer than BATCH_LEFT_AFTER): KSeF may
                # have processed it; the status job reads its list before anything is sent again
                return
            if isinstance(error, AuthenticationError):
                # KSeF ended the login mid-upload: the session, never closed, processes nothing, so the documents
                # are free again; the caller forgets the login and queues them as for any ended login
                self.write({'session_reference': False, 'session_type': False})
                raise
            # the session was opened but KSeF refused the upload or the close: it processes none of them
            self.write({'state': 'to_send', 'retry_at': fields.Datetime.now() + UNAVAILABLE_RETRY,
                        'session_reference': False, 'session_type': False,
                        'message': _("KSeF refused the batch: %s", _error_text(error))})
            return
        self._l10n_pl_ksef_batch_closed(self[:1].session_reference)

    def _l10n_pl_ksef_batch_closed(self, reference):
        """KSeF took the closed batch: its documents wait for their outcome. Only those still as this worker
        left them: a status job may have followed them meanwhile (this worker took long), and what it wrote stays."""
        self._l10n_pl_ksef_commit()   # a new snapshot, which sees what the status job committed
        mine = self._l10n_pl_ksef_lock(['sending']).filtered(lambda d: d.session_reference == reference)
        mine.write({'state': 'sent'})

    def _l10n_pl_ksef_batch_name(self):
        return f'{self.id}.xml'

    # --- following up ----------------------------------------------------------------------------------

    def _l10n_pl_ksef_update_status(self):
        """Ask KSeF about the documents of one company that wait for an outcome, per session."""
        company = self.company_id
        company.ensure_one()
        client = company._l10n_pl_ksef_client()
        tokens = company.sudo()._l10n_pl_ksef_tokens(client)
        self.filtered(lambda d: d.state == 'sending' and not d.session_reference)._l10n_pl_ksef_not_sent(
            datetime.timedelta(0), _("The sending was interrupted before KSeF received anything; it is sent again."))
        for reference in set(self.mapped('session_reference')) - {False}:
            documents = self.filtered(lambda d: d.session_reference == reference)._l10n_pl_ksef_lock(['sent', 'sending'])
            if documents:
                documents._l10n_pl_ksef_update_session_status(client, tokens, reference)
                self._l10n_pl_ksef_commit()

    def _l10n_pl_ksef_update_session_status(self, client, tokens, reference):
        if len(self) <= 3 and all(self.mapped('invoice_reference')):
            statuses = {d: client.invoice_status(tokens, reference, d.invoice_reference) for d in self}
        else:
            by_hash = {item['invoiceHash']: item for item in client.session_invoices(tokens, reference)}
            statuses = {d: by_hash.get(d.xml_hash) for d in self}
        missing = self.filtered(lambda d: not statuses[d])
        if missing:
            missing._l10n_pl_ksef_reconcile_missing(client, tokens, reference)
        for document, status in statuses.items():
            if status:
                document._l10n_pl_ksef_apply_status(client, tokens, status)

    def _l10n_pl_ksef_reconcile_missing(self, client, tokens, reference):
        """Documents KSeF does not list in their session. Sent again only once the session can no longer
        receive them (closed, cancelled or processed); until then they wait."""
        session = client.session_status(tokens, reference)
        code = session['status']['code']
        if code == 100 and self[:1].session_type == 'online':
            try:
                client.close_online_session(tokens, reference)
            except KsefError:
                return
            code = client.session_status(tokens, reference)['status']['code']
        elif code == 100 and self._l10n_pl_ksef_batch_left_open():
            # closed: KSeF processes what its worker uploaded. Refused: a part is missing (KSeF cancels it when
            # its upload window ends), or its worker closed it a moment ago. Either way the next run reads the
            # session's list and status first; nothing is sent again on what this run saw
            self._l10n_pl_ksef_close_left_batch(client, tokens, reference)
            return
        if code in (100, 150, 170):
            return   # still open or processing: its list is not final yet
        if any(self.mapped('invoice_reference')) and code == 200:
            return   # KSeF gave a reference, so it holds the invoice: the list will show it
        lost = self
        if code == 200:
            # the list this run read may predate the session's close (its worker closed it just then): read again
            # now that it is final; what it shows is applied by the next run
            listed = {item['invoiceHash'] for item in client.session_invoices(tokens, reference)}
            lost = self.filtered(lambda d: d.xml_hash not in listed)
        lost.write({'state': 'to_send', 'session_reference': False, 'session_type': False, 'invoice_reference': False,
                    'outcome_unknown': False, 'retry_at': False, 'message': _("KSeF did not receive this invoice (session %(session)s ended with "
                                                    "status %(code)s); it is sent again.", session=reference, code=code)})

    def _l10n_pl_ksef_batch_left_open(self):
        """A batch session whose worker died before closing it (no live upload takes this long)."""
        stale = fields.Datetime.now() - BATCH_LEFT_AFTER
        return self[:1].session_type == 'batch' and all(d.state == 'sending' and d.sent_at and d.sent_at < stale
                                                          for d in self)

    def _l10n_pl_ksef_close_left_batch(self, client, tokens, reference):
        """Close a batch session left open, instead of waiting 12 hours for KSeF to cancel it: KSeF processes it
        when every part was uploaded, or cancels it once its upload window is over (then its invoices go again)."""
        try:
            client.close_batch_session(tokens, reference)
        except KsefApiError as error:
            # a part is missing while the upload window lasts (21205): it is closed, or cancelled, by a later run
            _logger.info("KSeF batch session %s left open, not closed yet: %s", reference, _error_text(error))
            return
        self.write({'message': _("The batch session %s was left open by an interrupted sending; Odoo closed it.",
                                 reference)})

    def _l10n_pl_ksef_apply_status(self, client, tokens, status):
        code = status['status']['code']
        if not self.invoice_reference and status.get('referenceNumber'):
            self.write({'invoice_reference': status['referenceNumber'], 'outcome_unknown': False})
        if code in PROCESSING:
            if self.state == 'sending':
                self.state = 'sent'
        elif code == 200:
            self._l10n_pl_ksef_accepted(client, tokens, status)
        elif code == 440:
            self._l10n_pl_ksef_duplicate(status)
        elif code in RESEND:
            self.write({'state': 'to_send', 'session_reference': False, 'session_type': False,
                        'invoice_reference': False, 'retry_at': fields.Datetime.now() + UNAVAILABLE_RETRY,
                        'status_code': code, 'message': _status_text(status)})
        else:
            self._l10n_pl_ksef_rejected(code, _status_text(status))

    def _l10n_pl_ksef_accepted(self, client, tokens, status):
        upo = False
        try:
            if status.get('upoDownloadUrl'):
                # KSeF's storage link: no access token, and not counted against the API rate limits
                upo = client.download_link(status['upoDownloadUrl'])
            else:
                upo = client.invoice_upo(tokens, self.session_reference, self.invoice_reference)
        except KsefError as error:   # the UPO can be downloaded later ("Download UPO")
            _logger.info("KSeF document %s: UPO not available yet: %s", self.id, error)
        self.write({
            'state': 'accepted', 'status_code': 200, 'message': False, 'retry_at': False,
            'ksef_number': status['ksefNumber'], 'acquisition_date': odoo_datetime(status.get('acquisitionDate')),
            'permanent_storage_date': odoo_datetime(status.get('permanentStorageDate')),
            'invoicing_mode': (status.get('invoicingMode') or 'Online').lower(),
        })
        if upo:
            self._l10n_pl_ksef_attach_upo(upo)
        if self.move_id:   # the invoice may have been deleted as a draft meanwhile: the document is the record
            self.move_id._l10n_pl_ksef_accepted(self)

    def _l10n_pl_ksef_attach_upo(self, upo):
        self.upo_attachment_id = self.env['ir.attachment'].create({
            'name': f'UPO_{self.ksef_number}.xml', 'raw': upo, 'mimetype': 'application/xml',
            'res_model': 'account.move' if self.move_id else self._name, 'res_id': self.move_id.id or self.id,
            'company_id': self.company_id.id})

    def _l10n_pl_ksef_duplicate(self, status):
        extensions = status['status'].get('extensions') or {}
        number = extensions.get('originalKsefNumber')
        if not number:
            self._l10n_pl_ksef_rejected(440, _status_text(status))
            return
        self.write({'state': 'accepted', 'status_code': 440, 'ksef_number': number, 'retry_at': False,
                    'message': _("KSeF already holds this invoice as %(number)s (session %(session)s): that number is "
                                 "kept.", number=number, session=extensions.get('originalSessionReferenceNumber'))})
        if self.move_id:   # the invoice may have been deleted as a draft meanwhile: the document is the record
            self.move_id._l10n_pl_ksef_accepted(self)

    def _l10n_pl_ksef_rejected(self, code, message):
        self.write({'state': 'rejected', 'status_code': code or 0, 'message': message, 'retry_at': False})
        if self.move_id:
            self.move_id._l10n_pl_ksef_rejected(self)

    def action_l10n_pl_ksef_download_upo(self):
        """The UPO of an accepted invoice, downloaded from KSeF when it was not yet kept."""
        self.ensure_one()
        if self.state != 'accepted' or not self.invoice_reference:
            raise UserError(_("KSeF issues a UPO only for an invoice it accepted in a session of ours."))
        if not self.upo_attachment_id:
            upo = self.company_id._l10n_pl_ksef_run(
                lambda client, tokens: client.invoice_upo(tokens, self.session_reference, self.invoice_reference))
            self.sudo()._l10n_pl_ksef_attach_upo(upo)
        return {'type': 'ir.actions.act_url', 'url': f'/web/content/{self.upo_attachment_id.id}?download=true',
                'target': 'download'}

    # --- scheduled actions ---------------------------------------------------------------------------

    @api.model
    def _cron_l10n_pl_ksef_send(self):
        """Send every queued document whose retry time has come, per company; come back when KSeF said so."""
        now = fields.Datetime.now()
        queued = self.search([('direction', '=', 'out'), ('state', '=', 'to_send'),
                              '|', ('retry_at', '=', False), ('retry_at', '<=', now)], order='id', limit=SESSION_MAX)
        for company in queued.company_id:
            queued.filtered(lambda d: d.company_id == company).with_company(company)._l10n_pl_ksef_send()
        self._l10n_pl_ksef_plan_next_runs()

    @api.model
    def _cron_l10n_pl_ksef_update_status(self):
        """Follow every document waiting for KSeF (and reconcile those whose sender was lost)."""
        waiting = self.search([('direction', '=', 'out'), '|', ('state', '=', 'sent'), '&', ('state', '=', 'sending'),
                               ('sent_at', '<', fields.Datetime.now() - RECONCILE_AFTER)])
        for company in waiting.company_id:
            try:
                waiting.filtered(lambda d: d.company_id == company).with_company(company)._l10n_pl_ksef_update_status()
            except (UserError, KsefError) as error:
                if isinstance(error, AuthenticationError):   # KSeF ended the cached login: the next run logs in
                    company._l10n_pl_ksef_forget_access()
                _logger.warning("KSeF status of company %s not updated: %s", company.name, _error_text(error))
            self._l10n_pl_ksef_commit()
        self._l10n_pl_ksef_plan_next_runs()

    @api.model
    def _cron_l10n_pl_ksef_deadline_reminders(self):
        """A to-do for whoever is responsible for each offline invoice still not in KSeF the day before its
        deadline (and once it is past)."""
        tomorrow = fields.Date.context_today(self) + datetime.timedelta(days=1)
        due = self.search([('direction', '=', 'out'), ('offline', '=', True), ('deadline', '<=', tomorrow),
                           ('state', 'in', ('to_send', 'sending', 'rejected'))])
        for document in due:
            move = document.move_id
            summary = _("Send to KSeF by %s", fields.Date.to_string(document.deadline))
            if not move or move.activity_ids.filtered(lambda activity: activity.summary == summary):
                continue
            move.activity_schedule('mail.mail_activity_data_todo', date_deadline=document.deadline, summary=summary,
                                   note=document.message or _("Issued offline and not yet accepted by KSeF."),
                                   user_id=(move.invoice_user_id or move.company_id._l10n_pl_ksef_admins()).id)

    @api.model
    def _l10n_pl_ksef_plan_next_runs(self):
        """Re-trigger the sender at the earliest retry time and the status job while anything is pending."""
        next_retry = self.search([('direction', '=', 'out'), ('state', '=', 'to_send')], order='retry_at asc', limit=1)
        if next_retry:
            self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_send')._trigger(at=next_retry.retry_at or fields.Datetime.now())
        if self.search_count([('direction', '=', 'out'), ('state', 'in', ('sending', 'sent'))], limit=1):
            self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_update_status')._trigger(
                at=fields.Datetime.now() + STATUS_POLL)

    @api.model
    def _l10n_pl_ksef_commit(self):
        if self.env['account.move.send']._can_commit():
            self.env.cr.commit()




def _status_text(status):
    details = status['status'].get('details') or []
    description = status['status'].get('description') or ''
    return '\n'.join([f"{status['status']['code']}: {description}"] + [f'- {detail}' for detail in details])


def _error_text(error):
    return error.args[0] if isinstance(error, UserError) else str(error)
