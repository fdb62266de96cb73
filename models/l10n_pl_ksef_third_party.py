from odoo import fields, models

THIRD_PARTY_ROLES = [
    ('1', 'Factor'),
    ('2', 'Recipient (internal unit)'),
    ('3', 'Original entity (acquired or transformed)'),
    ('4', 'Additional buyer'),
    ('5', 'Issuer on behalf of the taxpayer'),
    ('6', 'Payer'),
    ('7', 'Local government unit (JST) - issuer'),
    ('8', 'Local government unit (JST) - recipient'),
    ('9', 'VAT group member - issuer'),
    ('10', 'VAT group member - recipient'),
    ('11', 'Employee'),
]


class L10nPlKsefThirdParty(models.Model):
    """Podmiot3: another party shown on a KSeF invoice (factor, payer, JST or VAT-group unit ...)."""
    _name = 'l10n_pl_ksef.third_party'
    _description = "KSeF invoice third party"
    _order = 'sequence, id'

    move_id = fields.Many2one('account.move', string="Invoice", required=True, ondelete='cascade', index=True)
    company_id = fields.Many2one(related='move_id.company_id', store=True)
    sequence = fields.Integer(default=10)
    partner_id = fields.Many2one('res.partner', string="Partner", required=True)
    role = fields.Selection(THIRD_PARTY_ROLES, string="Role", required=True)
    share = fields.Float(string="Share (%)", help="Share of an additional buyer (role 4) in the invoice.")
