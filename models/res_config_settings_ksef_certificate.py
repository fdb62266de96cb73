from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_offline_certificate_id = fields.Many2one(
        related='company_id.l10n_pl_ksef_offline_certificate_id', readonly=False, groups='base.group_system')

    def action_l10n_pl_ksef_open_certificates(self):
        return self.env['l10n_pl_ksef.certificate.wizard']._l10n_pl_ksef_open(self.company_id)
