"""Invalid invoices are refused with the right problem codes and paths (semantic checks and XSD)."""
import copy
import datetime
from decimal import Decimal

import pytest

from ksef import fa3
from ksef.fa3 import samples

SCENARIOS = samples.scenarios()


def mutated(name, change):
    invoice = copy.deepcopy(SCENARIOS[name])
    change(invoice)
    return invoice


def codes(invoice, severity=fa3.ERROR):
    return {(p.code, p.path) for p in fa3.validate(fa3.build(invoice)) if p.severity == severity}


def set_attr(path, value):
    def change(invoice):
        *parents, last = path.split('.')
        target = invoice
        for part in parents:
            target = target[int(part)] if part.isdigit() else getattr(target, part)
        setattr(target, last, value)
    return change


CASES = [
    # (scenario, change, expected (code, path) among the errors)
    ('vat_23', set_attr('seller.nip', '5265877636'),
     ('nip.checksum', '/Faktura/Podmiot1/DaneIdentyfikacyjne/NIP')),
    ('vat_23', set_attr('buyer.nip', '6808208875'),
     ('nip.checksum', '/Faktura/Podmiot2/DaneIdentyfikacyjne/NIP')),
    ('vat_group_member', set_attr('third_parties.1.internal_id', '6824515772-12345'),
     ('internal-id.checksum', '/Faktura/Podmiot3[2]/DaneIdentyfikacyjne/IDWew')),
    ('tax_representative', set_attr('authorized_party.nip', '5260250275'),
     ('nip.checksum', '/Faktura/PodmiotUpowazniony/DaneIdentyfikacyjne/NIP')),
    ('vat_mixed_23_8_5', set_attr('body.totals.net_reduced_1', Decimal('1.00')),
     ('totals.bucket-mismatch', '/Faktura/Fa/P_13_2')),
    ('vat_mixed_23_8_5', set_attr('body.total', Decimal('1.00')),
     ('totals.p15-mismatch', '/Faktura/Fa/P_15')),
    ('vat_mixed_23_8_5', set_attr('body.totals.vat_basic', Decimal('0.00')),
     ('totals.vat-mismatch', '/Faktura/Fa/P_14_1')),
    ('vat_mixed_23_8_5', set_attr('body.lines.2.rate', '23'),      # the 5 % line moved to 23 %: buckets no longer add up
     ('totals.bucket-without-lines', '/Faktura/Fa/P_13_3')),
    ('vat_mixed_23_8_5', set_attr('body.lines.2.rate', 'zw'),       # 5 % shown as exempt: P_13_7 missing
     ('totals.bucket-missing', '/Faktura/Fa/P_13_7')),
    ('vat_23', set_attr('body.lines.0.rate', None),
     ('line.rate-missing', '/Faktura/Fa/FaWiersz[1]/P_12')),
    ('kor_of_ksef_invoice', set_attr('body.corrected_invoices', []),
     ('correction.missing-original', '/Faktura/Fa/DaneFaKorygowanej')),
    ('vat_23', set_attr('body.correction_reason', 'pomyłka'),
     ('correction.not-a-correction', '/Faktura/Fa/RodzajFaktury')),
    ('kor_of_ksef_invoice', set_attr('body.corrected_invoices.0.ksef_number', '5265877635-20261015-0100001AF629-00'),
     ('ksef-number.invalid', '/Faktura/Fa/DaneFaKorygowanej[1]/NrKSeFFaKorygowanej')),
    ('roz_settlement', set_attr('body.advance_invoices', []),
     ('settlement.missing-advances', '/Faktura/Fa/FakturaZaliczkowa')),
    ('exempt_statute', set_attr('body.annotations.exemption_statute', None),
     ('exemption.basis-missing', '/Faktura/Fa/Adnotacje/Zwolnienie')),
    ('foreign_currency_eur', set_attr('body.totals.vat_basic_pln', None),
     ('currency.vat-pln-missing', '/Faktura/Fa/P_14_1W')),
    ('vat_23', set_attr('body.totals.vat_basic_pln', Decimal('10.00')),
     ('currency.vat-pln-not-allowed', '/Faktura/Fa/P_14_1W')),
    ('reverse_charge_oo', set_attr('body.annotations.reverse_charge', False),
     ('reverse-charge.annotation-missing', '/Faktura/Fa/Adnotacje/P_18')),
    ('split_payment', set_attr('body.annotations.split_payment', False),
     ('split-payment.required', '/Faktura/Fa/Adnotacje/P_18A')),
    ('new_vehicle', set_attr('body.annotations.new_vehicles_art_42_5', None),
     ('new-vehicles.art-42-5-missing', '/Faktura/Fa/Adnotacje/NoweSrodkiTransportu/P_42_5')),
    ('payment_complete', set_attr('body.payment.bank_accounts.0.number', 'PL61109010140000071219812875'),
     ('payment.account-checksum', '/Faktura/Fa/Platnosc/RachunekBankowy[1]/NrRB')),
    ('payment_complete', set_attr('body.payment.payment_link', 'https://pay.example/faktura'),
     ('payment.link-without-ipksef', '/Faktura/Fa/Platnosc/LinkDoPlatnosci')),
    ('vat_mixed_23_8_5', set_attr('body.lines.1.number', 1),
     ('line.duplicate-number', '/Faktura/Fa/FaWiersz[2]/NrWierszaFa')),
    ('vat_23', set_attr('body.totals.vat_basic', None),
     ('totals.incomplete-bucket', '/Faktura/Fa/P_14_1')),
    ('vat_23', set_attr('body.advance_invoices', [fa3.AdvanceInvoiceRef(ksef_number=samples.ADVANCE_KSEF_NUMBER)]),
     ('settlement.advances-not-allowed', '/Faktura/Fa/FakturaZaliczkowa')),
    ('line_details_gtu_procedures', set_attr('body.period_end', datetime.date(2026, 9, 30)),
     ('dates.period-reversed', '/Faktura/Fa/OkresFa')),
    ('vat_23', set_attr('body.lines.0.exchange_rate', Decimal('4.1')),
     ('currency.rate-not-allowed', '/Faktura/Fa/FaWiersz/KursWaluty')),
    # the XSD's own rules
    ('vat_23', set_attr('body.number', 'x' * 257), ('xsd', '/Faktura/Fa/P_2')),
    ('vat_23', set_attr('body.currency', 'XYZ'), ('xsd', '/Faktura/Fa/KodWaluty')),
    ('vat_23', set_attr('body.lines.0.rate', '19'), ('xsd', '/Faktura/Fa/FaWiersz/P_12')),
    ('vat_23', set_attr('body.lines.0.net', Decimal('1500.001')), ('xsd', '/Faktura/Fa/FaWiersz/P_11')),
    ('vat_23', set_attr('header.created_at', datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)),
     ('xsd', '/Faktura/Naglowek/DataWytworzeniaFa')),
    # NIP and an EU VAT number together: the XSD choice allows one identifier
    ('zero_wdt', set_attr('buyer.nip', samples.BUYER_NIP), ('xsd', '/Faktura/Podmiot2/DaneIdentyfikacyjne/KodUE')),
]


@pytest.mark.parametrize('name, change, expected', CASES, ids=[f'{c[0]}-{c[2][0]}-{i}' for i, c in enumerate(CASES)])
def test_invalid_invoice_is_refused_with_code_and_path(name, change, expected):
    found = codes(mutated(name, change))
    assert expected in found, found


def test_valid_variants_are_not_flagged():
    """Checks do not cry wolf: rounding per line, a correction repeating a line number for the row before."""
    invoice = mutated('vat_mixed_23_8_5', set_attr('body.totals.vat_basic',
                                                   SCENARIOS['vat_mixed_23_8_5'].body.totals.vat_basic + Decimal('0.01')))
    invoice.body.total += Decimal('0.01')
    assert codes(invoice) == set()
    assert codes(SCENARIOS['kor_of_ksef_invoice']) == set()


@pytest.mark.parametrize('name, change, expected', [
    ('vat_23', set_attr('body.supply_date', samples.ISSUE_DATE), ('dates.supply-equals-issue', '/Faktura/Fa/P_6')),
    ('vat_23', set_attr('body.annotations.exemption_statute', 'art. 43'),
     ('exemption.without-exempt-supply', '/Faktura/Fa/Adnotacje/Zwolnienie')),
    ('jst_recipient', set_attr('third_parties', []), ('buyer.jst-recipient-missing', '/Faktura/Podmiot3')),
    ('vat_group_member', set_attr('third_parties', []), ('buyer.vat-group-member-missing', '/Faktura/Podmiot3')),
    ('vat_23', set_attr('body.lines.0.net', Decimal('1499.00')), ('line.net-mismatch', '/Faktura/Fa/FaWiersz[1]/P_11')),
    ('zal_advance', set_attr('body.order', None), ('advance.missing-order', '/Faktura/Fa/Zamowienie')),
    ('margin_travel', set_attr('body.totals', fa3.TaxTotals()), ('margin.amount-missing', '/Faktura/Fa/P_13_11')),
    ('vat_23', set_attr('body.annotations.reverse_charge', True),
     ('reverse-charge.without-supply', '/Faktura/Fa/Adnotacje/P_18')),
    ('payment_complete', set_attr('body.payment.partial_payments.0.amount', Decimal('30000')),
     ('payment.overpaid', '/Faktura/Fa/Platnosc/ZaplataCzesciowa')),
])
def test_warnings(name, change, expected):
    invoice = mutated(name, change)
    assert expected in codes(invoice, severity=fa3.WARNING)


def test_every_problem_has_code_path_and_message():
    invoice = mutated('vat_mixed_23_8_5', set_attr('seller.nip', '5265877636'))
    invoice.body.total = Decimal('1')
    problems = fa3.validate(fa3.build(invoice))
    assert len(problems) >= 2
    for problem in problems:
        assert problem.code and problem.path.startswith('/Faktura') and problem.message
        assert problem.severity in (fa3.ERROR, fa3.WARNING)


def test_validate_invoice_checks_dataclasses_before_any_xml_is_stored():
    invoice = mutated('vat_23', set_attr('seller.nip', '5265877636'))
    assert ('nip.checksum', '/Faktura/Podmiot1/DaneIdentyfikacyjne/NIP') in {
        (p.code, p.path) for p in fa3.validate_invoice(invoice)}
    assert fa3.validate_invoice(SCENARIOS['vat_23']) == []


def test_every_emitted_code_is_registered_and_documented():
    import pathlib
    import re
    from ksef.fa3 import problems
    source = ''.join(p.read_text(encoding='utf-8') for p in pathlib.Path(fa3.__file__).parent.glob('*.py')
                     if p.name != 'problems.py')
    emitted = set(re.findall(r"'((?:file|structure|nip|internal-id|ksef-number|correction|settlement|advance|"
                             r"dates|line|totals|currency|exemption|reverse-charge|new-vehicles|margin|"
                             r"split-payment|buyer|payment)\.[a-z0-9-]+)'", source)) | {'xsd'}
    assert emitted == set(problems.CODES)
    doc = (pathlib.Path(fa3.__file__).parents[2] / 'doc' / 'fa3.md').read_text(encoding='utf-8')
    assert {code for code in problems.CODES if f'`{code}`' not in doc} == set()
