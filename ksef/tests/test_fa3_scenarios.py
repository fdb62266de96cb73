"""Every sample scenario builds to XSD-valid, semantically clean, deterministic FA(3) that parses back equal,
and the XML carries the legally relevant values of its inputs in the right elements."""
import copy
from decimal import Decimal

import pytest
from lxml import etree

from ksef import fa3
from ksef.fa3 import checks, samples

SCENARIOS = samples.scenarios()
NS = {'f': fa3.NAMESPACE}


def xml_of(name):
    return etree.fromstring(fa3.build(SCENARIOS[name]))


def text(root, path):
    found = root.xpath(path, namespaces=NS)
    assert found, f'{path} not found'
    return found[0].text


def test_at_least_thirty_distinct_scenarios_cover_every_type_and_rate():
    assert len(SCENARIOS) >= 30
    assert {inv.body.invoice_type for inv in SCENARIOS.values()} == set(fa3.INVOICE_TYPES)
    rates = {line.rate for inv in SCENARIOS.values() for line in inv.body.lines if line.rate}
    assert rates == set(fa3.VAT_RATES)
    assert {inv.body.annotations.margin_scheme for inv in SCENARIOS.values()} >= set(fa3.MARGIN_SCHEMES)


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_scenario_is_valid_deterministic_and_round_trips(name):
    invoice = SCENARIOS[name]
    xml = fa3.build(invoice)
    assert fa3.validate(xml) == []
    assert fa3.build(copy.deepcopy(invoice)) == xml
    assert fa3.parse(xml) == invoice
    assert not xml.startswith(b'\xef\xbb\xbf')
    xml.decode('utf-8')
    root = etree.fromstring(xml)
    assert root.tag == f'{{{fa3.NAMESPACE}}}Faktura'
    form = root.find('f:Naglowek/f:KodFormularza', NS)
    assert (form.text, form.get('kodSystemowy'), form.get('wersjaSchemy')) == ('FA', 'FA (3)', '1-0E')
    assert text(root, 'f:Fa/f:RodzajFaktury') == invoice.body.invoice_type


# advance and settlement lines describe the order, not the buckets: only the other types are summed here
@pytest.mark.parametrize('name', sorted(n for n, inv in SCENARIOS.items()
                                        if inv.body.invoice_type in checks.LINE_TOTAL_TYPES))
def test_every_line_rate_lands_in_its_bucket(name):
    """The P_13_x of each P_12 bucket holds the sum of its lines' nets (for types whose lines are the sale)."""
    invoice = SCENARIOS[name]
    root = xml_of(name)
    expected = {}
    for line in invoice.body.lines:
        if line.rate:
            tag = checks.TOTAL_TAGS[checks.BUCKETS[line.rate][0]]
            expected[tag] = expected.get(tag, Decimal(0)) + (-line.net if line.before_correction else line.net)
    for tag, amount in expected.items():
        assert Decimal(text(root, f'f:Fa/f:{tag}')) == amount
    present = {el.tag.split('}')[1] for el in root.find('f:Fa', NS) if el.tag.split('}')[1].startswith('P_13_')}
    assert present == set(expected) or not expected


def test_mixed_rates_p15_is_net_plus_vat():
    root = xml_of('vat_mixed_23_8_5')
    amounts = [Decimal(text(root, f'f:Fa/f:{tag}')) for tag in
               ('P_13_1', 'P_14_1', 'P_13_2', 'P_14_2', 'P_13_3', 'P_14_3')]
    assert Decimal(text(root, 'f:Fa/f:P_15')) == sum(amounts)
    assert Decimal(text(root, 'f:Fa/f:P_14_3')) == (Decimal(text(root, 'f:Fa/f:P_13_3')) * Decimal('0.05')).quantize(
        Decimal('0.01'))


def test_eu_buyer_is_identified_by_kod_ue_and_vat_number_not_a_generic_id():
    root = xml_of('zero_wdt')
    buyer = SCENARIOS['zero_wdt'].buyer
    assert text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:KodUE') == buyer.eu_country
    assert text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:NrVatUE') == buyer.eu_vat_number
    assert not root.xpath('f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID', namespaces=NS)
    assert text(root, 'f:Podmiot1/f:PrefiksPodatnika') == 'PL'


def test_export_buyer_has_country_and_foreign_id():
    root = xml_of('zero_export')
    assert text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:KodKraju') == 'US'
    assert text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:NrID') == samples.EXPORT_BUYER.tax_id


@pytest.mark.parametrize('name, element', [('exempt_statute', 'P_19A'), ('exempt_directive', 'P_19B'),
                                           ('exempt_other_basis', 'P_19C')])
def test_exemption_carries_its_legal_basis(name, element):
    root = xml_of(name)
    notes = SCENARIOS[name].body.annotations
    assert text(root, 'f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19') == '1'
    assert text(root, f'f:Fa/f:Adnotacje/f:Zwolnienie/f:{element}') == notes.exemption_basis
    assert not root.xpath('f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19N', namespaces=NS)


def test_no_exemption_writes_p19n():
    assert text(xml_of('vat_23'), 'f:Fa/f:Adnotacje/f:Zwolnienie/f:P_19N') == '1'


def test_adnotacje_has_all_children_in_schema_order():
    root = xml_of('vat_23')
    names = [el.tag.split('}')[1] for el in root.find('f:Fa/f:Adnotacje', NS)]
    assert names == ['P_16', 'P_17', 'P_18', 'P_18A', 'Zwolnienie', 'NoweSrodkiTransportu', 'P_23', 'PMarzy']


@pytest.mark.parametrize('name, element', [('cash_accounting', 'P_16'), ('self_billing', 'P_17'),
                                           ('reverse_charge_oo', 'P_18'), ('split_payment', 'P_18A'),
                                           ('simplified_triangular', 'P_23')])
def test_annotation_flags(name, element):
    root = xml_of(name)
    assert text(root, f'f:Fa/f:Adnotacje/f:{element}') == '1'
    others = {'P_16', 'P_17', 'P_18', 'P_18A', 'P_23'} - {element}
    assert {text(root, f'f:Fa/f:Adnotacje/f:{other}') for other in others} == {'2'}


@pytest.mark.parametrize('scheme, element', [('travel', 'P_PMarzy_2'), ('used_goods', 'P_PMarzy_3_1'),
                                             ('works_of_art', 'P_PMarzy_3_2'), ('antiques', 'P_PMarzy_3_3')])
def test_margin_schemes(scheme, element):
    name = f'margin_{scheme}'
    root = xml_of(name)
    assert text(root, 'f:Fa/f:Adnotacje/f:PMarzy/f:P_PMarzy') == '1'
    assert text(root, f'f:Fa/f:Adnotacje/f:PMarzy/f:{element}') == '1'
    assert Decimal(text(root, 'f:Fa/f:P_13_11')) == SCENARIOS[name].body.totals.net_margin
    assert fa3.parse(fa3.build(SCENARIOS[name])).body.annotations.margin_scheme == scheme


def test_new_vehicle_block():
    root = xml_of('new_vehicle')
    vehicle = SCENARIOS['new_vehicle'].body.annotations.new_vehicles[0]
    base = 'f:Fa/f:Adnotacje/f:NoweSrodkiTransportu'
    assert text(root, f'{base}/f:P_22') == '1'
    assert text(root, f'{base}/f:P_42_5') == '2'
    assert text(root, f'{base}/f:NowySrodekTransportu/f:P_22B1') == vehicle.land_vin


def test_foreign_currency_keeps_amounts_in_currency_and_vat_in_pln():
    invoice = SCENARIOS['foreign_currency_eur']
    root = xml_of('foreign_currency_eur')
    rate = invoice.body.lines[0].exchange_rate
    assert text(root, 'f:Fa/f:KodWaluty') == 'EUR'
    for vat_tag in ('P_14_1', 'P_14_2'):
        vat = Decimal(text(root, f'f:Fa/f:{vat_tag}'))
        assert Decimal(text(root, f'f:Fa/f:{vat_tag}W')) == (vat * rate).quantize(Decimal('0.01'))
    # P_15 stays in the invoice currency (not PLN)
    assert Decimal(text(root, 'f:Fa/f:P_15')) == sum(
        Decimal(text(root, f'f:Fa/f:{t}')) for t in ('P_13_1', 'P_14_1', 'P_13_2', 'P_14_2'))
    assert text(root, 'f:Fa/f:FaWiersz[1]/f:KursWaluty') == str(rate)
    assert len(str(rate).split('.')[1]) <= 6


def test_correction_of_ksef_invoice_refers_to_its_ksef_number():
    root = xml_of('kor_of_ksef_invoice')
    base = 'f:Fa/f:DaneFaKorygowanej'
    assert text(root, f'{base}/f:NrKSeF') == '1'
    assert text(root, f'{base}/f:NrKSeFFaKorygowanej') == samples.ORIGINAL_KSEF_NUMBER
    assert not root.xpath(f'{base}/f:NrKSeFN', namespaces=NS)
    assert text(root, 'f:Fa/f:FaWiersz[1]/f:StanPrzed') == '1'
    assert Decimal(text(root, 'f:Fa/f:P_13_1')) == Decimal('-400.00')


def test_correction_of_invoice_outside_ksef_says_so():
    root = xml_of('kor_outside_ksef')
    assert text(root, 'f:Fa/f:DaneFaKorygowanej/f:NrKSeFN') == '1'
    assert not root.xpath('f:Fa/f:DaneFaKorygowanej/f:NrKSeF', namespaces=NS)
    assert text(root, 'f:Fa/f:Podmiot2K/f:DaneIdentyfikacyjne/f:NIP') == samples.BUYER_NIP
    assert text(root, 'f:Fa/f:TypKorekty') == '2'


def test_collective_correction_lists_every_invoice():
    invoice = SCENARIOS['kor_collective_discount']
    root = xml_of('kor_collective_discount')
    numbers = root.xpath('f:Fa/f:DaneFaKorygowanej/f:NrKSeFFaKorygowanej/text()', namespaces=NS)
    assert numbers == [c.ksef_number for c in invoice.body.corrected_invoices]
    assert text(root, 'f:Fa/f:OkresFaKorygowanej') == invoice.body.corrected_period


def test_advance_invoice_describes_the_order():
    invoice = SCENARIOS['zal_advance']
    root = xml_of('zal_advance')
    assert Decimal(text(root, 'f:Fa/f:Zamowienie/f:WartoscZamowienia')) == invoice.body.order.value
    assert text(root, 'f:Fa/f:Platnosc/f:Zaplacono') == '1'
    partial = xml_of('zal_partial_advances').xpath('f:Fa/f:ZaliczkaCzesciowa/f:P_15Z/text()', namespaces=NS)
    assert sum(map(Decimal, partial)) == SCENARIOS['zal_partial_advances'].body.total


def test_settlement_lists_advances_in_and_outside_ksef():
    root = xml_of('roz_settlement')
    refs = root.findall('f:Fa/f:FakturaZaliczkowa', NS)
    assert refs[0].findtext('f:NrKSeFFaZaliczkowej', namespaces=NS) == samples.ADVANCE_KSEF_NUMBER
    assert refs[1].findtext('f:NrKSeFZN', namespaces=NS) == '1'
    assert refs[1].findtext('f:NrFaZaliczkowej', namespaces=NS) == 'ZAL/9/09/2026'
    assert Decimal(text(root, 'f:Fa/f:Rozliczenie/f:SumaOdliczen')) == Decimal('10000.00')


def test_jst_and_vat_group_third_parties():
    root = xml_of('jst_recipient')
    assert text(root, 'f:Podmiot2/f:JST') == '1'
    assert text(root, 'f:Podmiot3/f:Rola') == '8'
    root = xml_of('vat_group_member')
    assert text(root, 'f:Podmiot2/f:GV') == '1'
    assert text(root, 'f:Podmiot3[2]/f:DaneIdentyfikacyjne/f:IDWew') == '6824515772-12343'


def test_other_role_and_share():
    root = xml_of('third_parties_factor_payer')
    assert text(root, 'f:Podmiot3[4]/f:RolaInna') == '1'
    assert text(root, 'f:Podmiot3[4]/f:OpisRoli') == 'pełnomocnik do odbioru'
    assert text(root, 'f:Podmiot3[3]/f:Udzial') == '25'


def test_authorized_party_uses_its_own_contact_element_names():
    root = xml_of('tax_representative')
    assert text(root, 'f:PodmiotUpowazniony/f:DaneKontaktowe/f:EmailPU') == 'biuro@reprezentant.example'
    assert text(root, 'f:PodmiotUpowazniony/f:RolaPU') == '3'


def test_payment_block_order_and_content():
    root = xml_of('payment_complete')
    names = [el.tag.split('}')[1] for el in root.find('f:Fa/f:Platnosc', NS)]
    assert names.index('ZaplataCzesciowa') < names.index('TerminPlatnosci') < names.index('RachunekBankowy')
    assert text(root, 'f:Fa/f:Platnosc/f:TerminPlatnosci[2]/f:TerminOpis/f:Ilosc') == '30'
    assert text(root, 'f:Fa/f:Platnosc/f:ZaplataCzesciowa[2]/f:PlatnoscInna') == '1'
    assert text(root, 'f:Fa/f:Platnosc/f:IPKSeF') == '123ABCDEFGHIJ'


def test_transport_and_footer_and_attachment():
    root = xml_of('transaction_terms_transport')
    assert text(root, 'f:Fa/f:WarunkiTransakcji/f:Transport/f:Przewoznik/f:DaneIdentyfikacyjne/f:NIP') == '7740001454'
    assert text(root, 'f:Fa/f:WarunkiTransakcji/f:Transport/f:DataGodzRozpTransportu') == '2026-11-02T06:00:00Z'
    assert text(root, 'f:Fa/f:WarunkiTransakcji/f:Transport[2]/f:LadunekInny') == '1'
    root = xml_of('footer_registries')
    assert text(root, 'f:Stopka/f:Rejestry/f:KRS') == '0000123456'
    root = xml_of('attachment')
    assert root.find('f:Zalacznik/f:BlokDanych/f:Tabela/f:TNaglowek/f:Kol', NS).get('Typ') == 'date'
    assert root.xpath('f:Zalacznik/f:BlokDanych/f:Tabela/f:Wiersz[2]/f:WKom/text()', namespaces=NS) == [
        '2026-10-31', '1800']


def test_gtu_procedure_and_line_identifiers():
    root = xml_of('line_details_gtu_procedures')
    assert text(root, 'f:Fa/f:FaWiersz[1]/f:GTU') == 'GTU_02'
    assert text(root, 'f:Fa/f:FaWiersz[2]/f:Procedura') == 'I_42'
    assert text(root, 'f:Fa/f:OkresFa/f:P_6_Od') == '2026-10-01'
    assert root.xpath('f:Fa/f:WZ/text()', namespaces=NS) == ['WZ/1/10', 'WZ/2/10']
    assert text(root, 'f:Fa/f:DodatkowyOpis[2]/f:NrWiersza') == '1'


def test_builder_refuses_floats_and_names_the_field():
    invoice = copy.deepcopy(SCENARIOS['vat_23'])
    invoice.body.lines[0].quantity = 1.5
    with pytest.raises(TypeError, match=r'InvoiceLine.quantity \(P_8B\)'):
        fa3.build(invoice)


def test_consumer_without_id():
    root = xml_of('consumer_no_id')
    assert text(root, 'f:Podmiot2/f:DaneIdentyfikacyjne/f:BrakID') == '1'
    assert not root.xpath('f:Podmiot2/f:DaneIdentyfikacyjne/f:NIP', namespaces=NS)
