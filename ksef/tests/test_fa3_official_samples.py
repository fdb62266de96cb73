"""The official MF samples (ksef-pdf-generator, C# and Java SDK templates) parse, rebuild and re-validate."""
import re

import pytest
from lxml import etree

from ksef import fa3, identifiers

SELLER, BUYER, OTHER = '5265877635', '6808208874', '7740001454'


def substitute(data):
    """Fill the SDK templates' placeholders with pattern-valid values (as the SDK tests do)."""
    internal_id = f'{OTHER}-0001{identifiers.internal_id_check_digit(OTHER + "0001")}'
    values = {
        '#nip#': SELLER, '#nipOdbiorca#': BUYER, '#subject2nip#': BUYER, '#selfInvocingNip#': BUYER,
        '#invoice_number#': 'FV/2026/11/001', '#invoicing_date#': '2026-11-02', '#idWewnetrzne#': internal_id,
        '#subject3IdentifierValue#': f'<NIP>{OTHER}</NIP>',
    }
    text = data.decode('utf-8')
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert not re.search(r'#[A-Za-z0-9_]+#', text), 'an unknown placeholder is left'
    return text.encode('utf-8')


def official_samples(spec):
    files = sorted((spec / 'samples' / 'fa3').rglob('*.xml'))
    assert len(files) >= 10
    return files


def test_every_official_sample_parses_rebuilds_and_validates(spec_dir):
    for path in official_samples(spec_dir):
        data = substitute(path.read_bytes())
        problems = fa3.validate(data)
        assert fa3.errors(problems) == [], path.name
        invoice = fa3.parse(data)
        rebuilt = fa3.build(invoice)
        assert fa3.validate(rebuilt) == problems, path.name
        assert fa3.parse(rebuilt) == invoice, path.name


def test_jst_without_subunit_is_a_warning_not_an_error(spec_dir):
    # the Java SDK template says JST=1 without a Podmiot3 of role 8: KSeF accepts it, we warn
    path = spec_dir / 'samples' / 'fa3' / 'templates' / 'java_invoice-template-fa-3-with-custom-subject_2.xml'
    problems = fa3.validate(substitute(path.read_bytes()))
    assert [(p.code, p.severity) for p in problems] == [('buyer.jst-recipient-missing', fa3.WARNING)]


def test_rebuilt_sample_keeps_every_element_and_value(spec_dir):
    """Rebuilding loses nothing: the same elements with the same texts, in the same order."""
    for path in official_samples(spec_dir):
        data = substitute(path.read_bytes())
        original = etree.fromstring(data)
        rebuilt = etree.fromstring(fa3.build(fa3.parse(data)))

        def leaves(root):
            return [(etree.QName(el).localname, (el.text or '').strip(), dict(el.attrib))
                    for el in root.iter() if isinstance(el.tag, str) and len(el) == 0]
        assert _normalise(leaves(rebuilt)) == _normalise(leaves(original)), path.name


def _normalise(leaves):
    # timestamps are re-written in UTC with 'Z'; compare them as instants
    from ksef.fa3.xmlmap import DATETIME
    out = []
    for name, value, attrib in leaves:
        if name in ('DataWytworzeniaFa', 'DataGodzRozpTransportu', 'DataGodzZakTransportu'):
            value = DATETIME.from_text(value)
        out.append((name, value, attrib))
    return out


def test_pdf_generator_sample_content(spec_dir):
    invoice = fa3.parse((spec_dir / 'samples' / 'fa3' / 'ksef-pdf-generator_invoice.xml').read_bytes())
    assert invoice.body.invoice_type == 'VAT'
    assert invoice.seller.nip == '5265877635'
    assert len(invoice.body.lines) > 5
    assert invoice.body.totals.net_basic + invoice.body.totals.vat_basic == invoice.body.total


@pytest.mark.parametrize('name', ['csharp_invoice-template-fa-3-with-attachment.xml'])
def test_attachment_template_has_structured_attachment(spec_dir, name):
    data = substitute((spec_dir / 'samples' / 'fa3' / 'templates' / name).read_bytes())
    invoice = fa3.parse(data)
    assert invoice.attachment is not None and invoice.attachment.blocks


def test_unsubstituted_template_is_rejected_by_the_schema(spec_dir):
    data = (spec_dir / 'samples' / 'fa3' / 'templates' / 'java_invoice-template_v3.xml').read_bytes()
    problems = fa3.validate(data)
    assert {p.code for p in problems} == {'xsd'}
    assert any(p.path == '/Faktura/Podmiot1/DaneIdentyfikacyjne/NIP' and '#nip#' in p.message for p in problems)
