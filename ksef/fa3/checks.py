"""Semantic checks of an FA(3) invoice: the rules the XSD cannot express.

``check(invoice)`` returns a list of Problems (never raises for bad data). Codes are stable; the Odoo
layer translates them and points the accountant at the field to fix.
"""
import decimal
from decimal import Decimal

from .. import identifiers
from .model import CORRECTION_TYPES
from .problems import ERROR, WARNING, Problem

CENT = Decimal('0.01')
SPLIT_PAYMENT_THRESHOLD = Decimal('15000')

# P_12 -> (net attribute, VAT attribute, VAT-in-PLN attribute, rate in %) of TaxTotals
BUCKETS = {
    '23': ('net_basic', 'vat_basic', 'vat_basic_pln', Decimal(23)),
    '22': ('net_basic', 'vat_basic', 'vat_basic_pln', Decimal(22)),
    '8': ('net_reduced_1', 'vat_reduced_1', 'vat_reduced_1_pln', Decimal(8)),
    '7': ('net_reduced_1', 'vat_reduced_1', 'vat_reduced_1_pln', Decimal(7)),
    '5': ('net_reduced_2', 'vat_reduced_2', 'vat_reduced_2_pln', Decimal(5)),
    '4': ('net_taxi', 'vat_taxi', 'vat_taxi_pln', Decimal(4)),
    '3': ('net_taxi', 'vat_taxi', 'vat_taxi_pln', Decimal(3)),
    '0 KR': ('net_zero_domestic', None, None, None),
    '0 WDT': ('net_zero_wdt', None, None, None),
    '0 EX': ('net_zero_export', None, None, None),
    'zw': ('net_exempt', None, None, None),
    'np I': ('net_np_i', None, None, None),
    'np II': ('net_np_ii', None, None, None),
    'oo': ('net_reverse_charge', None, None, None),
}
# XML names of the TaxTotals attributes, for paths and messages
TOTAL_TAGS = {
    'net_basic': 'P_13_1', 'vat_basic': 'P_14_1', 'vat_basic_pln': 'P_14_1W',
    'net_reduced_1': 'P_13_2', 'vat_reduced_1': 'P_14_2', 'vat_reduced_1_pln': 'P_14_2W',
    'net_reduced_2': 'P_13_3', 'vat_reduced_2': 'P_14_3', 'vat_reduced_2_pln': 'P_14_3W',
    'net_taxi': 'P_13_4', 'vat_taxi': 'P_14_4', 'vat_taxi_pln': 'P_14_4W',
    'net_oss': 'P_13_5', 'vat_oss': 'P_14_5',
    'net_zero_domestic': 'P_13_6_1', 'net_zero_wdt': 'P_13_6_2', 'net_zero_export': 'P_13_6_3',
    'net_exempt': 'P_13_7', 'net_np_i': 'P_13_8', 'net_np_ii': 'P_13_9', 'net_reverse_charge': 'P_13_10',
    'net_margin': 'P_13_11',
}
NET_ATTRS = [a for a in TOTAL_TAGS if a.startswith('net_')]
VAT_ATTRS = ['vat_basic', 'vat_reduced_1', 'vat_reduced_2', 'vat_taxi', 'vat_oss']
# Types whose lines list what is sold, so that per-rate line nets must add up to the buckets.
# (ZAL buckets hold the advance, ROZ buckets the rest to pay: their lines describe the whole order.)
LINE_TOTAL_TYPES = ('VAT', 'KOR', 'UPR')

FA = '/Faktura/Fa'


class _Collector(list):
    def add(self, code, path, message, *params, severity=ERROR):
        self.append(Problem(code=code, path=path, message=message, severity=severity, params=params))


def check(invoice):
    with decimal.localcontext() as context:
        # products and sums of numbers of up to 30 digits (the reader's limit), exact and never overflowing
        context.prec = 100
        return _check(invoice)


def _check(invoice):
    problems = _Collector()
    _check_identifiers(invoice, problems)
    _check_invoice_type(invoice.body, problems)
    _check_lines(invoice.body, problems)
    _check_totals(invoice.body, problems)
    _check_currency(invoice.body, problems)
    _check_annotations(invoice.body, problems)
    _check_buyer_flags(invoice, problems)
    _check_payment(invoice.body, problems)
    return list(problems)


# --- identifiers -----------------------------------------------------------------------------------

def _check_nip(nip, path, problems):
    if nip is not None:
        reason = identifiers.check_nip(nip)
        if reason:
            problems.add('nip.checksum', path, f'NIP {nip} is invalid: {reason}', nip)


def _check_ksef_number(number, path, problems):
    if number is not None:
        reason = identifiers.check_ksef_number(number)
        if reason:
            problems.add('ksef-number.invalid', path, f'KSeF number {number} is invalid: {reason}', number)


def _check_identifiers(invoice, problems):
    _check_nip(invoice.seller.nip, '/Faktura/Podmiot1/DaneIdentyfikacyjne/NIP', problems)
    _check_nip(invoice.buyer.nip, '/Faktura/Podmiot2/DaneIdentyfikacyjne/NIP', problems)
    for index, party in enumerate(invoice.third_parties, 1):
        base = f'/Faktura/Podmiot3[{index}]/DaneIdentyfikacyjne'
        _check_nip(party.nip, f'{base}/NIP', problems)
        if party.internal_id is not None:
            reason = identifiers.check_internal_id(party.internal_id)
            if reason:
                problems.add('internal-id.checksum', f'{base}/IDWew',
                             f'internal ID {party.internal_id} is invalid: {reason}', party.internal_id)
    if invoice.authorized_party:
        _check_nip(invoice.authorized_party.nip, '/Faktura/PodmiotUpowazniony/DaneIdentyfikacyjne/NIP', problems)
    body = invoice.body
    for index, corrected in enumerate(body.corrected_invoices, 1):
        _check_ksef_number(corrected.ksef_number, f'{FA}/DaneFaKorygowanej[{index}]/NrKSeFFaKorygowanej', problems)
    for index, advance in enumerate(body.advance_invoices, 1):
        _check_ksef_number(advance.ksef_number, f'{FA}/FakturaZaliczkowa[{index}]/NrKSeFFaZaliczkowej', problems)


# --- invoice type ----------------------------------------------------------------------------------

def _check_invoice_type(body, problems):
    is_correction = body.invoice_type in CORRECTION_TYPES
    if is_correction and not body.corrected_invoices:
        problems.add('correction.missing-original', f'{FA}/DaneFaKorygowanej',
                     f'a correction ({body.invoice_type}) must name the invoice it corrects (DaneFaKorygowanej)',
                     body.invoice_type)
    if not is_correction and (body.corrected_invoices or body.correction_reason or body.correction_type):
        problems.add('correction.not-a-correction', f'{FA}/RodzajFaktury',
                     f'correction data is only allowed on KOR, KOR_ZAL and KOR_ROZ invoices, not on '
                     f'{body.invoice_type}', body.invoice_type)
    if body.invoice_type == 'ROZ' and not body.advance_invoices:
        problems.add('settlement.missing-advances', f'{FA}/FakturaZaliczkowa',
                     'a settlement invoice (ROZ) must list the advance invoices it settles (FakturaZaliczkowa)')
    if body.invoice_type != 'ROZ' and body.invoice_type != 'KOR_ROZ' and body.advance_invoices:
        problems.add('settlement.advances-not-allowed', f'{FA}/FakturaZaliczkowa',
                     f'advance invoices can only be listed on ROZ and KOR_ROZ invoices, not on {body.invoice_type}',
                     body.invoice_type)
    if body.invoice_type == 'ZAL' and body.order is None and not body.lines:
        problems.add('advance.missing-order', f'{FA}/Zamowienie',
                     'an advance invoice (ZAL) should describe the order it is paid for (Zamowienie)',
                     severity=WARNING)
    if body.supply_date is not None and body.supply_date == body.issue_date:
        problems.add('dates.supply-equals-issue', f'{FA}/P_6',
                     'P_6 (supply date) is only given when it differs from the issue date P_1', severity=WARNING)
    if body.period_start and body.period_end and body.period_start > body.period_end:
        problems.add('dates.period-reversed', f'{FA}/OkresFa', 'the invoiced period ends before it starts')


# --- lines -----------------------------------------------------------------------------------------

def _check_lines(body, problems):
    seen = set()
    margin = body.annotations.margin_scheme is not None
    for index, line in enumerate(body.lines, 1):
        path = f'{FA}/FaWiersz[{index}]'
        # a correction may repeat a line number once: the row before (StanPrzed) and the row after
        key = (line.number, line.before_correction)
        if key in seen:
            problems.add('line.duplicate-number', f'{path}/NrWierszaFa',
                         f'line number {line.number} is used twice', line.number)
        seen.add(key)
        has_amount = line.net is not None or line.gross is not None
        if has_amount and line.rate is None and line.oss_rate is None and not margin \
                and body.invoice_type not in ('ZAL', 'KOR_ZAL'):
            problems.add('line.rate-missing', f'{path}/P_12',
                         f'line {line.number} ({line.name or "no name"}) has an amount but no VAT rate (P_12)',
                         line.number)
        if line.quantity is not None and line.unit_price_net is not None and line.net is not None \
                and line.discount is None and not line.before_correction:
            expected = (line.quantity * line.unit_price_net).quantize(CENT)
            if abs(expected - line.net) > CENT:
                problems.add('line.net-mismatch', f'{path}/P_11',
                             f'line {line.number}: quantity x unit price = {expected}, but the net value is '
                             f'{line.net}', line.number, str(expected), str(line.net), severity=WARNING)


# --- totals ----------------------------------------------------------------------------------------

def _sum_lines_per_bucket(body):
    """Net per bucket attribute from the lines (rows before correction count negative), and line counts;
    None when some line has no net value (gross-priced lines cannot be compared)."""
    sums, counts = {}, {}
    for line in body.lines:
        if line.rate is None:
            continue
        if line.net is None:
            return None, None
        attr = BUCKETS[line.rate][0] if line.rate in BUCKETS else None
        if attr is None:
            continue
        sign = -1 if line.before_correction else 1
        sums[attr] = sums.get(attr, Decimal(0)) + sign * line.net
        counts[attr] = counts.get(attr, 0) + 1
    return sums, counts


def _check_totals(body, problems):
    totals = body.totals
    for net_attr, vat_attr in (('net_basic', 'vat_basic'), ('net_reduced_1', 'vat_reduced_1'),
                               ('net_reduced_2', 'vat_reduced_2'), ('net_taxi', 'vat_taxi')):
        if (getattr(totals, net_attr) is None) != (getattr(totals, vat_attr) is None):
            problems.add('totals.incomplete-bucket', f'{FA}/{TOTAL_TAGS[vat_attr]}',
                         f'{TOTAL_TAGS[net_attr]} and {TOTAL_TAGS[vat_attr]} go together', TOTAL_TAGS[net_attr])
    amounts = [getattr(totals, a) for a in NET_ATTRS + VAT_ATTRS]
    if any(a is not None for a in amounts):
        expected = sum((a for a in amounts if a is not None), Decimal(0))
        if abs(expected - body.total) > CENT:
            problems.add('totals.p15-mismatch', f'{FA}/P_15',
                         f'P_15 is {body.total}, but the net and VAT amounts per rate add up to {expected}',
                         str(body.total), str(expected))
    if body.invoice_type in LINE_TOTAL_TYPES and body.lines:
        _check_lines_against_buckets(body, problems)
    _check_vat_per_rate(body, problems)


def _check_lines_against_buckets(body, problems):
    sums, counts = _sum_lines_per_bucket(body)
    if sums is None:
        return
    totals = body.totals
    for attr in NET_ATTRS:
        if attr in ('net_oss', 'net_margin'):
            continue  # no P_12 value leads to these buckets
        declared = getattr(totals, attr)
        from_lines = sums.get(attr)
        if from_lines is None and declared is None:
            continue
        if from_lines is None:
            problems.add('totals.bucket-without-lines', f'{FA}/{TOTAL_TAGS[attr]}',
                         f'{TOTAL_TAGS[attr]} is {declared}, but no line has a rate of this bucket',
                         TOTAL_TAGS[attr], str(declared))
        elif declared is None:
            problems.add('totals.bucket-missing', f'{FA}/{TOTAL_TAGS[attr]}',
                         f'lines at this rate add up to {from_lines} net, but {TOTAL_TAGS[attr]} is missing',
                         TOTAL_TAGS[attr], str(from_lines))
        elif abs(from_lines - declared) > CENT * counts[attr] / 2:
            problems.add('totals.bucket-mismatch', f'{FA}/{TOTAL_TAGS[attr]}',
                         f'{TOTAL_TAGS[attr]} is {declared}, but the lines at this rate add up to {from_lines}',
                         TOTAL_TAGS[attr], str(declared), str(from_lines))


def _check_vat_per_rate(body, problems):
    """VAT of a bucket is net x rate, rounded on the total or per line (art. 106e ust. 10): allow a cent
    per line. The rate comes from the lines (a bucket may mix 23 and 22 %); without lines the current
    rate of the bucket is assumed and a difference is only a warning."""
    nets, counts = {}, {}
    for line in body.lines:
        bucket = BUCKETS.get(line.rate)
        if bucket is None or bucket[3] is None or line.net is None:
            continue
        sign = -1 if line.before_correction else 1
        per_rate = nets.setdefault(bucket[0], {})
        per_rate[bucket[3]] = per_rate.get(bucket[3], Decimal(0)) + sign * line.net
        counts[bucket[0]] = counts.get(bucket[0], 0) + 1
    totals = body.totals
    for net_attr, vat_attr, default in (('net_basic', 'vat_basic', Decimal(23)),
                                        ('net_reduced_1', 'vat_reduced_1', Decimal(8)),
                                        ('net_reduced_2', 'vat_reduced_2', Decimal(5)),
                                        ('net_taxi', 'vat_taxi', None)):
        net, vat = getattr(totals, net_attr), getattr(totals, vat_attr)
        if net is None or vat is None:
            continue
        percents = nets.get(net_attr, {})
        if percents and body.invoice_type in LINE_TOTAL_TYPES:
            expected = sum((amount * percent / 100 for percent, amount in percents.items()), Decimal(0))
            severity = ERROR
        elif len(percents) == 1:  # advance and settlement lines describe the order, not the bucket amount
            expected = net * next(iter(percents)) / 100
            severity = ERROR
        elif default is not None:
            expected = net * default / 100
            severity = WARNING
        else:
            continue
        expected = expected.quantize(CENT)
        if abs(expected - vat) > CENT * max(1, counts.get(net_attr, 1)):
            problems.add('totals.vat-mismatch', f'{FA}/{TOTAL_TAGS[vat_attr]}',
                         f'{TOTAL_TAGS[vat_attr]} is {vat}, but the VAT of {TOTAL_TAGS[net_attr]} at its rate is '
                         f'{expected}', TOTAL_TAGS[vat_attr], str(vat), str(expected), severity=severity)


# --- currency --------------------------------------------------------------------------------------

def _check_currency(body, problems):
    totals = body.totals
    foreign = body.currency != 'PLN'
    for net_attr, vat_attr, pln_attr in (('net_basic', 'vat_basic', 'vat_basic_pln'),
                                         ('net_reduced_1', 'vat_reduced_1', 'vat_reduced_1_pln'),
                                         ('net_reduced_2', 'vat_reduced_2', 'vat_reduced_2_pln'),
                                         ('net_taxi', 'vat_taxi', 'vat_taxi_pln')):
        vat, pln = getattr(totals, vat_attr), getattr(totals, pln_attr)
        if foreign and vat is not None and pln is None:
            problems.add('currency.vat-pln-missing', f'{FA}/{TOTAL_TAGS[pln_attr]}',
                         f'the invoice is in {body.currency}: the VAT of this rate must also be given in PLN '
                         f'({TOTAL_TAGS[pln_attr]})', body.currency, TOTAL_TAGS[pln_attr])
        if not foreign and pln is not None:
            problems.add('currency.vat-pln-not-allowed', f'{FA}/{TOTAL_TAGS[pln_attr]}',
                         f'{TOTAL_TAGS[pln_attr]} (VAT in PLN) is only for invoices in another currency',
                         TOTAL_TAGS[pln_attr])
    rates = [line.exchange_rate for line in body.lines if line.exchange_rate is not None]
    if not foreign and rates:
        problems.add('currency.rate-not-allowed', f'{FA}/FaWiersz/KursWaluty',
                     'exchange rates on lines are only for invoices in another currency')


# --- annotations -----------------------------------------------------------------------------------

def _rates_used(body):
    return {line.rate for line in body.lines if line.rate}


def _check_annotations(body, problems):
    notes = body.annotations
    rates = _rates_used(body)
    exempt = 'zw' in rates or body.totals.net_exempt is not None
    if exempt and notes.exemption_basis is None:
        problems.add('exemption.basis-missing', f'{FA}/Adnotacje/Zwolnienie',
                     'the invoice has exempt supplies (zw): give the legal basis of the exemption '
                     '(P_19A statute, P_19B directive or P_19C other)')
    if not exempt and notes.exemption_basis is not None:
        problems.add('exemption.without-exempt-supply', f'{FA}/Adnotacje/Zwolnienie',
                     'an exemption basis is given, but no line or amount is exempt (zw)', severity=WARNING)
    reverse = 'oo' in rates or body.totals.net_reverse_charge is not None
    if reverse and not notes.reverse_charge:
        problems.add('reverse-charge.annotation-missing', f'{FA}/Adnotacje/P_18',
                     'the invoice has reverse-charge supplies (oo): P_18 (odwrotne obciążenie) must be 1')
    if notes.reverse_charge and not reverse:
        problems.add('reverse-charge.without-supply', f'{FA}/Adnotacje/P_18',
                     'P_18 (reverse charge) is set, but no line or amount is reverse-charged (oo)',
                     severity=WARNING)
    if notes.new_vehicles and notes.new_vehicles_art_42_5 is None:
        problems.add('new-vehicles.art-42-5-missing', f'{FA}/Adnotacje/NoweSrodkiTransportu/P_42_5',
                     'with new means of transport, P_42_5 (art. 42 ust. 5 obligation) must be answered')
    if notes.margin_scheme is not None and body.totals.net_margin is None:
        problems.add('margin.amount-missing', f'{FA}/P_13_11',
                     'the invoice uses a margin scheme: its amount goes to P_13_11', severity=WARNING)
    if body.currency == 'PLN' and not notes.split_payment and body.total > SPLIT_PAYMENT_THRESHOLD \
            and any(line.annex_15 for line in body.lines):
        problems.add('split-payment.required', f'{FA}/Adnotacje/P_18A',
                     'the gross total exceeds 15,000 PLN and the invoice has annex-15 goods or services: '
                     'split payment (P_18A = 1, "mechanizm podzielonej płatności") is mandatory')


def _check_buyer_flags(invoice, problems):
    """JST = 1 / GV = 1 without the unit in Podmiot3: KSeF accepts it, but the subunit or group member
    will not see the invoice (XSD documentation of JST and GV)."""
    roles = {party.role for party in invoice.third_parties}
    if invoice.buyer.jst and 8 not in roles:
        problems.add('buyer.jst-recipient-missing', '/Faktura/Podmiot3',
                     'JST = 1: give the local-government subunit as Podmiot3 with role 8 (NIP or IDWew), '
                     'otherwise KSeF does not make the invoice available to it', severity=WARNING)
    if invoice.buyer.vat_group and 10 not in roles:
        problems.add('buyer.vat-group-member-missing', '/Faktura/Podmiot3',
                     'GV = 1: give the VAT-group member as Podmiot3 with role 10 (NIP or IDWew), '
                     'otherwise KSeF does not make the invoice available to it', severity=WARNING)


# --- payment ---------------------------------------------------------------------------------------

def _check_payment(body, problems):
    payment = body.payment
    if payment is None:
        return
    for index, account in enumerate(payment.bank_accounts, 1):
        reason = identifiers.check_iban(account.number)
        if reason:
            problems.add('payment.account-checksum', f'{FA}/Platnosc/RachunekBankowy[{index}]/NrRB',
                         f'bank account {account.number}: {reason}', account.number)
    if payment.payment_link is not None and 'IPKSeF=' not in payment.payment_link:
        problems.add('payment.link-without-ipksef', f'{FA}/Platnosc/LinkDoPlatnosci',
                     'the payment link must contain the parameter IPKSeF=')
    if payment.partial_payments and payment.paid_date is None:
        paid = sum((p.amount for p in payment.partial_payments), Decimal(0))
        if paid > body.total > 0:
            problems.add('payment.overpaid', f'{FA}/Platnosc/ZaplataCzesciowa',
                         f'partial payments add up to {paid}, more than the total {body.total}',
                         str(paid), str(body.total), severity=WARNING)
