import datetime
import itertools
from decimal import Decimal

from odoo import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3
from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
from odoo.addons.l10n_pl_ksef.ksef.fa3.model import (
    Address, AdvanceInvoiceRef, BankAccount, Buyer, CorrectedInvoice, InvoiceLine, Order, OrderLine, Payment,
    PaymentTerm, Seller, TaxTotals,
)
from .common import BUYER_NIP, L10nPlKsefTestCommon, ksef_number

ALL_RATES = ('23', '22', '8', '7', '5', '4', '3', '0 KR', '0 WDT', '0 EX', 'zw', 'oo', 'np I', 'np II')
PERCENTS = {'23': 23, '22': 22, '8': 8, '7': 7, '5': 5, '4': 4, '3': 3}
money = samples.money


def valid_nip(seed):
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    for candidate in itertools.count(seed):
        head = f'{candidate:09d}'[-9:]
        control = sum(w * int(d) for w, d in zip(weights, head)) % 11
        if control != 10 and head[0] != '0':
            return head + str(control)


def seller(index):
    return Seller(nip=valid_nip(734000000 + index * 1013), name=f'Dostawca {index} sp. z o.o.',
                  address=Address(country='PL', line1=f'ul. Hurtowa {index}', line2='00-950 Warszawa'))


def discounted(number, name, quantity, price, rate, discount):
    quantity, price, discount = Decimal(quantity), Decimal(price), Decimal(discount)
    return InvoiceLine(number=number, name=name, unit='szt.', quantity=quantity, unit_price_net=price,
                       discount=discount, net=money(quantity * price - discount), rate=rate)


def gross_invoice(lines, rate, **extra):
    """Gross-priced (P_9B) lines of one rate: VAT per rate from the gross total, as FA(3) says."""
    items = [InvoiceLine(number=n, name=name, unit='szt.', quantity=Decimal(q), unit_price_gross=Decimal(p),
                         gross=money(Decimal(q) * Decimal(p)), rate=rate) for n, (name, q, p) in enumerate(lines, 1)]
    gross = sum(item.gross for item in items)
    vat = money(gross * PERCENTS[rate] / (100 + PERCENTS[rate]))
    bucket = fa3.checks.BUCKETS[rate]
    invoice = samples.invoice([], totals=TaxTotals(**{bucket[0]: gross - vat, bucket[1]: vat}), total=gross, **extra)
    invoice.body.lines = items
    return invoice


@tagged('post_install', '-at_install')
class TestKsefBills(L10nPlKsefTestCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sequence = itertools.count(1)
        for code in ('EUR', 'USD'):
            cls.env.ref(f'base.{code}').active = True
        ChartTemplate = cls.env['account.chart.template']
        ChartTemplate.ref('vz_stal').active = True
        group = ChartTemplate.ref('vz_kraj_23').tax_group_id
        for code, amount in (('22', 22), ('7', 7), ('4', 4), ('3', 3), ('0 WDT', 0), ('0 EX', 0), ('np I', 0),
                             ('np II', 0)):
            cls.env['account.tax'].create({
                'name': f'{code} purchase', 'amount': amount, 'type_tax_use': 'purchase', 'tax_group_id': group.id,
                'l10n_pl_ksef_rate_code': code, 'company_id': cls.company.id, 'country_id': cls.pl.id})
        cls.purchase_journal = cls.company_data['default_journal_purchase']

    # --- helpers ---------------------------------------------------------------------------------------

    def receive(self, invoice, number=None):
        """An inbound document as the sync leaves it: FA(3) attached, metadata, state received."""
        xml = fa3.build(invoice)
        number = number or ksef_number(invoice.seller.nip, '20261102', f'{next(self.sequence):012X}')
        attachment = self.env['ir.attachment'].create({'name': f'{number}.xml', 'raw': xml,
                                                       'mimetype': 'application/xml'})
        body = invoice.body
        return self.env['l10n_pl_ksef.document'].create({
            'direction': 'in', 'state': 'received', 'company_id': self.company.id, 'ksef_number': number,
            'attachment_id': attachment.id, 'seller_nip': invoice.seller.nip, 'seller_name': invoice.seller.name,
            'invoice_number': body.number, 'issue_date': body.issue_date, 'invoice_type': body.invoice_type,
            'currency_code': body.currency, 'gross_amount': float(body.total),
            'acquisition_date': datetime.datetime(2026, 11, 2, 10, 0, 0), 'subject_type': 'Subject2'})

    def assertBilled(self, document, invoice):
        self.assertEqual(document.state, 'bill_created', document.message)
        bill = document.move_id
        self.assertEqual(bill.currency_id.name, invoice.body.currency)
        self.assertAlmostEqual(bill.amount_total, abs(float(invoice.body.total)), places=2,
                               msg=f'{invoice.body.number} ({invoice.body.invoice_type})')
        self.assertEqual(bill.l10n_pl_ksef_number, document.ksef_number)
        return bill

    # --- the big one ------------------------------------------------------------------------------------

    def _mixed_invoices(self, count=500):
        """(invoice, KSeF number) of ``count`` invoices from 20 sellers: every rate code, three currencies,
        VAT, UPR, gross prices, discounts, ZAL, ROZ, KOR (both signs), KOR_ZAL, KOR_ROZ."""
        rates = itertools.cycle(ALL_RATES)
        currencies = itertools.cycle(('PLN', 'EUR', 'USD'))
        last = {}   # seller index -> {type: KSeF number}
        result = []
        for i in range(count):
            s_index = i % 20
            the_seller = seller(s_index)
            number = ksef_number(the_seller.nip, '20261102', f'{i + 1:012X}')
            kind = (i // 20) % 10
            common = dict(number=f'FV/{i}/2026', invoice_seller=the_seller, currency=next(currencies))
            seen = last.setdefault(s_index, {})
            if kind in (0, 1, 2):
                rate_a, rate_b = next(rates), next(rates)
                lines = [samples.line(1, f'Towar A{i % 7}', f'{1 + i % 4}.5', f'{10 + i % 13}.37', rate_a),
                         discounted(2, f'Towar B{i % 5}', 3 + i % 3, f'{20 + i % 11}.10', rate_b, '4.50')]
                invoice = samples.invoice(lines, **common)
                seen['VAT'] = number
            elif kind == 3:
                rate = ('23', '8', '5', '7')[i % 4]
                invoice = gross_invoice([('Obiad', 2 + i % 3, '35.99'), ('Napój', 3, '7.49')], rate, **common)
            elif kind == 4:
                invoice = samples.invoice([samples.line(1, 'Artykuły biurowe', 1, f'{100 + i}.00', '23')],
                                          invoice_type='UPR', buyer=Buyer(nip=BUYER_NIP), **common)
            elif kind == 5:
                net = Decimal(1000 + i)
                totals = TaxTotals(net_basic=net, vat_basic=money(net * Decimal('0.23')))
                order = Order(value=Decimal(10000), lines=[OrderLine(number=1, name='Maszyna', quantity=Decimal(1),
                                                                     unit_price_net=Decimal('8130.08'), rate='23')])
                invoice = samples.invoice([], invoice_type='ZAL', totals=totals,
                                          total=totals.net_basic + totals.vat_basic, order=order, **common)
                seen['ZAL'] = number
            elif kind == 6:
                net = Decimal(2000 + i)
                totals = TaxTotals(net_reduced_1=net, vat_reduced_1=money(net * Decimal('0.08')))
                invoice = samples.invoice(
                    [samples.line(1, 'Usługa budowlana', 1, '10000', '8')], invoice_type='ROZ', totals=totals,
                    total=totals.net_reduced_1 + totals.vat_reduced_1,
                    advance_invoices=[AdvanceInvoiceRef(ksef_number=seen['ZAL'])], **common)
                seen['ROZ'] = number
            elif kind in (7, 8):
                new_price = '9.00' if kind == 7 else '14.00'   # a discount (credit note) or a higher price (bill)
                before = samples.line(1, 'Towar', 10, '12.00', '23', before_correction=True)
                after = samples.line(1, 'Towar', 10, new_price, '23')
                invoice = samples.invoice(
                    [before, after], invoice_type='KOR', correction_reason='Zmiana ceny', correction_type=1,
                    corrected_invoices=[CorrectedInvoice(issue_date=samples.ISSUE_DATE, number='FV/x',
                                                         ksef_number=seen['VAT'])], **common)
            else:
                if i % 2:
                    totals = TaxTotals(net_basic=Decimal('-100.00'), vat_basic=Decimal('-23.00'))
                    invoice = samples.invoice([], invoice_type='KOR_ZAL', totals=totals, total=Decimal('-123.00'),
                                              correction_reason='Zaliczka', correction_type=2,
                                              corrected_invoices=[CorrectedInvoice(
                                                  issue_date=samples.ISSUE_DATE, number='ZAL', ksef_number=seen['ZAL'])],
                                              **common)
                else:
                    invoice = samples.invoice(
                        [samples.line(1, 'Usługa budowlana', 1, '-50', '8')], invoice_type='KOR_ROZ',
                        correction_reason='Rabat', correction_type=1,
                        corrected_invoices=[CorrectedInvoice(issue_date=samples.ISSUE_DATE, number='ROZ',
                                                             ksef_number=seen['ROZ'])],
                        advance_invoices=[AdvanceInvoiceRef(ksef_number=seen['ZAL'])], **common)
            result.append((invoice, number))
        return result

    def test_500_invoices_from_20_sellers(self):
        received = [(self.receive(invoice, number), invoice) for invoice, number in self._mixed_invoices()]
        documents = self.env['l10n_pl_ksef.document'].union(*(d for d, _i in received))
        bills = documents._l10n_pl_ksef_create_bills()
        errors = documents.filtered(lambda d: d.state == 'error')
        self.assertFalse(errors, '\n'.join(f'{d.invoice_number} {d.invoice_type}: {d.message}' for d in errors[:10]))
        self.assertEqual(len(bills), 500)
        for document, invoice in received:
            bill = self.assertBilled(document, invoice)
            body = invoice.body
            if body.invoice_type in fa3.CORRECTION_TYPES:
                self.assertEqual(bill.move_type, 'in_refund' if body.total < 0 else 'in_invoice')
                self.assertEqual(bill.reversed_entry_id.l10n_pl_ksef_number, body.corrected_invoices[0].ksef_number)
            else:
                self.assertEqual(bill.move_type, 'in_invoice')
        self.assertEqual(len(bills.partner_id), 20)
        used_codes = set(bills.invoice_line_ids.tax_ids.mapped('l10n_pl_ksef_rate_code'))
        self.assertEqual(used_codes, set(ALL_RATES))
        self.assertEqual(set(bills.currency_id.mapped('name')), {'PLN', 'EUR', 'USD'})
        self.assertTrue(bills.invoice_line_ids.filtered(lambda l: l.discount))
        for document, invoice in received:
            if invoice.body.invoice_type == 'ROZ':
                advance = self.env['account.move'].search([
                    ('l10n_pl_ksef_number', '=', invoice.body.advance_invoices[0].ksef_number)])
                notes = '\n'.join(document.move_id.message_ids.mapped('body'))
                self.assertIn('Settles the advance invoices', notes)
                self.assertIn(advance.display_name, notes)
        # a second run creates nothing more
        self.assertFalse(documents._l10n_pl_ksef_create_bills())

    # --- what goes on a bill ----------------------------------------------------------------------------

    def test_bill_fields_and_new_vendor(self):
        invoice = samples.ten_line_invoice(7)
        invoice.seller = seller(40)
        invoice.body.supply_date = datetime.date(2026, 10, 30)
        document = self.receive(invoice)
        document._l10n_pl_ksef_create_bills()
        bill = self.assertBilled(document, invoice)
        self.assertEqual(bill.state, 'draft')
        self.assertEqual(bill.journal_id, self.purchase_journal)
        self.assertEqual(bill.ref, 'FV/7/11/2026')
        self.assertEqual(bill.invoice_date, samples.ISSUE_DATE)
        self.assertEqual(bill.delivery_date, datetime.date(2026, 10, 30))
        self.assertEqual(bill.invoice_date_due, samples.ISSUE_DATE + datetime.timedelta(days=14))
        self.assertEqual(bill.payment_reference, 'FV/7/11/2026')
        self.assertEqual(bill.partner_bank_id.sanitized_acc_number, 'PL61109010140000071219812874')
        self.assertEqual(bill.partner_bank_id.partner_id, bill.partner_id)
        self.assertEqual(bill.l10n_pl_ksef_acquisition_date, datetime.datetime(2026, 11, 2, 10, 0, 0))
        self.assertEqual(len(bill.invoice_line_ids), 10)
        self.assertEqual(bill.invoice_line_ids[0].quantity, 1.5)
        self.assertEqual(bill.invoice_line_ids[0].name, 'Towar 1 partii 7')
        vendor = bill.partner_id
        self.assertEqual((vendor.name, vendor.vat, vendor.street, vendor.zip, vendor.city, vendor.country_id),
                         ('Dostawca 40 sp. z o.o.', f'PL{invoice.seller.nip}', 'ul. Hurtowa 40', '00-950', 'Warszawa',
                          self.pl))
        attachment = self.env['ir.attachment'].search([('res_model', '=', 'account.move'), ('res_id', '=', bill.id)])
        self.assertEqual(attachment.raw, fa3.build(invoice))
        self.assertEqual(document.attachment_id.raw, attachment.raw)

    def test_partner_matching(self):
        the_seller = seller(41)
        shared = self.env['res.partner'].create({'name': 'Shared', 'vat': the_seller.nip, 'is_company': True})
        invoice = samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], invoice_seller=the_seller)
        document = self.receive(invoice)
        document._l10n_pl_ksef_create_bills()
        self.assertEqual(document.move_id.partner_id, shared, 'NIP without prefix')
        own = self.env['res.partner'].create({'name': 'Own', 'vat': f'PL {the_seller.nip[:3]}-{the_seller.nip[3:]}',
                                              'is_company': True, 'company_id': self.company.id})
        document = self.receive(samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], number='FV/2',
                                                invoice_seller=the_seller))
        document._l10n_pl_ksef_create_bills()
        self.assertEqual(document.move_id.partner_id, own, "with prefix and separators, the company's one first")

    def test_correction_without_original_says_so(self):
        document = self.receive(samples.scenarios()['kor_of_ksef_invoice'])
        document._l10n_pl_ksef_create_bills()
        bill = document.move_id
        self.assertEqual(bill.move_type, 'in_refund')
        self.assertFalse(bill.reversed_entry_id)
        self.assertAlmostEqual(bill.amount_total, 492.0)
        self.assertIn('was not found', '\n'.join(bill.message_ids.mapped('body')))

    def test_fiscal_position_maps_purchase_tax(self):
        tax_23 = self.env['account.chart.template'].ref('vz_kraj_23')
        tax_np = self.env['account.chart.template'].ref('vz_kraj_usl_23')   # services, same rate: same total
        position = self.env['account.fiscal.position'].create({
            'name': 'Mapped', 'company_id': self.company.id,
            'tax_ids': [Command.create({'tax_src_id': tax_23.id, 'tax_dest_id': tax_np.id})]})
        the_seller = seller(42)
        self.env['res.partner'].create({'name': 'FP vendor', 'vat': f'PL{the_seller.nip}', 'is_company': True,
                                        'property_account_position_id': position.id})
        invoice = samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], invoice_seller=the_seller)
        document = self.receive(invoice)
        document._l10n_pl_ksef_create_bills()
        self.assertEqual(document.move_id.invoice_line_ids.tax_ids, tax_np)

    # --- errors and retry -------------------------------------------------------------------------------

    def test_unknown_rate_is_an_error_then_retry(self):
        tax_8 = self.env['account.chart.template'].ref('vz_kraj_8')
        tax_8.l10n_pl_ksef_rate_code = False
        documents = self.env['l10n_pl_ksef.document']
        for index, rate in enumerate(('23', '8', '5')):
            documents |= self.receive(samples.invoice([samples.line(1, 'Towar', 2, '10.00', rate)],
                                                      number=f'FV/{index}', invoice_seller=seller(43)))
        bills = documents._l10n_pl_ksef_create_bills()
        self.assertEqual(len(bills), 2)
        self.assertEqual(documents.mapped('state'), ['bill_created', 'error', 'bill_created'])
        failed = documents[1]
        self.assertIn('No purchase tax with KSeF rate 8', failed.message)
        self.assertIn(self.company.name, failed.message)
        self.assertFalse(failed.move_id)
        tax_8.l10n_pl_ksef_rate_code = '8'
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(failed.state, 'bill_created')
        self.assertFalse(failed.message)
        self.assertEqual(failed.move_id.invoice_line_ids.tax_ids, tax_8)

    def test_inactive_currency_and_wrong_total(self):
        chf = self.env.ref('base.CHF')
        chf.active = False
        in_chf = self.receive(samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], currency='CHF',
                                              invoice_seller=seller(44)))
        wrong = self.receive(samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], number='FV/2',
                                             total=Decimal('200.00'), invoice_seller=seller(44)))
        good = self.receive(samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], number='FV/3',
                                            invoice_seller=seller(44)))
        (in_chf | wrong | good)._l10n_pl_ksef_create_bills()
        self.assertEqual(in_chf.state, 'error')
        self.assertIn('CHF is not active', in_chf.message)
        self.assertEqual(wrong.state, 'error')
        self.assertIn('123', wrong.message)
        self.assertIn('200', wrong.message)
        self.assertFalse(self.env['account.move'].search([('l10n_pl_ksef_number', '=', wrong.ksef_number)]))
        self.assertEqual(good.state, 'bill_created')
        chf.active = True
        in_chf._l10n_pl_ksef_create_bills()
        self.assertEqual(in_chf.state, 'bill_created')
        self.assertEqual(in_chf.move_id.currency_id, chf)

    # --- products -------------------------------------------------------------------------------------

    def test_product_by_vendor_code_and_gtin(self):
        the_seller = seller(45)
        vendor = self.env['res.partner'].create({'name': 'Coded', 'vat': f'PL{the_seller.nip}', 'is_company': True})
        paper = self.env['product.product'].create({'name': 'Papier', 'seller_ids': [
            Command.create({'partner_id': vendor.id, 'product_code': 'PAP-A4'})]})
        toner = self.env['product.product'].create({'name': 'Toner', 'barcode': '5901234123457'})
        invoice = samples.invoice([samples.line(1, 'Papier ksero', 5, '20', '23', index='PAP-A4'),
                                   samples.line(2, 'Toner czarny', 1, '300', '23', gtin='5901234123457'),
                                   samples.line(3, 'Inne', 1, '1', '23', index='NOPE')], invoice_seller=the_seller)
        document = self.receive(invoice)
        document._l10n_pl_ksef_create_bills()
        self.assertEqual(document.move_id.invoice_line_ids.mapped('product_id'), paper | toner)

    def test_learned_product_mapping(self):
        the_seller = seller(46)
        stapler = self.env['product.product'].create({'name': 'Zszywacz'})
        account = self.company_data['default_account_expense'].copy({'code': '409999'})
        first = self.receive(samples.invoice([samples.line(1, 'Zszywacz  biurowy XL.', 2, '30', '23')],
                                             invoice_seller=the_seller))
        first._l10n_pl_ksef_create_bills()
        line = first.move_id.invoice_line_ids
        self.assertFalse(line.product_id)
        line.write({'product_id': stapler.id, 'account_id': account.id, 'name': 'my own label'})
        first.move_id.action_post()
        mapping = self.env['l10n_pl_ksef.product.mapping'].search([('partner_id', '=', first.move_id.partner_id.id)])
        self.assertEqual((mapping.name, mapping.product_id, mapping.account_id),
                         ('zszywacz biurowy xl', stapler, account))
        second = self.receive(samples.invoice([samples.line(1, 'ZSZYWACZ biurowy XL', 1, '31', '23')], number='FV/2',
                                              invoice_seller=the_seller))
        second._l10n_pl_ksef_create_bills()
        self.assertEqual(second.move_id.invoice_line_ids.product_id, stapler)
        self.assertEqual(second.move_id.invoice_line_ids.account_id, account)
        # posting what was proposed teaches nothing new
        second.move_id.action_post()
        self.assertEqual(len(self.env['l10n_pl_ksef.product.mapping'].search([])), 1)

    # --- rights ---------------------------------------------------------------------------------------

    def test_accountant_creates_bills(self):
        accountant = new_test_user(self.env, login='ksef_bill_accountant', groups='account.group_account_invoice',
                                   company_id=self.company.id, company_ids=[Command.set(self.company.ids)])
        invoice = samples.invoice([samples.line(1, 'Usługa', 1, '100', '23')], invoice_seller=seller(47),
                                  payment=Payment(terms=[PaymentTerm(due_date=datetime.date(2026, 12, 1))],
                                                  bank_accounts=[BankAccount(number='PL27114020040000300201355387')]))
        document = self.receive(invoice)
        action = document.with_user(accountant).action_l10n_pl_ksef_create_bills()
        self.assertEqual(action['res_model'], 'account.move')
        self.assertBilled(document, invoice)
        self.assertEqual(document.move_id.create_uid, accountant)
        self.assertEqual(document.move_id.partner_id.name, 'Dostawca 47 sp. z o.o.')
