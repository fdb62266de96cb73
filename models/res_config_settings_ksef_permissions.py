from odoo import models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    def action_l10n_pl_ksef_open_permissions(self):
        """Who holds which KSeF permissions in the company's context, loaded live from KSeF."""
        return self.env['l10n_pl_ksef.permission.wizard']._l10n_pl_ksef_open(self.company_id)
