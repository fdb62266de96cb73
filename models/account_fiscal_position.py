from odoo import fields, models

from .account_tax import EXEMPTION_BASIS_TYPES


class AccountFiscalPosition(models.Model):
    _inherit = 'account.fiscal.position'

    l10n_pl_ksef_exemption_basis_type = fields.Selection(
        selection=EXEMPTION_BASIS_TYPES,
        string="Exemption basis type",
        help="When every exempt supply under this fiscal position has the same legal basis (e.g. the subjective "
             "exemption of art. 113), give it here; a basis set on the tax takes precedence.",
    )
    l10n_pl_ksef_exemption_basis = fields.Char(string="Exemption legal basis")
