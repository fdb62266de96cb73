"""Realistic sample invoices covering FA(3): every invoice type, every P_12 rate, the annotations, parties,
corrections, advances, payment, transport, footer and attachment.

Used by the demonstration (``python -m ksef demo``), the tests and the benchmarks. Amounts are computed
from the lines the way an invoicing program does (net per line, VAT per rate on the bucket total), so the
samples are consistent by construction, not by copying numbers.
"""
import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal

from .checks import BUCKETS
from .model import (
    AdditionalInfo, Address, AdvanceInvoiceRef, Annotations, Attachment, AuthorizedParty, BankAccount, Buyer,
    BuyerIdentity, Carrier, Contact, CorrectedBuyer, CorrectedInvoice, CorrectedSeller, DataBlock, DocumentRef,
    Footer, FooterInfo, Header, Invoice, InvoiceBody, InvoiceLine, KeyValue, NewVehicle, Order, OrderLine,
    PartialAdvance, PartialPayment, Payment, PaymentTerm, Registry, Seller, Settlement, Adjustment, Table,
    TableColumn, TableRow, TaxTotals, ThirdParty, TransactionTerms, Transport,
)

CENT = Decimal('0.01')
SELLER_NIP = '5265877635'
BUYER_NIP = '6808208874'
CREATED_AT = datetime.datetime(2026, 11, 2, 9, 30, tzinfo=datetime.timezone.utc)
ISSUE_DATE = datetime.date(2026, 11, 2)


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def line(number, name, quantity, unit_price, rate, unit='szt.', **extra):
    quantity, unit_price = Decimal(quantity), Decimal(unit_price)
    return InvoiceLine(number=number, name=name, unit=unit, quantity=quantity, unit_price_net=unit_price,
                       net=money(quantity * unit_price), rate=rate, **extra)


def totals_from_lines(lines, exchange_rate=None):
    """TaxTotals and P_15 from the lines: net per bucket, VAT per rate on the bucket total (rows before a
    correction count negative); VAT in PLN at ``exchange_rate`` for foreign-currency invoices."""
    nets, vats = {}, {}
    for item in lines:
        if item.rate is None:
            continue
        net_attr, vat_attr, pln_attr, percent = BUCKETS[item.rate]
        amount = -item.net if item.before_correction else item.net
        nets[net_attr] = nets.get(net_attr, Decimal(0)) + amount
        if percent is not None:
            vats.setdefault((vat_attr, pln_attr), {}).setdefault(percent, Decimal(0))
            vats[(vat_attr, pln_attr)][percent] += amount
    values = dict(nets)
    for (vat_attr, pln_attr), per_rate in vats.items():
        vat = sum((money(net * percent / 100) for percent, net in per_rate.items()), Decimal(0))
        values[vat_attr] = vat
        if exchange_rate is not None:
            values[pln_attr] = money(vat * exchange_rate)
    total = sum((v for k, v in values.items() if not k.endswith('_pln')), Decimal(0))
    return TaxTotals(**values), total


def seller(**extra):
    values = dict(nip=SELLER_NIP, name='Kowalski i Wspólnicy sp. z o.o.',
                  address=Address(country='PL', line1='ul. Marszałkowska 1', line2='00-001 Warszawa'),
                  contacts=[Contact(email='faktury@kowalski.example', phone='+48221234567')])
    values.update(extra)
    return Seller(**values)


def polish_buyer(**extra):
    values = dict(nip=BUYER_NIP, name='Nowak Handel S.A.',
                  address=Address(country='PL', line1='ul. Długa 5/7', line2='31-147 Kraków'))
    values.update(extra)
    return Buyer(**values)


def invoice(lines, *, number='FV/1/11/2026', buyer=None, currency='PLN', exchange_rate=None, invoice_type='VAT',
            annotations=None, totals=None, total=None, invoice_seller=None, **body_extra):
    """A complete invoice from its lines; anything else goes to InvoiceBody (or the Invoice for
    ``third_parties``, ``authorized_party``, ``footer``, ``attachment``)."""
    outer = {key: body_extra.pop(key) for key in ('third_parties', 'authorized_party', 'footer', 'attachment')
             if key in body_extra}
    computed_totals, computed_total = totals_from_lines(lines, exchange_rate)
    body = InvoiceBody(
        currency=currency, issue_date=body_extra.pop('issue_date', ISSUE_DATE), number=number,
        total=computed_total if total is None else total,
        totals=computed_totals if totals is None else totals,
        invoice_type=invoice_type, annotations=annotations or Annotations(), lines=list(lines), **body_extra)
    return Invoice(header=Header(created_at=CREATED_AT, system_info='l10n_pl_ksef'),
                   seller=invoice_seller or seller(), buyer=buyer or polish_buyer(), body=body, **outer)


def ten_line_invoice(index):
    """The benchmark invoice: ten lines at 23, 8 and 5 %, a number derived from ``index``."""
    rates = ('23', '23', '23', '8', '8', '5', '23', '8', '5', '23')
    lines = [line(n, f'Towar {n} partii {index}', f'{n}.5', f'{(index % 97) + n}.19', rates[n - 1])
             for n in range(1, 11)]
    return invoice(lines, number=f'FV/{index}/11/2026',
                   payment=Payment(terms=[PaymentTerm(due_date=ISSUE_DATE + datetime.timedelta(days=14))],
                                   method=6, bank_accounts=[BankAccount(number='PL61109010140000071219812874')]))


EU_BUYER = Buyer(eu_country='DE', eu_vat_number='811907980', name='Müller GmbH',
                 address=Address(country='DE', line1='Hauptstraße 12', line2='10115 Berlin'))
EXPORT_BUYER = Buyer(country='US', tax_id='12-3456789', name='Acme Inc.',
                     address=Address(country='US', line1='1 Main Street', line2='Springfield, IL 62701'))


def _ksef(nip, day, tech):
    from ..identifiers import ksef_number_checksum
    head = f'{nip}-{day}-{tech}'
    return f'{head}-{ksef_number_checksum(head)}'


ORIGINAL_KSEF_NUMBER = _ksef(SELLER_NIP, '20261015', '0100001AF629')
ADVANCE_KSEF_NUMBER = _ksef(SELLER_NIP, '20261005', '01000020BB11')


def scenarios():
    """{name: Invoice} — at least one scenario for every invoice type, rate, annotation and block."""
    s = {}
    s['vat_23'] = invoice([line(1, 'Usługa doradcza', 10, '150.00', '23', unit='h')])
    s['vat_mixed_23_8_5'] = invoice([
        line(1, 'Laptop', 2, '3500.00', '23'), line(2, 'Usługa gastronomiczna', 3, '45.50', '8'),
        line(3, 'Książka', 5, '39.90', '5'), line(4, 'Mysz', 1, '79.99', '23')])
    s['vat_historic_22_7'] = invoice([line(1, 'Usługa (stawka 22%)', 1, '1000', '22'),
                                      line(2, 'Towar (stawka 7%)', 2, '100', '7')], issue_date=datetime.date(2010, 12, 30))
    s['vat_taxi_4'] = invoice([line(1, 'Przewóz taksówką', 1, '250.00', '4', unit='kurs')])
    s['vat_taxi_3'] = invoice([line(1, 'Przewóz taksówką', 1, '180.00', '3', unit='kurs')])
    s['zero_domestic'] = invoice([line(1, 'Statek morski', 1, '250000', '0 KR')])
    s['zero_wdt'] = invoice([line(1, 'Maszyna CNC', 1, '84000', '0 WDT')], buyer=EU_BUYER,
                            invoice_seller=seller(eu_prefix='PL'))
    s['zero_export'] = invoice([line(1, 'Meble', 12, '830', '0 EX')], buyer=EXPORT_BUYER,
                               transaction_terms=TransactionTerms(delivery_terms='FCA Gdynia'))
    s['exempt_statute'] = invoice([line(1, 'Usługa medyczna', 1, '400', 'zw')],
                                  annotations=Annotations(exemption_statute='art. 43 ust. 1 pkt 18 ustawy o VAT'))
    s['exempt_directive'] = invoice([line(1, 'Usługa finansowa', 1, '1200', 'zw')],
                                    annotations=Annotations(exemption_directive='art. 135 ust. 1 lit. d dyrektywy 2006/112/WE'))
    s['exempt_other_basis'] = invoice([line(1, 'Szkolenie', 1, '900', 'zw'), line(2, 'Materiały', 1, '100', '23')],
                                      annotations=Annotations(exemption_other='§ 3 ust. 1 pkt 14 rozporządzenia'))
    s['np_i'] = invoice([line(1, 'Montaż za granicą', 1, '15000', 'np I')], buyer=EXPORT_BUYER)
    s['np_ii_eu_services'] = invoice([line(1, 'Usługa programistyczna', 80, '200', 'np II', unit='h')],
                                     buyer=EU_BUYER, annotations=Annotations(reverse_charge=False))
    s['reverse_charge_oo'] = invoice([line(1, 'Złom stalowy', 12, '1400', 'oo', unit='t')],
                                     annotations=Annotations(reverse_charge=True))
    oss_line = line(1, 'E-book (sprzedaż OSS)', 1, '100.00', None, oss_rate=Decimal('19'), procedure='WSTO_EE')
    s['oss_procedure'] = invoice([oss_line], buyer=Buyer(no_id=True, name='Hans Meier'),
                                 totals=TaxTotals(net_oss=Decimal('100.00'), vat_oss=Decimal('19.00')),
                                 total=Decimal('119.00'))
    for name, scheme in (('margin_travel', 'travel'), ('margin_used_goods', 'used_goods'),
                         ('margin_works_of_art', 'works_of_art'), ('margin_antiques', 'antiques')):
        s[name] = invoice([InvoiceLine(number=1, name='Wycieczka / towar w procedurze marży', quantity=Decimal(1),
                                       unit_price_gross=Decimal('3200.00'), gross=Decimal('3200.00'))],
                          annotations=Annotations(margin_scheme=scheme), totals=TaxTotals(net_margin=Decimal('3200.00')),
                          total=Decimal('3200.00'))
    eur_lines = [line(1, 'Consulting', 20, '95.00', '23', unit='h', exchange_rate=Decimal('4.2618')),
                 line(2, 'Catering', 10, '12.50', '8', exchange_rate=Decimal('4.2618'))]
    s['foreign_currency_eur'] = invoice(eur_lines, currency='EUR', exchange_rate=Decimal('4.2618'),
                                        buyer=EU_BUYER, invoice_seller=seller(eu_prefix='PL'))
    s['cash_accounting'] = invoice([line(1, 'Usługa księgowa', 1, '1500', '23')],
                                   annotations=Annotations(cash_accounting=True))
    s['self_billing'] = invoice([line(1, 'Skup mleka', 1000, '2.10', '5', unit='l')],
                                annotations=Annotations(self_billing=True))
    s['split_payment'] = invoice([line(1, 'Telefon komórkowy', 10, '2500', '23', annex_15=True, gtu='GTU_06')],
                                 annotations=Annotations(split_payment=True))
    s['new_vehicle'] = invoice(
        [line(1, 'Samochód osobowy', 1, '120000', '0 WDT')], buyer=EU_BUYER, invoice_seller=seller(eu_prefix='PL'),
        annotations=Annotations(new_vehicles_art_42_5=False, new_vehicles=[NewVehicle(
            first_use_date=datetime.date(2026, 10, 1), line_number=1, make='Skoda', model='Octavia',
            colour='szary', registration_number='WX12345', production_year='2026', land_mileage='1200',
            land_vin='TMBJJ7NE0L0123456', land_type='osobowy')]))
    s['simplified_triangular'] = invoice([line(1, 'Pompa przemysłowa', 4, '6200', '0 WDT')], buyer=EU_BUYER,
                                         invoice_seller=seller(eu_prefix='PL'),
                                         annotations=Annotations(simplified_triangular=True))
    s['consumer_no_id'] = invoice([line(1, 'Rower', 1, '1999.99', '23')],
                                  buyer=Buyer(no_id=True, name='Jan Kowalski',
                                              address=Address(country='PL', line1='ul. Polna 3', line2='05-800 Pruszków')))
    s['jst_recipient'] = invoice(
        [line(1, 'Remont szkoły', 1, '48000', '23')],
        buyer=polish_buyer(nip='5272644470', name='Gmina Miasto Testowo', jst=True),
        third_parties=[ThirdParty(nip='1234563218', name='Szkoła Podstawowa nr 1', role=8,
                                  address=Address(country='PL', line1='ul. Szkolna 1', line2='00-950 Testowo'))])
    s['vat_group_member'] = invoice(
        [line(1, 'Dostawa energii', 1, '9000', '23')],
        buyer=polish_buyer(nip='9512370578', name='Grupa VAT Energia', vat_group=True),
        third_parties=[ThirdParty(nip='7740001454', name='Energia Północ sp. z o.o.', role=10),
                       ThirdParty(internal_id='6824515772-12343', name='Oddział Gdańsk', role=2)])
    s['third_parties_factor_payer'] = invoice(
        [line(1, 'Dostawa stali', 20, '3100', '23', unit='t')],
        third_parties=[ThirdParty(nip='1070001057', name='Faktor Finanse S.A.', role=1),
                       ThirdParty(nip='5213017228', name='Płatnik Sp. z o.o.', role=6, customer_number='K-17'),
                       ThirdParty(eu_country='FR', eu_vat_number='40303265045', name='Co-acheteur SARL',
                                  role=4, share=Decimal('25')),
                       ThirdParty(no_id=True, name='Pełnomocnik', other_role='pełnomocnik do odbioru')],
        payment=Payment(factor_bank_accounts=[BankAccount(number='PL27114020040000300201355387',
                                                          bank_name='mBank S.A.')]))
    s['tax_representative'] = invoice(
        [line(1, 'Wino', 120, '35', '23', unit='butelka')],
        invoice_seller=seller(nip='7251801126', name='Vins de France SAS (przedstawiciel podatkowy)'),
        authorized_party=AuthorizedParty(
            nip='5260250274', name='Reprezentant Podatkowy sp. z o.o.', role=3,
            address=Address(country='PL', line1='ul. Prosta 20', line2='00-850 Warszawa'),
            contacts=[Contact(email='biuro@reprezentant.example')]))
    s['enforcement_authority'] = invoice(
        [line(1, 'Sprzedaż zajętej nieruchomości', 1, '350000', '23')],
        authorized_party=AuthorizedParty(nip='5213017228', name='Komornik Sądowy przy SR Warszawa', role=2,
                                         address=Address(country='PL', line1='ul. Sądowa 1', line2='00-001 Warszawa')))
    # corrections
    before = line(1, 'Laptop', 2, '3500.00', '23', before_correction=True)
    after = line(1, 'Laptop', 2, '3300.00', '23')
    s['kor_of_ksef_invoice'] = invoice(
        [before, after], number='KOR/1/11/2026', invoice_type='KOR', correction_reason='Rabat potransakcyjny',
        correction_type=1, corrected_invoices=[CorrectedInvoice(issue_date=datetime.date(2026, 10, 15),
                                                                number='FV/7/10/2026', ksef_number=ORIGINAL_KSEF_NUMBER)])
    s['kor_outside_ksef'] = invoice(
        [line(1, 'Zwrot towaru', -1, '500', '23')], number='KOR/2/11/2026', invoice_type='KOR',
        correction_reason='Zwrot towaru', correction_type=2,
        corrected_invoices=[CorrectedInvoice(issue_date=datetime.date(2025, 12, 10), number='FV/33/12/2025')],
        buyers_before=[CorrectedBuyer(identity=BuyerIdentity(nip=BUYER_NIP, name='Nowak Handel sp. z o.o.'),
                                      address=Address(country='PL', line1='ul. Stara 1', line2='31-000 Kraków'))],
        seller_before=CorrectedSeller(nip=SELLER_NIP, name='Kowalski i Wspólnicy s.c.',
                                      address=Address(country='PL', line1='ul. Marszałkowska 1')))
    s['kor_collective_discount'] = invoice(
        [line(1, 'Rabat za obrót w październiku', 1, '-1000', '23')], number='KOR/3/11/2026', invoice_type='KOR',
        correction_reason='Rabat za okres', correction_type=3, corrected_period='październik 2026',
        corrected_invoices=[CorrectedInvoice(issue_date=datetime.date(2026, 10, day), number=f'FV/{day}/10/2026',
                                             ksef_number=_ksef(SELLER_NIP, f'202610{day:02d}', f'0100000{day:02d}A0B'))
                            for day in (3, 10, 17, 24)])
    # advances and settlement
    order = Order(value=Decimal('24600.00'), lines=[
        OrderLine(number=1, name='Linia produkcyjna', unit='kpl.', quantity=Decimal(1), unit_price_net=Decimal('20000'),
                  net=Decimal('20000.00'), vat=Decimal('4600.00'), rate='23')])
    advance_lines_totals = TaxTotals(net_basic=Decimal('8130.08'), vat_basic=Decimal('1869.92'))
    s['zal_advance'] = invoice([], number='ZAL/1/11/2026', invoice_type='ZAL', totals=advance_lines_totals,
                               total=Decimal('10000.00'), order=order,
                               payment=Payment(paid_date=datetime.date(2026, 11, 1), method=6))
    s['zal_partial_advances'] = invoice(
        [], number='ZAL/2/11/2026', invoice_type='ZAL', totals=advance_lines_totals, total=Decimal('10000.00'),
        order=order, partial_advances=[PartialAdvance(payment_date=datetime.date(2026, 10, 28), amount=Decimal('4000.00')),
                                       PartialAdvance(payment_date=datetime.date(2026, 10, 31), amount=Decimal('6000.00'))])
    s['roz_settlement'] = invoice(
        [line(1, 'Linia produkcyjna', 1, '20000', '23', unit='kpl.')], number='ROZ/1/11/2026', invoice_type='ROZ',
        totals=TaxTotals(net_basic=Decimal('11869.92'), vat_basic=Decimal('2730.08')), total=Decimal('14600.00'),
        advance_invoices=[AdvanceInvoiceRef(ksef_number=ADVANCE_KSEF_NUMBER),
                          AdvanceInvoiceRef(number_outside_ksef='ZAL/9/09/2026')],
        settlement=Settlement(deductions=[Adjustment(amount=Decimal('10000.00'), reason='Zaliczka ZAL/1/11/2026')],
                              deductions_total=Decimal('10000.00'), to_pay=Decimal('14600.00')))
    s['upr_simplified'] = invoice([line(1, 'Artykuły biurowe', 1, '300.00', '23')], number='UPR/1/11/2026',
                                  invoice_type='UPR', buyer=Buyer(nip=BUYER_NIP), receipt_invoice=True)
    s['kor_zal'] = invoice(
        [], number='KOR-ZAL/1/11/2026', invoice_type='KOR_ZAL', correction_reason='Błędna kwota zaliczki',
        correction_type=2, totals=TaxTotals(net_basic=Decimal('-813.01'), vat_basic=Decimal('-186.99')),
        total=Decimal('-1000.00'), advance_total_before=Decimal('10000.00'),
        corrected_invoices=[CorrectedInvoice(issue_date=datetime.date(2026, 11, 1), number='ZAL/1/11/2026',
                                             ksef_number=ADVANCE_KSEF_NUMBER)], order=order)
    s['kor_roz'] = invoice(
        [line(1, 'Linia produkcyjna', 1, '-200', '23', unit='kpl.')], number='KOR-ROZ/1/11/2026', invoice_type='KOR_ROZ',
        correction_reason='Rabat', correction_type=1,
        corrected_invoices=[CorrectedInvoice(issue_date=datetime.date(2026, 11, 2), number='ROZ/1/11/2026',
                                             ksef_number=_ksef(SELLER_NIP, '20261102', '0100003CC0DE'))],
        advance_invoices=[AdvanceInvoiceRef(ksef_number=ADVANCE_KSEF_NUMBER)])
    # payment, terms, transport, footer, attachment
    s['paid_in_full'] = invoice([line(1, 'Abonament', 1, '99', '23')],
                                payment=Payment(paid_date=ISSUE_DATE, method=2))
    s['payment_complete'] = invoice(
        [line(1, 'Projekt instalacji', 1, '20000', '23')],
        payment=Payment(
            partially_paid=True,
            partial_payments=[PartialPayment(amount=Decimal('5000'), payment_date=datetime.date(2026, 10, 30), method=1),
                              PartialPayment(amount=Decimal('2000'), payment_date=datetime.date(2026, 11, 1),
                                             other_method='kompensata')],
            terms=[PaymentTerm(due_date=datetime.date(2026, 11, 16)),
                   PaymentTerm(term_quantity=30, term_unit='dni', term_start_event='od dnia odbioru końcowego')],
            method=6,
            bank_accounts=[BankAccount(number='PL61109010140000071219812874', swift='WBKPPLPP',
                                       bank_name='Santander Bank Polska', description='rachunek główny'),
                           BankAccount(number='DE89370400440532013000', own_bank_account=2)],
            discount_conditions='zapłata w ciągu 7 dni', discount_amount='2%',
            payment_link='https://pay.example/faktura?IPKSeF=123ABCDEFGHIJ', ipksef='123ABCDEFGHIJ'))
    s['transaction_terms_transport'] = invoice(
        [line(1, 'Palety', 30, '45', '23', gtu='GTU_10')],
        transaction_terms=TransactionTerms(
            contracts=[DocumentRef(date=datetime.date(2026, 1, 5), number='UM/2026/01')],
            orders=[DocumentRef(date=datetime.date(2026, 10, 20), number='ZAM/881'), DocumentRef(number='ZAM/882')],
            batch_numbers=['PARTIA-1', 'PARTIA-2'], delivery_terms='DAP Poznań',
            agreed_exchange_rate=Decimal('4.25'), agreed_currency='EUR',
            transports=[Transport(transport_type=3, carrier=Carrier(
                identity=BuyerIdentity(nip='7740001454', name='Trans-Pol sp. z o.o.'),
                address=Address(country='PL', line1='ul. Transportowa 8', line2='60-001 Poznań')),
                transport_order_number='ZT/55', cargo=9, packaging_unit='paleta',
                start=datetime.datetime(2026, 11, 2, 6, 0, tzinfo=datetime.timezone.utc),
                end=datetime.datetime(2026, 11, 2, 14, 30, tzinfo=datetime.timezone.utc),
                ship_from=Address(country='PL', line1='Magazyn 1, Warszawa'),
                ship_via=[Address(country='PL', line1='Łódź, terminal')],
                ship_to=Address(country='PL', line1='ul. Składowa 3', line2='61-897 Poznań')),
                Transport(other_transport='dron', other_cargo='przesyłka pilna')],
            intermediary=True))
    s['footer_registries'] = invoice(
        [line(1, 'Odbiór odpadów', 1, '750', '8')],
        footer=Footer(infos=[FooterInfo(text='Dziękujemy za współpracę.'), FooterInfo(text='Kapitał zakładowy 50 000 zł')],
                      registries=[Registry(full_name='Kowalski i Wspólnicy sp. z o.o.', krs='0000123456',
                                           regon='123456785', bdo='000012345')]))
    s['line_details_gtu_procedures'] = invoice(
        [line(1, 'Paliwo', 100, '5.20', '23', unit='l', gtu='GTU_02', uuid='a1b2c3', index='PAL-95', gtin='5901234123457',
              pkwiu='19.20.21.0', cn='2710 12 45', supply_date=datetime.date(2026, 10, 31), excise=Decimal('150.00')),
         line(2, 'Budynek', 1, '1000000', '23', unit='szt.', pkob='1122', procedure='I_42', discount=Decimal('0'))],
        delivery_notes=['WZ/1/10', 'WZ/2/10'], period_start=datetime.date(2026, 10, 1),
        period_end=datetime.date(2026, 10, 31), related_parties=True, issue_place='Warszawa',
        additional_info=[AdditionalInfo(key='Nr zlecenia', value='Z-7'),
                         AdditionalInfo(line_number=1, key='Dystrybutor', value='nr 3')])
    s['attachment'] = invoice(
        [line(1, 'Energia elektryczna', 1200, '0.65', '23', unit='kWh')],
        attachment=Attachment(blocks=[DataBlock(
            header='Odczyty liczników', metadata=[KeyValue(key='Punkt poboru', value='PL0001')],
            paragraphs=['Odczyt rzeczywisty.', 'Okres: październik 2026.'],
            tables=[Table(description='Zużycie', metadata=[KeyValue(key='Taryfa', value='G11')],
                          columns=[TableColumn(header='Data', type='date'), TableColumn(header='kWh', type='dec')],
                          rows=[TableRow(cells=['2026-10-01', '600']), TableRow(cells=['2026-10-31', '1800'])],
                          sums=TableRow(cells=['', '1200']))])]))
    s['seller_full_details'] = invoice(
        [line(1, 'Usługa', 1, '100', '23')],
        invoice_seller=seller(eori='PL526587763500000', taxpayer_status=2,
                              correspondence_address=Address(country='PL', line1='skr. poczt. 12', line2='00-950 Warszawa',
                                                             gln='5901234000017'),
                              contacts=[Contact(email='a@kowalski.example'), Contact(phone='221234567'),
                                        Contact(email='b@kowalski.example', phone='601234567')]),
        buyer=polish_buyer(customer_number='K-001', buyer_id='NAB-1', eori='PL680820887400000',
                           contacts=[Contact(email='zakupy@nowak.example')],
                           correspondence_address=Address(country='PL', line1='skr. poczt. 1', line2='31-000 Kraków')))
    return s
