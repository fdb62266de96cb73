from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_cash_accounting = fields.Boolean(related='company_id.l10n_pl_ksef_cash_accounting', readonly=False)
    l10n_pl_ksef_simplified_invoices = fields.Boolean(related='company_id.l10n_pl_ksef_simplified_invoices', readonly=False)
    l10n_pl_ksef_krs = fields.Char(related='company_id.l10n_pl_ksef_krs', readonly=False)
    l10n_pl_ksef_regon = fields.Char(related='company_id.l10n_pl_ksef_regon', readonly=False)
    l10n_pl_ksef_bdo = fields.Char(related='company_id.l10n_pl_ksef_bdo', readonly=False)
    l10n_pl_ksef_environment = fields.Selection(related='company_id.l10n_pl_ksef_environment', readonly=False)
    l10n_pl_ksef_custom_url = fields.Char(related='company_id.l10n_pl_ksef_custom_url', readonly=False)
    l10n_pl_ksef_context_type = fields.Selection(related='company_id.l10n_pl_ksef_context_type', readonly=False)
    l10n_pl_ksef_context_value = fields.Char(related='company_id.l10n_pl_ksef_context_value', readonly=False)
    l10n_pl_ksef_legal_form = fields.Selection(related='company_id.l10n_pl_ksef_legal_form', readonly=False)
    l10n_pl_ksef_auth_method = fields.Selection(related='company_id.l10n_pl_ksef_auth_method', readonly=False)
    l10n_pl_ksef_token = fields.Char(related='company_id.l10n_pl_ksef_token', readonly=False,
                                     groups='base.group_system')

    l10n_pl_ksef_certificate_id = fields.Many2one(related='company_id.l10n_pl_ksef_certificate_id', readonly=False,
                                                  groups='base.group_system')

    def action_l10n_pl_ksef_test_connection(self):
        return self.company_id.action_l10n_pl_ksef_test_connection()
