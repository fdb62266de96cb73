"""Invoice metadata, the query filters of POST /invoices/query/metadata and /invoices/exports, and the
high-water mark (HWM) of permanent storage."""
import datetime
from decimal import Decimal

from .. import fa3
from .http import bad_request
from .state import iso

VALIDATION = 'Błąd walidacji danych wejściowych.'
API_TYPES = {'VAT': 'Vat', 'KOR': 'Kor', 'ZAL': 'Zal', 'ROZ': 'Roz', 'UPR': 'Upr', 'KOR_ZAL': 'KorZal',
             'KOR_ROZ': 'KorRoz'}
TECHNICAL_CAP = 10_000
MAX_SPAN = datetime.timedelta(days=92)   # "3 months"


def metadata(invoice):
    """InvoiceMetadata of an accepted invoice (amounts in PLN)."""
    parsed = fa3.parse(invoice.xml)
    body, totals = parsed.body, parsed.body.totals
    net = sum((getattr(totals, a) or Decimal(0) for a in fa3.checks.NET_ATTRS), Decimal(0))
    foreign = body.currency != 'PLN'
    vat = Decimal(0)
    for attr in fa3.checks.VAT_ATTRS:
        value = getattr(totals, attr + '_pln', None) if foreign and attr != 'vat_oss' else getattr(totals, attr)
        vat += value or Decimal(0)
    rate = next((line.exchange_rate for line in body.lines if line.exchange_rate), None)
    if foreign and rate:
        net = (net * rate).quantize(Decimal('0.01'))
    buyer = parsed.buyer
    data = {
        'ksefNumber': invoice.ksef_number, 'invoiceNumber': body.number, 'issueDate': body.issue_date.isoformat(),
        'invoicingDate': iso(invoice.received), 'acquisitionDate': iso(invoice.acquisition),
        'permanentStorageDate': iso(invoice.permanent_storage),
        'seller': {'nip': parsed.seller.nip, 'name': parsed.seller.name},
        'buyer': {'identifier': _identifier(buyer), 'name': buyer.name},
        'netAmount': float(net), 'grossAmount': float(net + vat), 'vatAmount': float(vat),
        'currency': body.currency, 'invoicingMode': invoice.invoicing_mode,
        'invoiceType': API_TYPES[body.invoice_type], 'formCode': dict(fa3.FORM_CODE),
        'isSelfInvoicing': body.annotations.self_billing, 'hasAttachment': parsed.attachment is not None,
        'invoiceHash': invoice.invoice_hash,
    }
    if invoice.hash_of_corrected:
        data['hashOfCorrectedInvoice'] = invoice.hash_of_corrected
    if parsed.third_parties:
        data['thirdSubjects'] = [{'identifier': _identifier(party), 'name': party.name,
                                  'role': party.role or 0} for party in parsed.third_parties]
    if parsed.authorized_party:
        data['authorizedSubject'] = {'nip': parsed.authorized_party.nip, 'name': parsed.authorized_party.name,
                                     'role': parsed.authorized_party.role}
    return data


def _identifier(party):
    """Identifier of a buyer (Podmiot2) or third party (Podmiot3) as the metadata gives it."""
    if party.nip:
        return {'type': 'Nip', 'value': party.nip}
    if getattr(party, 'internal_id', None):
        return {'type': 'InternalId', 'value': party.internal_id}
    if party.eu_vat_number:
        return {'type': 'VatUe', 'value': f'{party.eu_country}{party.eu_vat_number}'}
    if party.tax_id:
        return {'type': 'Other', 'value': party.tax_id}
    return {'type': 'None'}


def _date(text, field):
    try:
        moment = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except (AttributeError, ValueError):
        raise bad_request(21405, VALIDATION, f'{field}: not an ISO 8601 date-time') from None
    if moment.tzinfo is None:   # no offset = Europe/Warsaw local time; the emulator treats it as UTC+1
        moment = moment.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    return moment


def hwm(invoices, now):
    """Everything stored at or before the HWM is final; newer invoices may still appear before it moves."""
    pending = [i.permanent_storage for i in invoices if i.permanent_storage and i.permanent_storage > now]
    return min(pending) if pending else now


def select(invoices, filters, context_value, now, cap=TECHNICAL_CAP):
    """(sorted matching invoices, is_truncated, permanentStorageHwmDate or None) for InvoiceQueryFilters."""
    if not isinstance(filters, dict):
        raise bad_request(21405, VALIDATION, 'filters must be an object')
    subject = filters.get('subjectType')
    if subject not in ('Subject1', 'Subject2', 'Subject3', 'SubjectAuthorized'):
        raise bad_request(21405, VALIDATION, 'subjectType must be Subject1, Subject2, Subject3 or SubjectAuthorized')
    date_range = filters.get('dateRange') or {}
    date_type = date_range.get('dateType')
    if date_type not in ('Issue', 'Invoicing', 'PermanentStorage'):
        raise bad_request(21405, VALIDATION, 'dateRange.dateType must be Issue, Invoicing or PermanentStorage')
    start = _date(date_range.get('from'), 'dateRange.from')
    end = _date(date_range['to'], 'dateRange.to') if date_range.get('to') else now
    if end - start > MAX_SPAN:
        raise bad_request(21405, VALIDATION, 'The date range may span at most 3 months.')
    mark = hwm(invoices, now) if date_type == 'PermanentStorage' else None
    if date_range.get('restrictToPermanentStorageHwmDate') and date_type == 'PermanentStorage':
        if start > mark:
            raise bad_request(21183, 'Zakres filtrowania wykracza poza dostępny zakres danych.',
                              'dateRange.from is after the permanent storage HWM')
        end = min(end, mark)
    stored = [i for i in invoices if i.ksef_number and i.permanent_storage and i.permanent_storage <= now]
    matching = [i for i in stored if _is_subject(i, subject, context_value)
                and start <= _moment(i, date_type) <= end and _matches(i, filters)]
    matching.sort(key=lambda i: (_moment(i, date_type), i.ksef_number))
    return matching[:cap], len(matching) > cap, mark


def _moment(invoice, date_type):
    if date_type == 'Issue':
        return datetime.datetime.combine(invoice.issue_date, datetime.time(), datetime.timezone.utc)
    return invoice.received if date_type == 'Invoicing' else invoice.permanent_storage


def _is_subject(invoice, subject, context_value):
    nip = context_value.split('-')[0]
    if subject == 'Subject1':
        return invoice.seller_nip == nip
    if subject == 'Subject2':
        return context_value in invoice.parties.get('Subject2', [])
    if subject == 'Subject3':
        return context_value in invoice.parties.get('Subject3', [])
    return context_value in invoice.parties.get('SubjectAuthorized', [])


def _matches(invoice, filters):
    meta = invoice.metadata
    checks = [
        ('ksefNumber', lambda v: meta['ksefNumber'] == v),
        ('invoiceNumber', lambda v: meta['invoiceNumber'] == v),
        ('sellerNip', lambda v: meta['seller']['nip'] == v),
        ('currencyCodes', lambda v: meta['currency'] in v),
        ('invoicingMode', lambda v: meta['invoicingMode'] == v),
        ('isSelfInvoicing', lambda v: meta['isSelfInvoicing'] == v),
        ('invoiceTypes', lambda v: meta['invoiceType'] in v),
        ('hasAttachment', lambda v: meta['hasAttachment'] == v),
        ('formType', lambda v: v == 'FA'),
        ('buyerIdentifier', lambda v: meta['buyer']['identifier'].get('type') == v.get('type')
         and (v.get('value') is None or meta['buyer']['identifier'].get('value') == v.get('value'))),
        ('amount', lambda v: _amount_in(meta, v)),
    ]
    return all(test(filters[name]) for name, test in checks if filters.get(name) is not None)


def _amount_in(meta, amount):
    value = meta[{'Brutto': 'grossAmount', 'Netto': 'netAmount', 'Vat': 'vatAmount'}[amount.get('type', 'Brutto')]]
    return (amount.get('from') is None or value >= amount['from']) and (amount.get('to') is None or value <= amount['to'])
