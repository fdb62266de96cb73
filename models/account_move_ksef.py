"""An invoice's life in KSeF: queued as a frozen FA(3) document, sent, accepted with its KSeF number and UPO or
rejected with the reason; the summary state, the banner, the buttons, and the lock on what KSeF holds."""
import datetime
import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date

from ..ksef import fa3
from .fa3_messages import FA3_ELEMENT_FIELDS
from .res_company_ksef_sending import SMALL_VALUE_LIMIT, SMALL_VALUE_UNTIL

# Summary of the invoice's latest outbound KSeF document (documents hold the detail and the history):
#   (none) --Send--> to_send --> sending/sent --> accepted
#                                   |                 (no way back: changes go through a credit note, KOR)
#                                   +--> rejected --(fix, Send)--> to_send ...
KSEF_STATES = [('to_send', 'To send'), ('sent', 'Sent'), ('accepted', 'Accepted'), ('rejected', 'Rejected')]
DOCUMENT_TO_MOVE_STATE = {'to_send': 'to_send', 'sending': 'sent', 'sent': 'sent', 'accepted': 'accepted',
                          'rejected': 'rejected'}
# what KSeF holds of an accepted invoice: never changed in Odoo once it is there
KSEF_HELD_FIELDS = {'partner_id', 'invoice_date', 'invoice_date_due', 'currency_id', 'invoice_line_ids', 'name',
                    'l10n_pl_ksef_third_party_ids', 'invoice_payment_term_id', 'delivery_date', 'partner_bank_id',
                    'journal_id', 'move_type'}


class AccountMove(models.Model):
    _inherit = 'account.move'

    l10n_pl_ksef_document_ids = fields.One2many(
        'l10n_pl_ksef.document', 'move_id', string="KSeF attempts", domain=[('direction', '=', 'out')], copy=False)
    l10n_pl_ksef_state = fields.Selection(
        KSEF_STATES, string="KSeF", compute='_compute_l10n_pl_ksef_state', store=True, tracking=True, copy=False,
        index='btree_not_null', help="Where the invoice stands in KSeF, from its latest attempt.")
    l10n_pl_ksef_acquisition_date = fields.Datetime(
        string="KSeF acquisition date", copy=False, readonly=True,
        help="When KSeF assigned the KSeF number: for KSeF, the date the invoice was issued.")
    l10n_pl_ksef_deadline = fields.Date(
        string="Send to KSeF by", compute='_compute_l10n_pl_ksef_state', store=True, copy=False,
        help="The last day the law allows to send the invoice to KSeF (offline modes).")
    l10n_pl_ksef_message = fields.Text(compute='_compute_l10n_pl_ksef_message', string="KSeF message")
    l10n_pl_ksef_upo_id = fields.Many2one('ir.attachment', compute='_compute_l10n_pl_ksef_upo_id', string="UPO")
    l10n_pl_ksef_obligation_note = fields.Char(
        string="KSeF obligation", compute='_compute_l10n_pl_ksef_obligation_note',
        help="Whether the law requires this invoice to be issued in KSeF, and why.")

    @api.depends('invoice_date', 'state', 'partner_id', 'amount_total')
    def _compute_l10n_pl_ksef_obligation_note(self):
        concerned = self.filtered(lambda m: m.state == 'posted' and m.l10n_pl_ksef_applicable and m.id)
        obligations = concerned._l10n_pl_ksef_obligations() if concerned else {}
        for move in self:
            required, reason = obligations.get(move, (True, False))
            move.l10n_pl_ksef_obligation_note = reason or (
                _("Must be issued in KSeF.") if move in obligations and required else False)

    def _l10n_pl_ksef_latest_document(self):
        """The invoice's latest attempt that counts (a cancelled one was withdrawn before it left)."""
        self.ensure_one()
        return self.l10n_pl_ksef_document_ids.filtered(lambda d: d.state != 'cancelled').sorted('id')[-1:]

    @api.depends('l10n_pl_ksef_document_ids.state', 'l10n_pl_ksef_document_ids.deadline')
    def _compute_l10n_pl_ksef_state(self):
        for move in self:
            latest = move._l10n_pl_ksef_latest_document()
            move.l10n_pl_ksef_state = DOCUMENT_TO_MOVE_STATE.get(latest.state, False)
            move.l10n_pl_ksef_deadline = latest.deadline if latest.offline and latest.state != 'accepted' else False

    @api.depends('l10n_pl_ksef_document_ids.upo_attachment_id')
    def _compute_l10n_pl_ksef_upo_id(self):
        for move in self:
            accepted = move.l10n_pl_ksef_document_ids.filtered(lambda d: d.state == 'accepted')
            move.l10n_pl_ksef_upo_id = accepted.sorted('id')[-1:].upo_attachment_id

    @api.depends_context('lang')
    @api.depends('l10n_pl_ksef_document_ids.state', 'l10n_pl_ksef_document_ids.message')
    def _compute_l10n_pl_ksef_message(self):
        for move in self:
            latest = move._l10n_pl_ksef_latest_document()
            message = latest.message if latest.state in ('to_send', 'rejected') else False
            if message and latest.state == 'rejected':
                message = move._l10n_pl_ksef_with_field_hints(message)
            move.l10n_pl_ksef_message = message

    def _l10n_pl_ksef_with_field_hints(self, message):
        """KSeF's rejection, followed by the invoice fields its FA(3) element names point to."""
        names = re.findall(r'(?:}|\b)(P_\w+|[A-Z][A-Za-z]+(?:UE|ID|RB)?)\b', message)
        labels = [FA3_ELEMENT_FIELDS.get(name) or FA3_ELEMENT_FIELDS.get(re.sub(r'(x|_[0-9]+)$', '', name))
                  for name in names]
        fields_named = list(dict.fromkeys(label._translate(self.env.lang) for label in labels if label))
        if not fields_named:
            return message
        return message + '\n' + _("Check on the invoice: %s", ', '.join(fields_named))

    # --- whether the law requires KSeF ----------------------------------------------------------------

    def _l10n_pl_ksef_obligations(self):
        """{move: (required, reason)}: must the invoice be issued in KSeF, and if not, why it may stay outside.
        The small-value exception of 2026 looks at the month's invoices in issue order (one query per month)."""
        result = {}
        running = self._l10n_pl_ksef_month_totals()
        for move in self:
            company = move.company_id
            if company.l10n_pl_ksef_mode == 'total_failure':
                result[move] = (False, _("A total failure of KSeF is announced: invoices are issued outside KSeF (on "
                                         "paper or in any electronic form) and need not be sent later."))
            elif move.invoice_date and company.l10n_pl_ksef_obligation_date \
                    and move.invoice_date < company.l10n_pl_ksef_obligation_date:
                result[move] = (False, _("KSeF is mandatory for the company from %s.",
                                         format_date(self.env, company.l10n_pl_ksef_obligation_date)))
            elif move._l10n_pl_ksef_is_consumer_invoice() and not company.l10n_pl_ksef_send_consumer_invoices:
                result[move] = (False, _("Invoices to consumers are not sent to KSeF by this company's choice."))
            elif move not in running:
                result[move] = (True, False)
            elif running[move] <= SMALL_VALUE_LIMIT:
                result[move] = (False, _("Small-value exception: the month's invoices total %s PLN gross, within "
                                         "the 10,000 PLN limit of 2026.", _pln(running[move])))
            else:
                result[move] = (True, _("The month's invoices passed 10,000 PLN gross (%s PLN): this invoice and every "
                                        "later one of the month must be issued in KSeF.", _pln(running[move])))
        return result

    def _l10n_pl_ksef_is_consumer_invoice(self):
        return not (self.commercial_partner_id.vat or '').strip()

    def _l10n_pl_ksef_month_totals(self):
        """{move: gross PLN of the company's invoices of the move's month up to and including it}, for the moves
        of companies using the small-value exception, dated in 2026."""
        # sales documented by invoices: credit notes stay in KSeF like the invoices they correct
        eligible = self.filtered(lambda m: m.company_id.l10n_pl_ksef_small_value_exception and m.invoice_date
                                 and m.invoice_date <= SMALL_VALUE_UNTIL and m.move_type == 'out_invoice')
        totals = {}
        for (company, month), moves in eligible.grouped(lambda m: (m.company_id, m.invoice_date.replace(day=1))).items():
            following = (month + datetime.timedelta(days=32)).replace(day=1)
            self.env.flush_all()
            # the running sum is computed by PostgreSQL over the month; only the rows of ``moves`` come back
            # (posting a few invoices must not read a month of a large issuer's invoices)
            self.env.cr.execute("""
                SELECT id, running FROM (
                    SELECT id, SUM(amount_total_signed) OVER (ORDER BY invoice_date, id) AS running
                      FROM account_move
                     WHERE company_id = %s AND state = 'posted' AND move_type = 'out_invoice'
                       AND invoice_date >= %s AND invoice_date < %s
                ) month WHERE id IN %s
            """, (company.id, month, following, tuple(moves.ids)))
            running = dict(self.env.cr.fetchall())
            for move in moves:
                totals[move] = float(running.get(move.id, 0.0))
        return totals

    # --- queueing --------------------------------------------------------------------------------------

    def _l10n_pl_ksef_to_send(self):
        """The invoices of ``self`` that must go to KSeF now: posted, Polish, not yet in KSeF nor on their way."""
        return self.filtered(lambda m: m.state == 'posted' and m.l10n_pl_ksef_applicable
                             and m.l10n_pl_ksef_state in (False, 'rejected'))

    def _l10n_pl_ksef_enqueue(self, commit=True):
        """Freeze the FA(3) file of every invoice ready for KSeF as a document to send, and commit it (unless
        the caller's transaction must stay whole, as when posting).
        Returns (documents, {move: [problems]}) — an invoice with problems stays out of the queue."""
        moves = self._l10n_pl_ksef_to_send()
        problems = moves._l10n_pl_ksef_blocking_problems()
        for move in moves.filtered(lambda m: m.company_id._l10n_pl_ksef_needs_offline_certificate()):
            problems.setdefault(move, []).append(move.company_id._l10n_pl_ksef_offline_certificate_problem())
        # a correction names the KSeF number of the invoice it corrects: it waits until KSeF has given it
        for move in moves.filtered(lambda m: m.reversed_entry_id.l10n_pl_ksef_state in ('to_send', 'sent')):
            problems.setdefault(move, []).append(_(
                "The corrected invoice %s is on its way to KSeF: this correction goes as soon as KSeF gives it its "
                "number.", move.reversed_entry_id.name))
        ready = moves.filtered(lambda m: m not in problems)
        created_at = fields.Datetime.now().replace(tzinfo=datetime.timezone.utc)
        frozen = []
        for move, invoice in ready._l10n_pl_ksef_get_fa3_invoices(created_at).items():
            errors = fa3.errors(move._l10n_pl_ksef_fa3_problems(invoice))
            if errors:
                problems[move] = [move._l10n_pl_ksef_format_problem(p).striptags() for p in errors]
                continue
            frozen.append((move, fa3.build(invoice)))
        documents = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbounds(frozen)
        if commit:
            documents._l10n_pl_ksef_commit()   # the outbox is durable before any network call
        return documents, problems

    def _l10n_pl_ksef_blocking_problems(self):
        """{move: [message]} of the checks that stop an invoice from being sent (collected as data). The checks
        run once for all; only when something blocks are they run per invoice, to tell which."""
        def blocking(moves):
            return [alert['message'] for alert in moves._l10n_pl_ksef_check_invoices().values()
                    if alert['level'] == 'danger']
        if not blocking(self):
            return {}
        return {move: messages for move in self if (messages := blocking(move))}

    def _l10n_pl_ksef_send_now(self):
        """Queue, send and ask once for the outcome: what a click on "Send to KSeF" does."""
        documents, problems = self._l10n_pl_ksef_enqueue()
        for company in documents.company_id:
            company_documents = documents.filtered(lambda d: d.company_id == company).with_company(company)
            company_documents._l10n_pl_ksef_send()
            sent = company_documents.filtered(lambda d: d.state in ('sent', 'sending'))
            if sent:
                try:
                    sent._l10n_pl_ksef_update_status()
                except UserError:
                    pass   # the status job follows up
        self.env['l10n_pl_ksef.document']._l10n_pl_ksef_plan_next_runs()
        return documents, problems

    def _post(self, soft=True):
        posted = super()._post(soft)
        automatic = posted.filtered(lambda m: m.company_id.l10n_pl_ksef_send_on_post)._l10n_pl_ksef_to_send()
        if automatic:
            obligations = automatic._l10n_pl_ksef_obligations()
            automatic = automatic.filtered(lambda m: obligations[m][0])
        if automatic:
            documents, problems = automatic._l10n_pl_ksef_enqueue(commit=False)
            for move, messages in problems.items():
                move.message_post(body=_("Not queued for KSeF, to fix first: %s", '; '.join(map(str, messages))))
            if documents:
                self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_send')._trigger()
        return posted

    # --- outcomes (called by the documents) ------------------------------------------------------------

    def _l10n_pl_ksef_accepted(self, document):
        self.ensure_one()
        # what KSeF assigned changes no journal item: skip the synchronisation of the lines (most of a write's cost)
        self.with_context(skip_invoice_sync=True).write({'l10n_pl_ksef_number': document.ksef_number,
                                                         'l10n_pl_ksef_acquisition_date': document.acquisition_date})
        if document.status_code == 440:
            body = _("KSeF already held this invoice: its KSeF number %s is kept (no second submission).",
                     document.ksef_number)
        else:
            body = _("Accepted by KSeF with number %(number)s (acquired %(date)s UTC).", number=document.ksef_number,
                     date=fields.Datetime.to_string(document.acquisition_date))
        attachments = document.attachment_id | document.upo_attachment_id
        # a logged note (no notification to compute: nobody is notified of a note): a third of the time of
        # following a 10,000-invoice batch to accepted went into message_post
        self._message_log(body=body, attachment_ids=attachments.ids)
        self._l10n_pl_ksef_release_corrections()

    def _l10n_pl_ksef_offline_values(self):
        """The offline mark of a new attempt: a technical correction of an offline file KSeF rejected for technical
        reasons keeps that file's mode and deadline and names its hash; otherwise the company's mode now."""
        self.ensure_one()
        rejected = self.l10n_pl_ksef_document_ids.filtered(
            lambda d: d.state == 'rejected' and d.offline and d.status_code != 410).sorted('id')[-1:]
        if rejected:
            return {'offline': True, 'offline_mode': rejected.offline_mode, 'deadline': rejected.deadline,
                    'corrected_hash': rejected.xml_hash}
        return self.company_id._l10n_pl_ksef_offline_values(self.invoice_date)

    def _l10n_pl_ksef_release_corrections(self):
        """The corrections that waited for this invoice's KSeF number go now (they are frozen with it)."""
        waiting = self.reversal_move_ids.filtered(lambda m: m.state == 'posted' and not m.l10n_pl_ksef_state)
        if waiting:
            documents, _problems = waiting._l10n_pl_ksef_enqueue(commit=False)
            if documents:
                self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_send')._trigger()

    def _l10n_pl_ksef_rejected(self, document):
        self.ensure_one()
        self.with_context(no_new_invoice=True).message_post(body=Markup("%s<br/>%s") % (
            _("KSeF rejected the invoice (code %s). Fix it and send it again:", document.status_code),
            Markup('<br/>').join(document.message.splitlines())))

    # --- actions --------------------------------------------------------------------------------------

    def action_l10n_pl_ksef_send(self):
        moves = self._l10n_pl_ksef_to_send()
        if not moves:
            raise UserError(_("Nothing to send: only posted invoices of Polish companies that KSeF does not hold yet "
                              "(or rejected) can be sent."))
        documents, problems = moves._l10n_pl_ksef_send_now()
        if problems and not documents:
            raise UserError(_("Nothing was sent to KSeF:\n%s", _problem_lines(problems)))
        return self._l10n_pl_ksef_outcome_notification(documents, problems)

    def _l10n_pl_ksef_outcome_notification(self, documents, problems):
        counts = {state: len(documents.filtered(lambda d, s=state: d.state == s)) for state in
                  ('accepted', 'sent', 'sending', 'to_send', 'rejected')}
        message = _("Accepted: %(accepted)s, waiting for KSeF: %(waiting)s, queued: %(queued)s, rejected: %(rejected)s.",
                    accepted=counts['accepted'], waiting=counts['sent'] + counts['sending'], queued=counts['to_send'],
                    rejected=counts['rejected'])
        if problems:
            message += '\n' + _("Not sent, to fix first:\n%s", _problem_lines(problems))
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'type': 'warning' if problems or counts['rejected'] else 'success', 'title': _("Sent to KSeF"),
            'message': message, 'sticky': bool(problems or counts['rejected']),
            'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    def action_l10n_pl_ksef_refresh_status(self):
        documents = self.l10n_pl_ksef_document_ids.filtered(lambda d: d.state in ('sent', 'sending'))
        for company in documents.company_id:
            documents.filtered(lambda d: d.company_id == company).with_company(company)._l10n_pl_ksef_update_status()
        return {'type': 'ir.actions.client', 'tag': 'soft_reload'}

    def action_l10n_pl_ksef_download_upo(self):
        self.ensure_one()
        document = self.l10n_pl_ksef_document_ids.filtered(lambda d: d.state == 'accepted')[:1]
        if not document:
            raise UserError(_("The invoice has no UPO: KSeF has not accepted it."))
        return document.action_l10n_pl_ksef_download_upo()

    # --- what KSeF holds stays as it is -----------------------------------------------------------------

    @api.depends('l10n_pl_ksef_state')
    def _compute_show_reset_to_draft_button(self):
        super()._compute_show_reset_to_draft_button()
        for move in self:
            if move.l10n_pl_ksef_state in ('accepted', 'sent'):
                move.show_reset_to_draft_button = False

    def button_draft(self):
        held = self.filtered(lambda m: m.l10n_pl_ksef_state in ('accepted', 'sent'))
        if held:
            raise UserError(_("%s is in KSeF (or on its way): it cannot go back to draft. Correct it with a credit "
                              "note (faktura korygująca).", ', '.join(held.mapped('name'))))
        # what was queued from the posted version must not leave: posting again queues the new version
        self.l10n_pl_ksef_document_ids.filtered(lambda d: d.state == 'to_send').write({'state': 'cancelled'})
        return super().button_draft()

    def write(self, vals):
        if KSEF_HELD_FIELDS & set(vals) and not self.env.context.get('l10n_pl_ksef_allow_held_change'):
            held = self.filtered(lambda m: m.l10n_pl_ksef_state == 'accepted')
            if held:
                raise UserError(_("%s is accepted by KSeF: what KSeF holds (parties, dates, lines, amounts) cannot "
                                  "change. Issue a credit note (faktura korygująca) instead.",
                                  ', '.join(held.mapped('name'))))
        return super().write(vals)


def _pln(amount):
    return f'{amount:,.2f}'


def _problem_lines(problems):
    return '\n'.join(f'- {move.name}: {"; ".join(str(m) for m in messages)}' for move, messages in problems.items())
