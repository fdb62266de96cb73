"""Hostile and malformed files get a clear problem, never a crash, a hang or a network access."""
import time

import pytest

from ksef import fa3
from ksef.errors import InvalidInvoiceError
from ksef.fa3 import samples

VALID = fa3.build(samples.scenarios()['vat_23'])


def refused(data):
    """validate() and parse() agree: the file is refused; returns the codes."""
    problems = fa3.validate(data)
    assert problems and all(p.message for p in problems)
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    assert caught.value.problems
    return {p.code for p in problems}


def test_bom_is_refused():
    assert refused(b'\xef\xbb\xbf' + VALID) == {'file.bom'}


def test_other_encoding_is_refused():
    data = VALID.replace(b"encoding='UTF-8'", b"encoding='ISO-8859-2'")
    assert refused(data) == {'file.encoding'}


def test_invalid_utf8_is_refused():
    data = VALID.replace('Usługa'.encode(), b'Us\xc5\x82ug\xff')
    assert refused(data) == {'file.utf8'}


def test_malformed_xml_is_refused():
    assert refused(VALID[:-30]) == {'file.malformed'}
    assert refused(b'') == {'file.malformed'}
    assert refused(b'not xml at all') == {'file.malformed'}


def test_wrong_namespace_is_refused():
    data = VALID.replace(b'http://crd.gov.pl/wzor/2025/06/25/13775/', b'http://crd.gov.pl/wzor/2023/06/29/12648/')
    assert refused(data) == {'file.namespace'}


def test_wrong_root_is_refused():
    assert refused(b'<?xml version="1.0"?><Invoice xmlns="urn:oasis"/>') == {'file.root'}


def test_wrong_form_code_is_refused():
    data = VALID.replace(b'kodSystemowy="FA (3)"', b'kodSystemowy="FA (2)"')
    assert 'xsd' in refused(data)
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    assert [p.code for p in caught.value.problems] == ['structure.form-code']


@pytest.mark.parametrize('char', ['\x7f', '\x85'.replace('\x85', '\x86'), '\x9f', '\ufdd0', '\ufffe'])
def test_discouraged_characters_are_refused(char):
    data = VALID.replace('Usługa'.encode(), f'Us{char}ługa'.encode())
    assert refused(data) == {'file.character'}


def test_control_characters_forbidden_by_xml_are_refused():
    data = VALID.replace('Usługa'.encode(), b'Us\x01luga')
    assert refused(data) == {'file.malformed'}


def test_external_entity_is_never_resolved(tmp_path):
    secret = tmp_path / 'secret.txt'
    secret.write_text('TOP-SECRET')
    data = (f'<?xml version="1.0"?><!DOCTYPE Faktura [<!ENTITY x SYSTEM "file://{secret}">]>'
            f'<Faktura xmlns="{fa3.NAMESPACE}"><Naglowek>&x;</Naglowek></Faktura>').encode()
    assert refused(data) == {'file.doctype'}
    assert not any('TOP-SECRET' in p.message for p in fa3.validate(data))


def test_entity_expansion_bomb_is_refused_quickly():
    lol = '<!ENTITY a0 "lol">' + ''.join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    data = f'<?xml version="1.0"?><!DOCTYPE Faktura [{lol}]><Faktura>&a9;</Faktura>'.encode()
    started = time.perf_counter()
    assert refused(data) == {'file.doctype'}
    assert time.perf_counter() - started < 1


def test_processing_instruction_is_refused():
    data = VALID.replace(b'<Naglowek>', b'<?evil data?><Naglowek>')
    assert refused(data) == {'file.processing-instruction'}
    data = VALID.replace(b'<Faktura', b'<?xml-stylesheet href="x.xsl"?><Faktura', 1)
    assert refused(data) == {'file.processing-instruction'}


def test_oversized_files_are_refused_by_size_before_parsing():
    padding = b'<!--' + b'x' * 1_000_001 + b'-->'
    assert refused(VALID.replace(b'<Naglowek>', padding + b'<Naglowek>')) == {'file.too-large'}
    assert refused(b'<a>' + b'x' * 3_000_001 + b'</a>') == {'file.too-large'}


def test_attachment_invoices_may_exceed_one_megabyte():
    invoice = samples.scenarios()['attachment']
    invoice.attachment.blocks[0].paragraphs = ['x' * 500] * 10
    invoice.attachment.blocks[0].tables[0].rows = [fa3.TableRow(cells=['2026-10-01', str(i)]) for i in range(1000)]
    invoice.attachment.blocks = invoice.attachment.blocks * 25
    data = fa3.build(invoice)
    assert 1_000_000 < len(data) < 3_000_000
    assert 'file.too-large' not in {p.code for p in fa3.validate(data)}


def test_deep_nesting_is_refused_without_recursion_error():
    data = b'<?xml version="1.0"?>' + b'<a>' * 100_000 + b'</a>' * 100_000
    assert refused(data) == {'file.malformed'}


def test_huge_attribute_is_handled():
    data = VALID.replace(b'<Naglowek>', b'<Naglowek x="' + b'y' * 900_000 + b'">')
    assert refused(data) == {'xsd'}
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    assert [(p.code, p.path) for p in caught.value.problems] == [('structure.unexpected', '/Faktura/Naglowek/@x')]


def test_unknown_and_misplaced_elements_are_structure_errors():
    data = VALID.replace(b'<P_2>', b'<Nieznany>1</Nieznany><P_2>')
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    assert [(p.code, p.path) for p in caught.value.problems] == [('structure.unexpected', '/Faktura/Fa/Nieznany')]
    swapped = VALID.replace(b'<KodWaluty>PLN</KodWaluty>', b'').replace(b'</P_1>', b'</P_1><KodWaluty>PLN</KodWaluty>')
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(swapped)
    assert ('structure.order', '/Faktura/Fa/KodWaluty') in {(p.code, p.path) for p in caught.value.problems}


def test_missing_required_element_and_bad_values():
    data = VALID.replace(b'<P_15>', b'<P_15x>').replace(b'</P_15>', b'</P_15x>')
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    found = {(p.code, p.path) for p in caught.value.problems}
    assert ('structure.missing', '/Faktura/Fa/P_15') in found
    data = VALID.replace(b'<P_1>2026-11-02</P_1>', b'<P_1>2.11.2026</P_1>')
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse(data)
    assert [(p.code, p.path) for p in caught.value.problems] == [('structure.value', '/Faktura/Fa/P_1')]


def test_parse_tolerates_comments_and_whitespace():
    data = VALID.replace(b'<P_2>', b'<!-- numer -->\n   <P_2>')
    assert fa3.parse(data) == fa3.parse(VALID)


def test_non_bytes_input():
    with pytest.raises(InvalidInvoiceError) as caught:
        fa3.parse('<Faktura/>')
    assert caught.value.problems[0].code == 'file.type'


@pytest.mark.parametrize('text', ['١٢٣.٤٥', '１２３', '12３'])
def test_a_number_in_other_scripts_digits_is_not_a_decimal(text):
    """Python's Decimal reads Arabic-Indic or full-width digits; xsd:decimal is 0-9 only."""
    from ksef.fa3.xmlmap import _Dec
    assert _Dec().from_text('123.45') == __import__('decimal').Decimal('123.45')
    with pytest.raises(ValueError, match='not a decimal number'):
        _Dec().from_text(text)
