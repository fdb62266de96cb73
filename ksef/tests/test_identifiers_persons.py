"""Identifiers a permission is granted to: PESEL (checksum and date of birth), certificate fingerprint, Peppol ID."""
import pytest

from ksef import identifiers


def _with_check_digit(first_ten):
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    return first_ten + str((10 - sum(w * int(d) for w, d in zip(weights, first_ten)) % 10) % 10)


@pytest.mark.parametrize('pesel', ['44051401359', '02070803628', _with_check_digit('0522150123'),
                                   _with_check_digit('9912310000')])
def test_valid_pesels(pesel):
    assert identifiers.check_pesel(pesel) is None
    assert identifiers.is_valid_pesel(pesel)


def test_pesel_of_someone_born_in_2005_has_month_plus_20():
    assert identifiers.is_valid_pesel(_with_check_digit('0522150123'))   # 15 February 2005
    assert 'not a date of birth' in identifiers.check_pesel(_with_check_digit('0513150123'))


@pytest.mark.parametrize('pesel, reason', [
    ('4405140135', 'exactly 11 digits'), ('4405140135X', 'exactly 11 digits'), ('', 'exactly 11 digits'),
    (None, 'exactly 11 digits'), ('44051401358', 'wrong check digit: expected 9, found 8'),
    (_with_check_digit('4402300135'), 'not a date of birth'),
])
def test_invalid_pesels(pesel, reason):
    assert reason in identifiers.check_pesel(pesel)


def test_every_wrong_check_digit_of_a_pesel_is_refused():
    for digit in '012345678':
        assert 'wrong check digit' in identifiers.check_pesel('4405140135' + digit)


def test_fingerprint_is_64_hex_characters_as_certificate_viewers_show_them():
    shown = ' '.join(['ab:CD:01:23'] * 8)
    value = identifiers.normalize_fingerprint(shown)
    assert value == 'ABCD0123' * 8
    assert identifiers.check_fingerprint(value) is None
    assert '64 hexadecimal' in identifiers.check_fingerprint(value[:-1])
    assert '64 hexadecimal' in identifiers.check_fingerprint(value[:-1] + 'G')
    assert '64 hexadecimal' in identifiers.check_fingerprint(None)


def test_peppol_id():
    assert identifiers.check_peppol_id('PPL123456') is None
    for wrong in ('PPL12345', 'XPL123456', 'Ppl123456', '5265877635'):
        assert 'PXX000000' in identifiers.check_peppol_id(wrong)
