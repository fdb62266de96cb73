"""Odoo invoices become correct FA(3): every produced XML is XSD-valid, its key fields and totals asserted."""
from decimal import Decimal

from odoo import Command
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.models.account_chart_template import PL_TAXES

from .common import BUYER_NIP, SELLER_NIP, L10nPlKsefTestCommon, ksef_number


def D(value):
    return Decimal(str(value))


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestFa3Mapping(L10nPlKsefTestCommon):

    def test_every_polish_sale_tax_has_a_rate_code(self):
        sale_taxes = [xml_id for xml_id in PL_TAXES if xml_id.startswith(('vs_', 'vp_leas_sale'))]
        for xml_id in sale_taxes:
            tax = self.env['account.chart.template'].with_context(active_test=False).ref(xml_id)
            self.assertEqual(tax.l10n_pl_ksef_rate_code, PL_TAXES[xml_id]['l10n_pl_ksef_rate_code'], xml_id)
        self.assertEqual(self.tax['vs_kraj_5'].l10n_pl_ksef_rate_code, '5', '5 % must never be shown as exempt')

    def test_domestic_mixed_rates(self):
        move = self.post_invoice(self.buyer_pl, [(1000, 2, 'vs_kraj_23'), (45.5, 3, 'vs_kraj_8'),
                                                 (39.9, 5, 'vs_kraj_5')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(invoice.body.invoice_type, 'VAT')
        self.assertEqual(self.text(root, 'f:Podmiot1/f:DaneIdentyfikacyjne/f:NIP'), SELLER_NIP)
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:NIP'), BUYER_NIP)
        self.assertEqual(self.text(root, 'f:Fa/f:P_2'), move.name)
        expected = {'P_13_1': D('2000.00'), 'P_14_1': D('460.00'), 'P_13_2': D('136.50'), 'P_14_2': D('10.92'),
                    'P_13_3': D('199.50'), 'P_14_3': D('9.98')}
        for tag, amount in expected.items():
            self.assertEqual(D(self.text(root, f'f:Fa/f:{tag}')), amount, tag)
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D(move.amount_total))
        self.assertEqual(root.xpath('f:Fa/f:FaWiersz/f:P_12/text()', namespaces={'f': root.nsmap[None]}),
                         ['23', '8', '5'])
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz[1]/f:Indeks'), 'DOR-1')

    def test_intra_community_supply_to_eu_buyer(self):
        move = self.post_invoice(self.buyer_eu, [(84000, 1, 'vs_unia')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:KodUE'), 'DE')
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:NrVatUE'), '811907980')
        self.assertFalse(root.xpath('f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID', namespaces={'f': root.nsmap[None]}))
        self.assertEqual(self.text(root, 'f:Podmiot1/f:PrefiksPodatnika'), 'PL')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_6_2')), D('84000.00'))
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz/f:P_12'), '0 WDT')

    def test_triangular_supply_sets_p23(self):
        move = self.post_invoice(self.buyer_eu, [(6200, 4, 'vs_unia_triangular')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:P_23'), '1')

    def test_export(self):
        move = self.post_invoice(self.buyer_us, [(830, 12, 'vs_eksp_tow')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:KodKraju'), 'US')
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID'), '12-3456789')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_6_3')), D('9960.00'))

    def test_exempt_needs_and_carries_its_legal_basis(self):
        move = self.post_invoice(self.buyer_pl, [(400, 1, 'vs_kraj_zw')])
        self.assertIn('l10n_pl_ksef_exemption_basis', move._l10n_pl_ksef_check_invoices())
        self.tax['vs_kraj_zw'].write({'l10n_pl_ksef_exemption_basis_type': 'statute',
                                      'l10n_pl_ksef_exemption_basis': 'art. 43 ust. 1 pkt 18 ustawy o VAT'})
        self.assertFalse(move._l10n_pl_ksef_check_invoices())
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19A'), 'art. 43 ust. 1 pkt 18 ustawy o VAT')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_7')), D('400.00'))

    def test_exemption_basis_from_fiscal_position(self):
        position = self.env['account.fiscal.position'].create({
            'name': 'Zwolnienie podmiotowe', 'l10n_pl_ksef_exemption_basis_type': 'statute',
            'l10n_pl_ksef_exemption_basis': 'art. 113 ust. 1 ustawy o VAT'})
        move = self.post_invoice(self.buyer_pl, [(250, 2, 'vs_kraj_zw')], fiscal_position_id=position.id)
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19A'), 'art. 113 ust. 1 ustawy o VAT')

    def test_domestic_reverse_charge(self):
        move = self.post_invoice(self.buyer_pl, [(1400, 12, 'vs_stal')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_10')), D('16800.00'))
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:P_18'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz/f:P_12'), 'oo')

    def test_np_services_to_eu_buyer(self):
        move = self.post_invoice(self.buyer_eu, [(200, 80, 'vs_dostu')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_9')), D('16000.00'))
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz/f:P_12'), 'np II')
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:P_18'), '2')

    def test_foreign_currency_invoice(self):
        eur = self.setup_other_currency('EUR', rates=[('2026-11-01', 0.2346)])
        move = self.post_invoice(self.buyer_eu, [(95, 20, 'vs_kraj_23'), (12.5, 10, 'vs_kraj_8')],
                                 currency_id=eur.id)
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:KodWaluty'), 'EUR')
        rate = D(self.text(root, 'f:Fa/f:FaWiersz[1]/f:KursWaluty'))
        self.assertEqual(rate, (Decimal(1) / Decimal('0.2346')).quantize(Decimal('0.000001')),
                         'PLN per EUR, not inverted, at most 6 decimals')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_14_1')), D('437.00'))
        tax_lines = move.line_ids.filtered(lambda l: l.tax_line_id == self.tax['vs_kraj_23'])
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_14_1W')), D(abs(tax_lines.balance)))
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D(move.amount_total), 'P_15 in the invoice currency')
        self.assertNotEqual(D(move.amount_total), D(abs(move.amount_total_signed)))

    def test_credit_note_of_a_sent_invoice(self):
        original = self.post_invoice(self.buyer_pl, [(3500, 2, 'vs_kraj_23')])
        original.l10n_pl_ksef_number = ksef_number(SELLER_NIP, '20261102', '0100001AF629')
        refund = self._reverse(original, 'Rabat potransakcyjny', '1', price=200)
        invoice, root = self.fa3_of(refund)
        self.assertEqual(invoice.body.invoice_type, 'KOR')
        self.assertEqual(self.text(root, 'f:Fa/f:DaneFaKorygowanej/f:NrKSeF'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:DaneFaKorygowanej/f:NrKSeFFaKorygowanej'),
                         original.l10n_pl_ksef_number)
        self.assertEqual(self.text(root, 'f:Fa/f:DaneFaKorygowanej/f:NrFaKorygowanej'), original.name)
        self.assertEqual(self.text(root, 'f:Fa/f:PrzyczynaKorekty'), 'Rabat potransakcyjny')
        self.assertEqual(self.text(root, 'f:Fa/f:TypKorekty'), '1')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_13_1')), D('-400.00'))
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D('-492.00'))
        self.assertNotIn('l10n_pl_ksef_credit_note_of_unsent', refund._l10n_pl_ksef_check_invoices())

    def test_credit_note_of_an_unsent_invoice(self):
        original = self.post_invoice(self.buyer_pl, [(500, 1, 'vs_kraj_23')])
        refund = self._reverse(original, 'Zwrot towaru', '2')
        invoice, root = self.fa3_of(refund)
        self.assertEqual(self.text(root, 'f:Fa/f:DaneFaKorygowanej/f:NrKSeFN'), '1')
        self.assertFalse(root.xpath('f:Fa/f:DaneFaKorygowanej/f:NrKSeF', namespaces={'f': root.nsmap[None]}))
        alerts = refund._l10n_pl_ksef_check_invoices()
        self.assertEqual(alerts['l10n_pl_ksef_credit_note_of_unsent']['level'], 'warning')

    def _reverse(self, move, reason, correction_type, price=None):
        wizard = self.env['account.move.reversal'].with_context(active_model='account.move', active_ids=move.ids).create({
            'reason': reason, 'journal_id': move.journal_id.id, 'l10n_pl_ksef_correction_type': correction_type})
        refund = self.env['account.move'].browse(wizard.refund_moves()['res_id'])
        if price is not None:
            refund.invoice_line_ids.write({'price_unit': price})
        refund.action_post()
        return refund

    def test_consumer_without_nip(self):
        move = self.post_invoice(self.consumer, [(1999.99, 1, 'vs_kraj_23')])
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:BrakID'), '1')
        self.assertEqual(self.text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:Nazwa'), 'Jan Kowalski')

    def test_cash_rounding_goes_to_the_settlement_not_the_buckets(self):
        rounding = self.env['account.cash.rounding'].create({
            'name': '0.05', 'rounding': 0.05, 'strategy': 'add_invoice_line', 'rounding_method': 'HALF-UP',
            'profit_account_id': self.company_data['default_account_revenue'].id,
            'loss_account_id': self.company_data['default_account_expense'].id})
        move = self.post_invoice(self.consumer, [(10.01, 1, 'vs_kraj_23')], invoice_cash_rounding_id=rounding.id)
        invoice, root = self.fa3_of(move)
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D('12.31'))
        self.assertEqual(D(move.amount_total), D('12.30'))
        self.assertEqual(D(self.text(root, 'f:Fa/f:Rozliczenie/f:SumaOdliczen')), D('0.01'))
        self.assertEqual(D(self.text(root, 'f:Fa/f:Rozliczenie/f:DoZaplaty')), D('12.30'))

    def test_payment_terms_bank_account_and_paid_status(self):
        bank = self.env['res.partner.bank'].create({'acc_number': 'PL61109010140000071219812874',
                                                    'partner_id': self.company.partner_id.id})
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')], partner_bank_id=bank.id,
                                 invoice_date_due='2026-11-16')
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Platnosc/f:TerminPlatnosci/f:Termin'), '2026-11-16')
        self.assertEqual(self.text(root, 'f:Fa/f:Platnosc/f:RachunekBankowy/f:NrRB'), 'PL61109010140000071219812874')
        self.env['account.payment.register'].with_context(active_model='account.move', active_ids=move.ids).create(
            {'payment_date': '2026-11-05'})._create_payments()
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Platnosc/f:Zaplacono'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:Platnosc/f:DataZaplaty'), '2026-11-05')

    def test_split_payment_cash_accounting_gtu_and_footer(self):
        self.company.write({'l10n_pl_ksef_cash_accounting': True, 'l10n_pl_ksef_krs': '0000123456',
                            'l10n_pl_ksef_regon': '123456785'})
        self.product.write({'l10n_pl_ksef_annex_15': True, 'l10n_pl_vat_gtu': 'GTU_06'})
        move = self.post_invoice(self.buyer_pl, [(2500, 10, 'vs_kraj_23')], narration='<p>Dziękujemy!</p>')
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:P_18A'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:Adnotacje/f:P_16'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz/f:P_12_Zal_15'), '1')
        self.assertEqual(self.text(root, 'f:Fa/f:FaWiersz/f:GTU'), 'GTU_06')
        self.assertEqual(self.text(root, 'f:Stopka/f:Informacje/f:StopkaFaktury'), 'Dziękujemy!')
        self.assertEqual(self.text(root, 'f:Stopka/f:Rejestry/f:KRS'), '0000123456')

    def test_third_parties_and_jst(self):
        unit = self.env['res.partner'].create({'name': 'Szkoła Podstawowa nr 1', 'vat': 'PL1234563218',
                                               'country_id': self.pl.id, 'city': 'Testowo'})
        move = self.post_invoice(self.buyer_pl, [(48000, 1, 'vs_kraj_23')], post=False)
        move.l10n_pl_ksef_third_party_ids = [Command.create({'partner_id': unit.id, 'role': '8'})]
        move.action_post()
        invoice, root = self.fa3_of(move)
        self.assertEqual(self.text(root, 'f:Podmiot2/f:JST'), '1')
        self.assertEqual(self.text(root, 'f:Podmiot3/f:DaneIdentyfikacyjne/f:NIP'), '1234563218')
        self.assertEqual(self.text(root, 'f:Podmiot3/f:Rola'), '8')

    def test_down_payment_and_final_invoice(self):
        if 'sale.order' not in self.env:
            self.skipTest('the sale addon is not installed in this database')
        order = self.env['sale.order'].create({
            'partner_id': self.buyer_pl.id,
            'order_line': [Command.create({'product_id': self.product.id, 'product_uom_qty': 1, 'price_unit': 20000,
                                           'tax_id': [Command.set(self.tax['vs_kraj_23'].ids)]})]})
        order.action_confirm()
        self._invoice_order(order, {'advance_payment_method': 'fixed', 'fixed_amount': 10000})
        advance = order.invoice_ids
        advance.action_post()
        invoice, root = self.fa3_of(advance)
        self.assertEqual(invoice.body.invoice_type, 'ZAL')
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D(advance.amount_total))
        self.assertEqual(D(self.text(root, 'f:Fa/f:Zamowienie/f:WartoscZamowienia')), D(order.amount_total))
        self.assertEqual(self.text(root, 'f:Fa/f:Zamowienie/f:ZamowienieWiersz/f:P_12Z'), '23')
        self.assertFalse(invoice.body.lines)

        advance.l10n_pl_ksef_number = ksef_number(SELLER_NIP, '20261102', '01000020BB11')
        self._invoice_order(order, {'advance_payment_method': 'delivered'})
        final = order.invoice_ids - advance
        final.action_post()
        invoice, root = self.fa3_of(final)
        self.assertEqual(invoice.body.invoice_type, 'ROZ')
        self.assertEqual(self.text(root, 'f:Fa/f:FakturaZaliczkowa/f:NrKSeFFaZaliczkowej'), advance.l10n_pl_ksef_number)
        self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D(final.amount_total))
        self.assertEqual(D(self.text(root, 'f:Fa/f:FaWiersz/f:P_11')), D('20000.00'), 'ROZ lines show the whole order')

        refund = self._reverse(advance, 'Zmiana zamówienia', '2')
        invoice, root = self.fa3_of(refund)
        self.assertEqual(invoice.body.invoice_type, 'KOR_ZAL')

    def _invoice_order(self, order, values):
        self.env['sale.advance.payment.inv'].with_context(
            active_model='sale.order', active_ids=order.ids, active_id=order.id).create(values).create_invoices()

    def test_multi_company_invoices_are_mapped_with_their_own_seller(self):
        other = self.setup_other_company(name='Druga Firma sp. z o.o.')['company']
        other.write({'vat': 'PL7740001454', 'street': 'ul. Gdańska 2', 'zip': '80-001', 'city': 'Gdańsk'})
        tax = self.env['account.chart.template'].with_company(other).ref('vs_kraj_23')
        first = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')])
        second = self.env['account.move'].with_company(other).create({
            'move_type': 'out_invoice', 'partner_id': self.buyer_pl.id, 'invoice_date': '2026-11-02',
            'company_id': other.id,
            'invoice_line_ids': [Command.create({'name': 'Towar', 'price_unit': 50, 'tax_ids': [Command.set(tax.ids)]})]})
        second.action_post()
        invoices = (first + second)._l10n_pl_ksef_get_fa3_invoices()
        self.assertEqual(invoices[first].seller.nip, SELLER_NIP)
        self.assertEqual(invoices[second].seller.nip, '7740001454')
        self.assertEqual(invoices[second].body.totals.net_basic, D('50.00'))
        self.fa3_of(second)

    def test_rounding_method_of_the_company_is_honoured(self):
        lines = [(0.33, 1, 'vs_kraj_23')] * 3
        self.company.tax_calculation_rounding_method = 'round_per_line'
        per_line = self.post_invoice(self.buyer_pl, lines)
        self.company.tax_calculation_rounding_method = 'round_globally'
        globally = self.post_invoice(self.buyer_pl, lines)
        for move, vat in ((per_line, D('0.24')), (globally, D('0.23'))):
            invoice, root = self.fa3_of(move)
            self.assertEqual(D(self.text(root, 'f:Fa/f:P_14_1')), vat)
            self.assertEqual(D(self.text(root, 'f:Fa/f:P_15')), D(move.amount_total))

    def test_discount_and_units(self):
        move = self.post_invoice(self.buyer_pl, [(200, 3, 'vs_kraj_23', {'discount': 10})])
        invoice, root = self.fa3_of(move)
        line = invoice.body.lines[0]
        self.assertEqual((line.quantity, line.unit_price_net, line.discount, line.net),
                         (D('3'), D('200'), D('60.00'), D('540.00')))
        self.assertEqual(line.unit, move.invoice_line_ids.product_uom_id.name)
