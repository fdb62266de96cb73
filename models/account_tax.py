from odoo import api, fields, models

from ..ksef.fa3.checks import BUCKETS

# FA(3) P_12 values (plus OSS, which FA(3) writes as P_12_XII with the destination country's rate)
RATE_CODES = [
    ('23', '23%'), ('22', '22%'), ('8', '8%'), ('7', '7%'), ('5', '5%'),
    ('4', '4% (taxi flat rate)'), ('3', '3% (taxi flat rate)'),
    ('0 KR', '0% domestic (0 KR)'), ('0 WDT', '0% intra-Community supply (0 WDT)'), ('0 EX', '0% export (0 EX)'),
    ('zw', 'Exempt (zw)'), ('oo', 'Domestic reverse charge (oo)'),
    ('np I', 'Not taxable in Poland (np I)'), ('np II', 'EU services, art. 100 sec. 1 item 4 (np II)'),
    ('oss', 'OSS procedure (P_12_XII)'),
]
EXEMPTION_BASIS_TYPES = [
    ('statute', 'VAT Act or its regulation (P_19A)'),
    ('directive', 'Directive 2006/112/EC (P_19B)'),
    ('other', 'Other legal basis (P_19C)'),
]
LINE_PROCEDURES = [
    ('WSTO_EE', 'WSTO_EE - intra-Community distance sales / electronic interface'),
    ('IED', 'IED - supply by an electronic interface (art. 7a)'),
    ('TT_D', 'TT_D - triangular supply by the second taxpayer'),
    ('I_42', 'I_42 - import under customs procedure 42'),
    ('I_63', 'I_63 - import under customs procedure 63'),
    ('B_SPV', 'B_SPV - transfer of a single-purpose voucher'),
    ('B_SPV_DOSTAWA', 'B_SPV_DOSTAWA - supply covered by a single-purpose voucher'),
    ('B_MPV_PROWIZJA', 'B_MPV_PROWIZJA - agency services for a multi-purpose voucher'),
]
assert {code for code, _label in RATE_CODES} == set(BUCKETS) | {'oss'}


class AccountTax(models.Model):
    _inherit = 'account.tax'

    l10n_pl_ksef_rate_code = fields.Selection(
        selection=RATE_CODES,
        string="KSeF rate (P_12)",
        help="The FA(3) rate code this tax produces on KSeF invoices (field P_12) and the summary bucket its "
             "amounts go to. Filled automatically for the Polish chart of accounts.",
    )
    l10n_pl_ksef_exemption_basis_type = fields.Selection(
        selection=EXEMPTION_BASIS_TYPES,
        string="Exemption basis type",
        help="For exempt taxes (zw): which kind of provision exempts the supply.",
    )
    l10n_pl_ksef_exemption_basis = fields.Char(
        string="Exemption legal basis",
        help="For exempt taxes (zw): the provision printed on the invoice, e.g. 'art. 43 ust. 1 pkt 18 ustawy o VAT'.",
    )
    l10n_pl_ksef_procedure = fields.Selection(
        selection=LINE_PROCEDURES,
        string="KSeF procedure",
        help="Procedure code written on every invoice line with this tax (FA(3) field Procedura).",
    )
    l10n_pl_ksef_triangular = fields.Boolean(
        string="Simplified triangular supply",
        help="Invoices with this tax carry the annotation P_23 (simplified triangular procedure).",
    )

    @api.onchange('amount', 'amount_type', 'type_tax_use')
    def _onchange_l10n_pl_ksef_rate_code(self):
        for tax in self:
            if not tax.l10n_pl_ksef_rate_code and tax.country_code == 'PL':
                tax.l10n_pl_ksef_rate_code = tax._l10n_pl_ksef_guess_rate_code()

    def _l10n_pl_ksef_guess_rate_code(self):
        """Only the unambiguous cases: a plain percentage tax at a Polish rate. 0 % can be domestic,
        intra-Community, export or exempt, so it is left to the accountant."""
        self.ensure_one()
        if self.amount_type == 'percent' and self.amount in (23, 8, 5):
            return str(int(self.amount))
        return False
