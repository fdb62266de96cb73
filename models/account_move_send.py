from odoo import api, models

EDI_KEY = 'l10n_pl_ksef'


class AccountMoveSend(models.AbstractModel):
    _inherit = 'account.move.send'

    @api.model
    def _get_alerts(self, moves, moves_data):
        # EXTENDS 'account'
        alerts = super()._get_alerts(moves, moves_data)
        polish = moves.filtered('l10n_pl_ksef_applicable')
        if not polish:
            return alerts
        sending_to_ksef = any(EDI_KEY in moves_data[move].get('extra_edis', ()) for move in polish)
        for key, alert in polish._l10n_pl_ksef_check_invoices().items():
            if not sending_to_ksef:
                # KSeF is not part of this sending: tell, but never block an e-mail or a print
                alert = dict(alert, level='warning' if alert['level'] == 'danger' else alert['level'])
            alerts[key] = alert
        return alerts
