from odoo import fields, models


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_cash_accounting = fields.Boolean(
        string="Cash accounting (metoda kasowa)",
        help="The company settles VAT with the cash method (art. 21 of the VAT Act): invoices carry P_16.",
    )
    l10n_pl_ksef_simplified_invoices = fields.Boolean(
        string="Simplified invoices (UPR)",
        help="Issue invoices of at most 450 PLN (or 100 EUR) gross to buyers with a NIP as simplified invoices "
             "(RodzajFaktury UPR, art. 106e sec. 5 item 3).",
    )
    l10n_pl_ksef_krs = fields.Char(string="KRS", size=10, help="National Court Register number, printed in the invoice footer.")
    l10n_pl_ksef_regon = fields.Char(string="REGON", size=14)
    l10n_pl_ksef_bdo = fields.Char(string="BDO", size=9, help="Waste database (BDO) registration number.")
