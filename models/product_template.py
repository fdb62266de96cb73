from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = 'product.template'

    l10n_pl_ksef_annex_15 = fields.Boolean(
        string="Annex 15 goods/services (split payment)",
        help="Listed in annex 15 to the VAT Act. Invoices above 15,000 PLN gross with such lines must use the "
             "split payment mechanism (MPP, P_18A); the lines are marked P_12_Zal_15.",
    )
