"""Checksums of the identifiers KSeF uses: NIP, PESEL, KSeF number, internal ID (``NIP-NNNNN``), the shapes of a
certificate fingerprint and a Peppol ID, and the four kinds of authentication context (NIP, internal ID,
NIP-VAT UE, Peppol ID).

Each ``check_*`` returns None when the value is valid, or a short English reason (stable wording,
also used by the command line); ``is_valid_*`` are the boolean shorthands.
"""
import datetime
import re

_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_NIP = re.compile(r'^[0-9]{10}\Z')
# FA(3) TNumerKSeF and the API KsefNumber: issuer (NIP, M + 9 digits or 3 letters + 7 digits), date, 12 hex
# technical characters (KSeF 1.0 numbers: two groups of 6 with a hyphen), 2 hex CRC-8.
_KSEF_NUMBER = re.compile(
    r'^(?P<issuer>[1-9](([0-9][1-9])|([1-9][0-9]))[0-9]{7}|M[0-9]{9}|[A-Z]{3}[0-9]{7})'
    r'-(?P<date>(20[2-9][0-9]|2[1-9][0-9]{2}|[3-9][0-9]{3})(0[1-9]|1[0-2])(0[1-9]|[1-2][0-9]|3[0-1]))'
    r'-(?P<tech>[0-9A-F]{6}-?[0-9A-F]{6})-(?P<crc>[0-9A-F]{2})\Z'
)
_INTERNAL_ID = re.compile(r'^(?P<nip>[0-9]{10})-(?P<suffix>[0-9]{5})\Z')
_PESEL = re.compile(r'^[0-9]{11}\Z')
_PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
# the month of a PESEL carries the century: +80 for the 1800s, +0 for the 1900s, +20 for the 2000s ...
_PESEL_CENTURIES = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}
_FINGERPRINT = re.compile(r'^[0-9A-F]{64}\Z')
_PEPPOL_ID = re.compile(r'^P[A-Z]{2}[0-9]{6}\Z')


def normalize_nip(value):
    """Strip the PL prefix, spaces and hyphens people type: 'PL 526-000-12-46' -> '5260001246'."""
    value = (value or '').strip().upper()
    if value.startswith('PL'):
        value = value[2:]
    return re.sub(r'[\s-]', '', value)


def check_nip(nip):
    if not isinstance(nip, str) or not _NIP.match(nip):
        return 'a NIP has exactly 10 digits'
    digits = [int(c) for c in nip]
    control = sum(w * d for w, d in zip(_NIP_WEIGHTS, digits)) % 11
    if control == 10:
        return 'no NIP can have these first nine digits (the checksum would be 10)'
    if control != digits[9]:
        return f'wrong check digit: expected {control}, found {digits[9]}'
    return None


def is_valid_nip(nip):
    return check_nip(nip) is None


def check_pesel(pesel):
    """PESEL: 11 digits, a date of birth (the month carries the century) and a check digit."""
    if not isinstance(pesel, str) or not _PESEL.match(pesel):
        return 'a PESEL has exactly 11 digits'
    digits = [int(c) for c in pesel]
    control = (10 - sum(w * d for w, d in zip(_PESEL_WEIGHTS, digits)) % 10) % 10
    if control != digits[10]:
        return f'wrong check digit: expected {control}, found {digits[10]}'
    month = int(pesel[2:4])
    century = _PESEL_CENTURIES[month // 20 * 20]
    try:
        datetime.date(century + int(pesel[:2]), month % 20, int(pesel[4:6]))
    except ValueError:
        return 'the first six digits are not a date of birth'
    return None


def is_valid_pesel(pesel):
    return check_pesel(pesel) is None


def normalize_fingerprint(value):
    """Certificate viewers show the SHA-256 fingerprint with colons or spaces, in either case."""
    return re.sub(r'[\s:]', '', value or '').upper()


def check_fingerprint(value):
    """The SHA-256 fingerprint of a certificate: 64 hexadecimal characters (after normalize_fingerprint)."""
    if not isinstance(value, str) or not _FINGERPRINT.match(value):
        return 'a certificate fingerprint (SHA-256) has exactly 64 hexadecimal characters'
    return None


def check_peppol_id(value):
    if not isinstance(value, str) or not _PEPPOL_ID.match(value):
        return 'a Peppol ID has the form PXX000000 (P, two capital letters, six digits)'
    return None


def crc8(data: bytes) -> int:
    """CRC-8: polynomial 0x07, initial value 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def ksef_number_checksum(first_part: str) -> str:
    """The two hex digits that end a KSeF number, computed over everything before the last hyphen."""
    return f'{crc8(first_part.encode("ascii")):02X}'


def check_ksef_number(number):
    if not isinstance(number, str):
        return 'a KSeF number is text'
    match = _KSEF_NUMBER.match(number)
    if not match:
        if len(number) not in (35, 36):
            return f'a KSeF number has 35 characters (36 for KSeF 1.0 numbers), this one has {len(number)}'
        return 'not in the form NIP-YYYYMMDD-XXXXXXXXXXXX-CC (uppercase hexadecimal, valid date)'
    expected = ksef_number_checksum(number[:-3])
    if expected != match.group('crc'):
        return f'wrong checksum: expected {expected}, found {match.group("crc")}'
    return None


def is_valid_ksef_number(number):
    return check_ksef_number(number) is None


def internal_id_check_digit(nip_and_four_digits: str) -> int:
    """Weights 1,3,1,3... over the 14 digits (NIP + first four of the suffix), modulo 10."""
    digits = [int(c) for c in nip_and_four_digits if c in '0123456789']
    return sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10


def check_internal_id(value):
    if not isinstance(value, str):
        return 'an internal ID is text'
    match = _INTERNAL_ID.match(value)
    if not match:
        return 'an internal ID has the form NIP-NNNNN (10 digits, hyphen, 5 digits)'
    nip_problem = check_nip(match.group('nip'))
    if nip_problem:
        return f'the NIP part is invalid: {nip_problem}'
    suffix = match.group('suffix')
    expected = internal_id_check_digit(match.group('nip') + suffix[:4])
    if expected != int(suffix[4]):
        return f'wrong check digit: expected {expected}, found {suffix[4]}'
    return None


def is_valid_internal_id(value):
    return check_internal_id(value) is None


def check_iban(number):
    """mod-97 check of an IBAN; a bare 26-digit Polish NRB is checked as PL + number."""
    compact = re.sub(r'\s', '', number or '').upper()
    if re.fullmatch(r'[0-9]{26}', compact):
        compact = 'PL' + compact
    if not re.fullmatch(r'[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}', compact):
        return None  # not an IBAN-shaped number (other account formats are allowed): nothing to check
    rearranged = compact[4:] + compact[:4]
    numeric = ''.join(str(int(c, 36)) for c in rearranged)
    if int(numeric) % 97 != 1:
        return 'the account number checksum (IBAN mod 97) is wrong'
    return None


# API NipVatUe: a Polish NIP, a hyphen, an EU VAT number of another member state (the country prefix and its format)
_EU_VAT = (r'ATU[0-9]{8}|BE[01][0-9]{9}|BG[0-9]{9,10}|CY[0-9]{8}[A-Z]|CZ[0-9]{8,10}|DE[0-9]{9}|DK[0-9]{8}'
           r'|EE[0-9]{9}|EL[0-9]{9}|ES([A-Z][0-9]{8}|[0-9]{8}[A-Z]|[A-Z][0-9]{7}[A-Z])|FI[0-9]{8}'
           r'|FR[A-Z0-9]{2}[0-9]{9}|HR[0-9]{11}|HU[0-9]{8}|IE([0-9]{7}[A-Z]{2}|[0-9][A-Z0-9+*][0-9]{5}[A-Z])'
           r'|IT[0-9]{11}|LT([0-9]{9}|[0-9]{12})|LU[0-9]{8}|LV[0-9]{11}|MT[0-9]{8}|NL[A-Z0-9+*]{12}|PT[0-9]{9}'
           r'|RO[0-9]{2,10}|SE[0-9]{12}|SI[0-9]{8}|SK[0-9]{10}|XI(([0-9]{9}|[0-9]{12})|(GD|HA)[0-9]{3})')
_NIP_VAT_UE = re.compile(rf'^(?P<nip>[0-9]{{10}})-(?P<vat>{_EU_VAT})\Z')


def check_nip_vat_ue(value):
    match = _NIP_VAT_UE.match(value or '')
    if not match:
        return 'a NIP-VAT UE identifier is the Polish NIP, a hyphen and an EU VAT number with its country prefix, ' \
               'e.g. 5265877635-DE123456789'
    nip_problem = check_nip(match.group('nip'))
    return f'the NIP part is invalid: {nip_problem}' if nip_problem else None


CONTEXT_CHECKS = {'Nip': check_nip, 'InternalId': check_internal_id, 'NipVatUe': check_nip_vat_ue,
                  'PeppolId': check_peppol_id}


def check_context(context_type, value):
    """None when ``value`` is a valid authentication context of ``context_type``, else the reason."""
    if context_type not in CONTEXT_CHECKS:
        return f'unknown context type {context_type!r}: one of {", ".join(CONTEXT_CHECKS)}'
    return CONTEXT_CHECKS[context_type](value)
