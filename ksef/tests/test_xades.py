"""XAdES-BES signing and verification of the AuthTokenRequest (RSA and EC keys)."""
import datetime

import pytest
from cryptography.x509.oid import NameOID
from lxml import etree

from ksef import crypto, xades

CHALLENGE = '20250604-CR-461EA5B000-537A6BA15D-D7'


def certificate_for(key, **subject):
    now = crypto.utcnow()
    attributes = [(NameOID.COMMON_NAME, subject.get('cn', 'Test')), (NameOID.COUNTRY_NAME, 'PL')]
    if 'organization_identifier' in subject:
        from cryptography.x509 import ObjectIdentifier
        attributes.append((ObjectIdentifier('2.5.4.97'), subject['organization_identifier']))
        attributes.append((NameOID.ORGANIZATION_NAME, 'Kowalski sp. z o.o.'))
    if 'serial' in subject:
        attributes.append((NameOID.SERIAL_NUMBER, subject['serial']))
    return crypto.self_signed_certificate(key, attributes, now - datetime.timedelta(days=1),
                                         now + datetime.timedelta(days=365))


@pytest.fixture(scope='module', params=['rsa', 'ec'])
def signer(request):
    key = crypto.generate_rsa_key() if request.param == 'rsa' else crypto.generate_ec_key()
    return key, certificate_for(key, organization_identifier='VATPL-5265877635')


def test_signed_request_verifies(signer):
    key, certificate = signer
    signed = xades.sign(xades.auth_token_request(CHALLENGE, 'Nip', '5265877635'), key, certificate)
    root, found = xades.verify(signed)
    assert found.serial_number == certificate.serial_number
    assert root.findtext('{http://ksef.mf.gov.pl/auth/token/2.0}Challenge') == CHALLENGE


def test_changed_content_or_signature_is_refused(signer):
    key, certificate = signer
    signed = xades.sign(xades.auth_token_request(CHALLENGE, 'Nip', '5265877635'), key, certificate)
    with pytest.raises(xades.SignatureError) as caught:
        xades.verify(signed.replace(b'5265877635', b'7740001454'))
    assert caught.value.code == 9105
    root = etree.fromstring(signed)
    value = root.find(f'.//{{{xades.DS}}}SignatureValue')
    raw = bytearray(crypto.unb64(value.text))
    raw[5] ^= 0xFF
    value.text = crypto.b64(bytes(raw))
    with pytest.raises(xades.SignatureError) as caught:
        xades.verify(etree.tostring(root))
    assert caught.value.code == 9105


def test_unsigned_double_signed_and_malformed_documents(signer):
    key, certificate = signer
    unsigned = xades.auth_token_request(CHALLENGE, 'Nip', '5265877635')
    with pytest.raises(xades.SignatureError) as caught:
        xades.verify(unsigned)
    assert caught.value.code == 9102
    twice = xades.sign(xades.sign(unsigned, key, certificate), key, certificate)
    with pytest.raises(xades.SignatureError) as caught:
        xades.verify(twice)
    assert caught.value.code == 9103
    with pytest.raises(xades.SignatureError) as caught:
        xades.verify(b'<not-xml')
    assert caught.value.code == 9101


@pytest.mark.parametrize('context_type, value', [('Nip', '5265877635'), ('InternalId', '6824515772-12343'),
                                                  ('NipVatUe', '5265877635-DE811907980'), ('PeppolId', 'PPL123456'), ('PeppolId', 'PAB123456')])
def test_auth_token_request_matches_the_official_schema(spec_dir, context_type, value):
    schema = xades.load_auth_schema(spec_dir / 'auth' / 'schemat_auth_v2-1.xsd')
    document = xades.auth_token_request(CHALLENGE, context_type, value, namespace=xades.AUTH_NAMESPACES[1])
    assert schema.validate(etree.fromstring(document)), schema.error_log


@pytest.mark.parametrize('subject, expected', [
    ({'organization_identifier': 'VATPL-5265877635'}, ({'type': 'Nip', 'value': '5265877635'}, 'QualifiedSeal')),
    ({'serial': 'PNOPL-44051401359'}, ({'type': 'Pesel', 'value': '44051401359'}, 'QualifiedSignature')),
    ({'serial': 'TINPL-5265877635'}, ({'type': 'Nip', 'value': '5265877635'}, 'QualifiedSignature')),
    ({'serial': 'IDCDE-123456'}, (None, 'QualifiedSignature'))])
def test_certificate_identity_reads_nip_or_pesel(subject, expected):
    key = crypto.generate_ec_key()
    assert xades.certificate_identity(certificate_for(key, **subject)) == expected


def test_fingerprint_is_sha256_of_the_der_in_64_hex_characters():
    certificate = certificate_for(crypto.generate_ec_key())
    fingerprint = xades.certificate_fingerprint(certificate)
    assert len(fingerprint) == 64 and fingerprint == fingerprint.upper()
    assert bytes.fromhex(fingerprint) == crypto.sha256(crypto.certificate_der(certificate))
