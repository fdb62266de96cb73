from odoo import _, api, models
from odoo.exceptions import UserError

EDI_KEY = 'l10n_pl_ksef'


class AccountMoveSend(models.AbstractModel):
    _inherit = 'account.move.send'

    @api.model
    def _get_all_extra_edis(self) -> dict:
        # EXTENDS 'account'
        extra_edis = super()._get_all_extra_edis()
        extra_edis[EDI_KEY] = {
            'label': _("Send to KSeF"),
            'is_applicable': self._l10n_pl_ksef_is_applicable,
            'help': _("Send the FA(3) invoice to KSeF, the Polish national e-invoicing system."),
        }
        return extra_edis

    @api.model
    def _get_default_sending_settings(self, move, from_cron=False, **custom_settings):
        # EXTENDS 'account': the batch wizard's cron reads the extra EDIs from sending_data, where the wizard
        # records none; KSeF must not be skipped there
        settings = super()._get_default_sending_settings(move, from_cron=from_cron, **custom_settings)
        chosen = custom_settings.get('extra_edis', (move.sending_data or {}).get('extra_edis') if from_cron else None)
        if from_cron and chosen is None and self._l10n_pl_ksef_is_applicable(move):
            settings['extra_edis'] = set(settings['extra_edis'] or ()) | {EDI_KEY}
        return settings

    @api.model
    def _l10n_pl_ksef_is_applicable(self, move):
        """On by default for the invoices of Polish companies connected to KSeF that KSeF does not hold yet."""
        move = move._origin
        return bool(move._l10n_pl_ksef_to_send()) and move.company_id._l10n_pl_ksef_is_configured() \
            and move._l10n_pl_ksef_obligations()[move][0]

    @api.model
    def _get_alerts(self, moves, moves_data):
        # EXTENDS 'account'
        alerts = super()._get_alerts(moves, moves_data)
        polish = moves.filtered('l10n_pl_ksef_applicable')
        if not polish:
            return alerts
        sending_to_ksef = any(EDI_KEY in moves_data[move].get('extra_edis', ()) for move in polish)
        alerts.update(self._l10n_pl_ksef_required_alerts(polish, moves_data))
        for key, alert in polish._l10n_pl_ksef_check_invoices().items():
            if not sending_to_ksef:
                # KSeF is not part of this sending: tell, but never block an e-mail or a print
                alert = dict(alert, level='warning' if alert['level'] == 'danger' else alert['level'])
            alerts[key] = alert
        return alerts

    @api.model
    def _l10n_pl_ksef_required_alerts(self, moves, moves_data):
        """Invoices the law requires in KSeF, being sent without it: blocking where the company is connected
        (unticking KSeF can only be a mistake), a warning otherwise."""
        skipped = moves.filtered(lambda m: EDI_KEY not in moves_data[m].get('extra_edis', ())
                                 and m._origin._l10n_pl_ksef_to_send())._origin
        if not skipped:
            return {}
        obligations = skipped._l10n_pl_ksef_obligations()
        required = skipped.filtered(lambda m: obligations[m][0])
        if not required:
            return {}
        connected = required.filtered(lambda m: m.company_id._l10n_pl_ksef_is_configured())
        return {'l10n_pl_ksef_required': {
            'level': 'danger' if connected else 'warning',
            'message': _("These invoices must be issued in KSeF before they are delivered: %s. Tick \"Send to "
                         "KSeF\".", ', '.join(required.mapped('name'))),
            'action_text': _("View invoices"), 'action': required._get_records_action(name=_("Invoices for KSeF")),
        }}

    @api.model
    def _call_web_service_before_invoice_pdf_render(self, invoices_data):
        # EXTENDS 'account': KSeF first, so the PDF can carry the KSeF number; never raises (the batch wizard runs
        # this in a cron): problems become the invoice's error, shown or posted in the chatter by account
        super()._call_web_service_before_invoice_pdf_render(invoices_data)
        moves = self.env['account.move'].browse(
            [move.id for move, data in invoices_data.items() if EDI_KEY in data.get('extra_edis', ())])
        moves = moves._l10n_pl_ksef_to_send()
        if not moves:
            return
        try:
            documents, problems = moves._l10n_pl_ksef_send_now()
        except UserError as error:   # e.g. no FA(3) schema on the server: nothing was queued
            documents, problems = self.env['l10n_pl_ksef.document'], {move: [error.args[0]] for move in moves}
        for move, messages in problems.items():
            invoices_data[move]['error'] = {'error_title': _("Not sent to KSeF:"), 'errors': [str(m) for m in messages]}
        for document in documents.filtered(lambda d: d.state == 'rejected'):
            invoices_data[document.move_id]['error'] = {
                'error_title': _("KSeF rejected the invoice:"), 'errors': (document.message or '').splitlines()}
