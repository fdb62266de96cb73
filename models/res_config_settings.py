from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_cash_accounting = fields.Boolean(related='company_id.l10n_pl_ksef_cash_accounting', readonly=False)
    l10n_pl_ksef_simplified_invoices = fields.Boolean(related='company_id.l10n_pl_ksef_simplified_invoices', readonly=False)
    l10n_pl_ksef_krs = fields.Char(related='company_id.l10n_pl_ksef_krs', readonly=False)
    l10n_pl_ksef_regon = fields.Char(related='company_id.l10n_pl_ksef_regon', readonly=False)
    l10n_pl_ksef_bdo = fields.Char(related='company_id.l10n_pl_ksef_bdo', readonly=False)
