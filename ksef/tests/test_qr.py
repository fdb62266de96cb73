"""KOD I and KOD II links, signatures verified independently, and the images."""
import datetime
import io

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from PIL import Image

from ksef import crypto, fa3, qr
from ksef.fa3 import samples

QR = 'https://qr-test.ksef.mf.gov.pl'
XML = fa3.build(samples.scenarios()['vat_23'])


def test_kod1_link_has_the_documented_form():
    url = qr.kod1_url(QR, '1111111111', datetime.date(2026, 2, 1), XML)
    digest = crypto.b64url(crypto.sha256(XML))
    assert url == f'https://qr-test.ksef.mf.gov.pl/invoice/1111111111/01-02-2026/{digest}'
    assert '=' not in digest and '+' not in digest and '/' not in digest and len(digest) == 43


@pytest.mark.parametrize('kind', ['rsa', 'ec'])
def test_kod2_link_signature_verifies_independently(kind):
    key = crypto.generate_rsa_key() if kind == 'rsa' else crypto.generate_ec_key()
    url = qr.kod2_url(QR, 'Nip', '1111111111', '1111111111', '01f20a5d352ae590', XML, key)
    link, signature = url.rsplit('/', 1)
    assert link == f'{QR}/certificate/Nip/1111111111/1111111111/01F20A5D352AE590/{crypto.b64url(crypto.sha256(XML))}'
    signed = link[len('https://'):].encode()
    import base64
    raw = base64.urlsafe_b64decode(signature + '=' * (-len(signature) % 4))
    if kind == 'rsa':
        key.public_key().verify(raw, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                hashes.SHA256())
    else:
        assert len(raw) == 64, 'ECDSA written as r||s'
        der = utils.encode_dss_signature(int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big'))
        key.public_key().verify(der, signed, ec.ECDSA(hashes.SHA256()))
    assert qr.verify_kod2(url, key.public_key())
    other = crypto.generate_ec_key()
    assert not qr.verify_kod2(url, other.public_key())
    tampered = url.replace('/Nip/1111111111/', '/Nip/2222222222/')
    assert not qr.verify_kod2(tampered, key.public_key())


def test_kod2_refuses_weak_keys_and_unknown_contexts():
    with pytest.raises(ValueError):
        qr.kod2_url(QR, 'Pesel', '1', '1', '00', XML, crypto.generate_ec_key())
    with pytest.raises(ValueError):
        qr.kod2_url(QR, 'Nip', '1', '1', '00', XML, crypto.generate_rsa_key(bits=1024))


@pytest.mark.parametrize('label', ['5265877635-20250826-0100001AF629-AF', qr.LABEL_OFFLINE, qr.LABEL_CERTIFICATE])
def test_png_has_the_code_and_the_label_below(label):
    url = qr.kod1_url(QR, '5265877635', datetime.date(2026, 11, 2), XML)
    image = Image.open(io.BytesIO(qr.png(url, label)))
    matrix = qr.modules(url)
    assert image.format == 'PNG' and image.width >= len(matrix) * 4
    label_band = image.crop((0, len(matrix) * 4, image.width, image.height)).convert('L')
    assert min(label_band.getdata()) < 128, 'the label is drawn under the code'
    code_width = (len(matrix)) * 4
    offset = (image.width - code_width) // 2
    top_left = image.convert('L').getpixel((offset + 4 * 4 + 1, 4 * 4 + 1))   # finder pattern: dark
    assert top_left < 128


def test_svg_contains_the_label():
    url = qr.kod1_url(QR, '5265877635', datetime.date(2026, 11, 2), XML)
    document = qr.svg(url, 'OFFLINE')
    assert document.startswith('<svg') or '<svg' in document
    assert '>OFFLINE</text>' in document
