from odoo import models
from odoo.addons.account.models.chart_template import template

# KSeF data of every tax of the Polish chart (l10n_pl data/template/account.tax-pl.csv), by template xml id.
# The JPK tags of each tax tell its nature: K_13 domestic 0 %, K_14 0 % for travellers (art. 129),
# K_21 WDT, K_22 export of goods, K_11 supplies outside Poland, K_12 EU services (art. 100 ust. 1 pkt 4),
# K_10 exempt, K_31 domestic reverse charge.
PL_TAXES = {
    'vs_kraj_23': {'l10n_pl_ksef_rate_code': '23'},
    'vs_kraj_8': {'l10n_pl_ksef_rate_code': '8'},
    'vs_kraj_5': {'l10n_pl_ksef_rate_code': '5'},
    'vs_kraj_0': {'l10n_pl_ksef_rate_code': '0 KR'},
    'vs_zwrot_podróżnych_0': {'l10n_pl_ksef_rate_code': '0 KR'},
    'vs_kraj_zw': {'l10n_pl_ksef_rate_code': 'zw'},
    'vs_kraj_zw_gold': {'l10n_pl_ksef_rate_code': 'zw', 'l10n_pl_ksef_exemption_basis_type': 'statute',
                        'l10n_pl_ksef_exemption_basis': 'art. 122 ustawy o VAT'},
    'vs_kraj_usl_23': {'l10n_pl_ksef_rate_code': '23'},
    'vp_leas_sale': {'l10n_pl_ksef_rate_code': '23'},
    'vs_stal': {'l10n_pl_ksef_rate_code': 'oo'},
    'vs_unia': {'l10n_pl_ksef_rate_code': '0 WDT'},
    'vs_unia_i42': {'l10n_pl_ksef_rate_code': '0 WDT', 'l10n_pl_ksef_procedure': 'I_42'},
    'vs_unia_i63': {'l10n_pl_ksef_rate_code': '0 WDT', 'l10n_pl_ksef_procedure': 'I_63'},
    'vs_unia_triangular': {'l10n_pl_ksef_rate_code': '0 WDT', 'l10n_pl_ksef_triangular': True},
    'vs_dostu': {'l10n_pl_ksef_rate_code': 'np II'},
    'vs_eksp_tow': {'l10n_pl_ksef_rate_code': '0 EX'},
    'vs_ekspu': {'l10n_pl_ksef_rate_code': 'np I'},
    # purchase taxes: how a received FA(3) line at that rate is booked (receiving, issue 8)
    'vz_kraj_23': {'l10n_pl_ksef_rate_code': '23'},
    'vz_kraj_8': {'l10n_pl_ksef_rate_code': '8'},
    'vz_kraj_5': {'l10n_pl_ksef_rate_code': '5'},
    'vz_kraj_0': {'l10n_pl_ksef_rate_code': '0 KR'},
    'vz_kraj_zw': {'l10n_pl_ksef_rate_code': 'zw'},
    'vz_kraj_usl_23': {'l10n_pl_ksef_rate_code': '23'},
    'vp_leas_purchase': {'l10n_pl_ksef_rate_code': '23'},
    'vz_stal': {'l10n_pl_ksef_rate_code': 'oo'},
}


class AccountChartTemplate(models.AbstractModel):
    _inherit = 'account.chart.template'

    @template('pl', 'account.tax')
    def _get_pl_ksef_account_tax(self):
        return PL_TAXES

    def _l10n_pl_ksef_fill_existing_taxes(self, companies):
        """Give the taxes of companies that loaded the Polish chart before this module their KSeF data;
        a value the accountant already set is kept."""
        for company in companies:
            for xml_id, values in PL_TAXES.items():
                tax = self.with_company(company).ref(xml_id, raise_if_not_found=False)
                if tax and not tax.l10n_pl_ksef_rate_code:
                    tax.write(values)
