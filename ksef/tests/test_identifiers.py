import random

import pytest

from ksef import identifiers


def _nip_with_valid_checksum(rng):
    while True:
        first = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        control = sum(w * d for w, d in zip((6, 5, 7, 2, 3, 4, 5, 6, 7), first)) % 11
        if control != 10:
            return ''.join(map(str, first)) + str(control)


@pytest.mark.parametrize('nip', ['5265877635', '6808208874', '1111111111', '7740001454'])
def test_known_valid_nips(nip):
    assert identifiers.check_nip(nip) is None
    assert identifiers.is_valid_nip(nip)


def test_every_wrong_check_digit_is_refused():
    rng = random.Random(7)
    for _ in range(200):
        nip = _nip_with_valid_checksum(rng)
        assert identifiers.is_valid_nip(nip)
        for digit in '0123456789':
            if digit != nip[9]:
                assert 'wrong check digit' in identifiers.check_nip(nip[:9] + digit)


@pytest.mark.parametrize('value, reason', [
    ('526587763', 'exactly 10 digits'), ('52658776351', 'exactly 10 digits'), ('52658A7635', 'exactly 10 digits'),
    (None, 'exactly 10 digits'),
])
def test_malformed_nips(value, reason):
    assert reason in identifiers.check_nip(value)


def test_nip_whose_checksum_would_be_ten():
    # 123456789x: 6+10+21+8+15+24+35+48+63 = 230 -> 230 % 11 = 10: no valid NIP starts like this
    assert 'checksum would be 10' in identifiers.check_nip('1234567890')


def test_normalize_nip():
    assert identifiers.normalize_nip(' pl 526-587-76-35 ') == '5265877635'


def test_ksef_number_crc8_matches_the_documented_example():
    assert identifiers.crc8(b'5265877635-20250826-0100001AF629') == 0xAF
    assert identifiers.check_ksef_number('5265877635-20250826-0100001AF629-AF') is None


def test_ksef_number_checksum_detects_every_single_character_change():
    number = '5265877635-20250826-0100001AF629-AF'
    for position in range(20, 32):
        for replacement in '0123456789ABCDEF':
            if replacement == number[position]:
                continue
            changed = number[:position] + replacement + number[position + 1:]
            assert 'wrong checksum' in identifiers.check_ksef_number(changed)


@pytest.mark.parametrize('number, reason', [
    ('5265877635-20250826-0100001AF629', '35 characters'),
    ('5265877635-20251326-0100001AF629-AF', 'not in the form'),        # month 13
    ('5265877635-20250826-0100001af629-AF', 'not in the form'),        # lowercase hex
    ('0265877635-20250826-0100001AF629-AF', 'not in the form'),        # NIP cannot start with 0
])
def test_malformed_ksef_numbers(number, reason):
    assert reason in identifiers.check_ksef_number(number)


def test_ksef_1_0_numbers_with_hyphenated_technical_part_are_accepted():
    head = '5265877635-20231015-0100AB-CDEF01'
    number = f'{head}-{identifiers.ksef_number_checksum(head)}'
    assert len(number) == 36
    assert identifiers.is_valid_ksef_number(number)


def test_internal_id_documented_example():
    # OpenAPI /permissions/subunits/grants: 6824515772-1234 + check digit 3
    assert identifiers.internal_id_check_digit('68245157721234') == 3
    assert identifiers.check_internal_id('6824515772-12343') is None


@pytest.mark.parametrize('value, reason', [
    ('6824515772-12344', 'wrong check digit'),
    ('6824515772-1234', 'NIP-NNNNN'),
    ('6824515773-12343', 'NIP part is invalid'),
])
def test_invalid_internal_ids(value, reason):
    assert reason in identifiers.check_internal_id(value)


def test_iban_checksum():
    assert identifiers.check_iban('PL61109010140000071219812874') is None
    assert identifiers.check_iban('61 1090 1014 0000 0712 1981 2874') is None   # domestic NRB
    assert 'mod 97' in identifiers.check_iban('PL61109010140000071219812875')
    assert identifiers.check_iban('123-456') is None                          # not IBAN-shaped: not judged


@pytest.mark.parametrize('context_type, value', [
    ('Nip', '5265877635'), ('InternalId', '5265877635-00017'), ('NipVatUe', '5265877635-DE123456789'),
    ('NipVatUe', '5265877635-FRXX123456789'), ('PeppolId', 'PPL123456')])
def test_valid_authentication_contexts(context_type, value):
    assert identifiers.check_context(context_type, value) is None


@pytest.mark.parametrize('context_type, value, reason', [
    ('Nip', '5265877636', 'check digit'), ('InternalId', '5265877635-00013', 'check digit'),
    ('NipVatUe', '5265877635-PL123456789', 'EU VAT number'), ('NipVatUe', '5265877636-DE123456789', 'NIP part'),
    ('NipVatUe', 'DE123456789', 'EU VAT number'), ('PeppolId', 'PPL12345', 'six digits'),
    ('PeppolId', 'ppl123456', 'capital letters'), ('Pesel', '44051401359', 'unknown context type')])
def test_invalid_authentication_contexts_say_why(context_type, value, reason):
    assert reason in identifiers.check_context(context_type, value)


# other scripts' digits (Arabic-Indic, full-width) are digits to Python's \d and int(), never to KSeF
_ARABIC = str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩')
_FULL_WIDTH = str.maketrans('0123456789', '０１２３４５６７８９')


@pytest.mark.parametrize('digits', [_ARABIC, _FULL_WIDTH], ids=['arabic-indic', 'full-width'])
def test_identifiers_are_ascii_digits_only(digits):
    assert identifiers.is_valid_nip('5265877635')
    assert not identifiers.is_valid_nip('5265877635'.translate(digits))
    assert identifiers.is_valid_internal_id('5265877635-00004')
    assert not identifiers.is_valid_internal_id('5265877635-00004'.translate(digits))
    assert identifiers.check_pesel('80010112345'.translate(digits))


@pytest.mark.parametrize('value', ['5265877635\n', '5265877635-00004\n', '80010112345\n'])
def test_a_trailing_line_break_is_no_part_of_an_identifier(value):
    """`$` would let a value end with a line break (an HTTP header, an XML element built from it)."""
    assert not identifiers.is_valid_nip(value)
    assert not identifiers.is_valid_internal_id(value)
    assert identifiers.check_pesel(value)
