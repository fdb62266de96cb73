from odoo import models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    def action_l10n_pl_ksef_open_tokens(self):
        return self.env['l10n_pl_ksef.token.wizard']._l10n_pl_ksef_open(self.company_id)

    def action_l10n_pl_ksef_open_sessions(self):
        return self.env['l10n_pl_ksef.session.wizard']._l10n_pl_ksef_open(self.company_id)
