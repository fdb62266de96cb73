"""Problems found in an FA(3) document, returned as data (never raised one by one).

``code`` is stable: callers (the Odoo layer, the command line, tests) key translations and actions on it.
``path`` is an XPath-like location such as ``/Faktura/Fa/FaWiersz[2]/P_12``.
``params`` carries the values the message was made from, so another layer can word it in another language.
"""
import dataclasses

ERROR = 'error'
WARNING = 'warning'


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    path: str
    message: str
    severity: str = ERROR
    params: tuple = ()

    def __str__(self):
        return f'{self.path}: [{self.code}] {self.message}'

    @property
    def is_error(self):
        return self.severity == ERROR


def errors(problems):
    return [p for p in problems if p.is_error]


# Every code the FA(3) engine emits, with what it means. doc/fa3.md lists the same codes (a test keeps the
# two in step); the Odoo layer translates by code.
CODES = {
    'file.type': 'the invoice was not given as bytes',
    'file.too-large': 'over 1 MB without an attachment, or over 3 MB with one',
    'file.bom': 'the file starts with a UTF-8 byte order mark',
    'file.encoding': 'the XML declaration names an encoding other than UTF-8',
    'file.utf8': 'the bytes are not valid UTF-8',
    'file.doctype': 'a DOCTYPE or ENTITY declaration (never resolved: no XXE, no entity expansion)',
    'file.character': 'a character KSeF forbids (U+007F-U+0084, U+0086-U+009F, U+FDD0-U+FDEF, U+nFFFE/F)',
    'file.malformed': 'not well-formed XML (including control characters and excessive nesting)',
    'file.processing-instruction': 'a processing instruction other than the XML declaration',
    'file.root': 'the root element is not Faktura',
    'file.namespace': 'Faktura is not in the FA(3) namespace',
    'structure.form-code': 'KodFormularza or WariantFormularza is not FA (3) / 1-0E / FA / 3',
    'structure.unexpected': 'an element or attribute FA(3) does not have at that place',
    'structure.order': 'an element out of schema order, or repeated where it may occur once',
    'structure.missing': 'a required element or attribute is missing',
    'structure.value': 'a value that is not a valid number, date, date-time or flag',
    'xsd': 'the FA(3) XSD rejects the document (the message is the validator\'s)',
    'nip.checksum': 'a NIP with a wrong check digit',
    'internal-id.checksum': 'an internal ID (NIP-NNNNN) with a wrong check digit',
    'ksef-number.invalid': 'a KSeF number with a wrong form or CRC-8 checksum',
    'correction.missing-original': 'a correction without DaneFaKorygowanej',
    'correction.not-a-correction': 'correction data on an invoice that is not KOR, KOR_ZAL or KOR_ROZ',
    'settlement.missing-advances': 'a ROZ invoice that lists no advance invoices',
    'settlement.advances-not-allowed': 'advance invoices listed on a type other than ROZ or KOR_ROZ',
    'advance.missing-order': 'a ZAL invoice without the order it is paid for (warning)',
    'dates.supply-equals-issue': 'P_6 equal to P_1 (warning)',
    'dates.period-reversed': 'OkresFa ends before it starts',
    'line.duplicate-number': 'two lines with the same NrWierszaFa',
    'line.rate-missing': 'a line with an amount but no VAT rate',
    'line.net-mismatch': 'quantity x unit price differs from the line net value (warning)',
    'totals.incomplete-bucket': 'a P_13_x without its P_14_x or the reverse',
    'totals.p15-mismatch': 'P_15 differs from the sum of the P_13_x and P_14_x',
    'totals.bucket-mismatch': 'a P_13_x differs from the sum of the lines at its rates',
    'totals.bucket-missing': 'lines at a rate whose P_13_x is missing',
    'totals.bucket-without-lines': 'a P_13_x with no line at its rates',
    'totals.vat-mismatch': 'a P_14_x differs from the VAT of its P_13_x',
    'currency.vat-pln-missing': 'a foreign-currency invoice without the VAT in PLN (P_14_xW)',
    'currency.vat-pln-not-allowed': 'P_14_xW on a PLN invoice',
    'currency.rate-not-allowed': 'exchange rates on the lines of a PLN invoice',
    'exemption.basis-missing': 'exempt (zw) supplies without the legal basis P_19A/B/C',
    'exemption.without-exempt-supply': 'an exemption basis without exempt supplies (warning)',
    'reverse-charge.annotation-missing': 'reverse-charge (oo) supplies without P_18 = 1',
    'reverse-charge.without-supply': 'P_18 = 1 without reverse-charge supplies (warning)',
    'new-vehicles.art-42-5-missing': 'new means of transport without the P_42_5 answer',
    'margin.amount-missing': 'a margin scheme without P_13_11 (warning)',
    'split-payment.required': 'over 15,000 PLN gross with annex-15 goods but without P_18A = 1',
    'buyer.jst-recipient-missing': 'JST = 1 without a Podmiot3 of role 8 (warning)',
    'buyer.vat-group-member-missing': 'GV = 1 without a Podmiot3 of role 10 (warning)',
    'payment.account-checksum': 'an IBAN/NRB bank account with a wrong checksum',
    'payment.link-without-ipksef': 'LinkDoPlatnosci without the IPKSeF= parameter',
    'payment.overpaid': 'partial payments above the total (warning)',
}
