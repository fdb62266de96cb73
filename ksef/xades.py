"""XAdES-BES enveloped signatures of the KSeF AuthTokenRequest: signing (client) and verification (emulator).

The shape is the one the official C# SDK emits and KSeF accepts: ds:Signature Id="Signature" appended to the
root; a Reference URI="" (enveloped-signature + exclusive c14n, SHA-256) and a Reference to the
xades:SignedProperties (exclusive c14n, SHA-256); RSA PKCS#1 v1.5 SHA-256 or ECDSA P-256 SHA-256 (r||s);
KeyInfo with the certificate; SigningTime and SigningCertificate (certificate digest, issuer and serial).
"""
import copy
import datetime
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from lxml import etree

from . import crypto

DS = 'http://www.w3.org/2000/09/xmldsig#'
XADES = 'http://uri.etsi.org/01903/v1.3.2#'
EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#'
ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature'
SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256'
RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'
ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'
SIGNED_PROPERTIES_TYPE = 'http://uri.etsi.org/01903#SignedProperties'
AUTH_NAMESPACES = ('http://ksef.mf.gov.pl/auth/token/2.0', 'http://ksef.mf.gov.pl/auth/token/2.1')
CONTEXT_ELEMENTS = {'Nip': 'Nip', 'InternalId': 'InternalId', 'NipVatUe': 'NipVatUe', 'PeppolId': 'PeppolId'}


class SignatureError(ValueError):
    """The document is not a valid XAdES signature; ``code`` is the KSeF code (9101..9105)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def auth_token_request(challenge, context_type, context_value, subject_identifier_type='certificateSubject',
                       namespace=AUTH_NAMESPACES[0]):
    """The unsigned AuthTokenRequest XML (bytes) for a challenge and a context."""
    root = etree.Element(f'{{{namespace}}}AuthTokenRequest', nsmap={None: namespace})
    etree.SubElement(root, f'{{{namespace}}}Challenge').text = challenge
    context = etree.SubElement(root, f'{{{namespace}}}ContextIdentifier')
    etree.SubElement(context, f'{{{namespace}}}{CONTEXT_ELEMENTS[context_type]}').text = context_value
    etree.SubElement(root, f'{{{namespace}}}SubjectIdentifierType').text = subject_identifier_type
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def _c14n(element):
    return etree.tostring(element, method='c14n', exclusive=True, with_comments=False)


def _digest_of_document(root):
    """Reference URI="": the whole document without the signature, exclusive c14n."""
    clone = copy.deepcopy(root)
    for signature in clone.findall(f'{{{DS}}}Signature'):
        clone.remove(signature)
    return crypto.sha256(_c14n(clone))


def _sub(parent, ns, name, text=None, **attrib):
    element = etree.SubElement(parent, f'{{{ns}}}{name}', attrib)
    if text is not None:
        element.text = text
    return element


def sign(xml: bytes, private_key, certificate, signing_time=None) -> bytes:
    """Enveloped XAdES-BES signature of ``xml`` with an RSA (>= 2048) or EC P-256 key and its certificate."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    root = etree.fromstring(xml, parser)
    is_ec = isinstance(private_key, ec.EllipticCurvePrivateKey)
    signing_time = signing_time or crypto.utcnow() - datetime.timedelta(minutes=1)
    der = crypto.certificate_der(certificate)

    signature = etree.SubElement(root, f'{{{DS}}}Signature', {'Id': 'Signature'}, nsmap={'ds': DS})
    signed_info = _sub(signature, DS, 'SignedInfo')
    _sub(signed_info, DS, 'CanonicalizationMethod', Algorithm=EXC_C14N)
    _sub(signed_info, DS, 'SignatureMethod', Algorithm=ECDSA_SHA256 if is_ec else RSA_SHA256)
    document_reference = _sub(signed_info, DS, 'Reference', URI='')
    transforms = _sub(document_reference, DS, 'Transforms')
    _sub(transforms, DS, 'Transform', Algorithm=ENVELOPED)
    _sub(transforms, DS, 'Transform', Algorithm=EXC_C14N)
    _sub(document_reference, DS, 'DigestMethod', Algorithm=SHA256)
    document_digest = _sub(document_reference, DS, 'DigestValue')
    properties_reference = _sub(signed_info, DS, 'Reference', URI='#SignedProperties', Type=SIGNED_PROPERTIES_TYPE)
    _sub(_sub(properties_reference, DS, 'Transforms'), DS, 'Transform', Algorithm=EXC_C14N)
    _sub(properties_reference, DS, 'DigestMethod', Algorithm=SHA256)
    properties_digest = _sub(properties_reference, DS, 'DigestValue')
    signature_value = _sub(signature, DS, 'SignatureValue')
    _sub(_sub(_sub(signature, DS, 'KeyInfo'), DS, 'X509Data'), DS, 'X509Certificate', crypto.b64(der))

    obj = _sub(signature, DS, 'Object')
    qualifying = etree.SubElement(obj, f'{{{XADES}}}QualifyingProperties', {'Target': '#Signature'},
                                  nsmap={'xades': XADES})
    signed_properties = _sub(qualifying, XADES, 'SignedProperties', Id='SignedProperties')
    signature_properties = _sub(signed_properties, XADES, 'SignedSignatureProperties')
    _sub(signature_properties, XADES, 'SigningTime',
         signing_time.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))
    cert = _sub(_sub(signature_properties, XADES, 'SigningCertificate'), XADES, 'Cert')
    cert_digest = _sub(cert, XADES, 'CertDigest')
    _sub(cert_digest, DS, 'DigestMethod', Algorithm=SHA256)
    _sub(cert_digest, DS, 'DigestValue', crypto.sha256_b64(der))
    issuer_serial = _sub(cert, XADES, 'IssuerSerial')
    _sub(issuer_serial, DS, 'X509IssuerName', certificate.issuer.rfc4514_string())
    _sub(issuer_serial, DS, 'X509SerialNumber', str(certificate.serial_number))

    document_digest.text = crypto.b64(_digest_of_document(root))
    properties_digest.text = crypto.b64(crypto.sha256(_c14n(signed_properties)))
    data = _c14n(signed_info)
    if is_ec:
        r, s = utils.decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, 'big') + s.to_bytes(32, 'big')
    else:
        raw = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signature_value.text = crypto.b64(raw)
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def verify(xml: bytes):
    """Check an enveloped XAdES signature; return (document root, signing certificate). Raises
    SignatureError: 9101 unreadable document, 9102 no signature, 9103 more than one, 9105 invalid."""
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError as exc:
        raise SignatureError(9101, f'Nieprawidłowy dokument: {exc}') from None
    signatures = root.findall(f'.//{{{DS}}}Signature')
    if not signatures:
        raise SignatureError(9102, 'Brak podpisu.')
    if len(signatures) > 1:
        raise SignatureError(9103, 'Dokument zawiera więcej niż jeden podpis.')
    signature = signatures[0]
    try:
        certificate = crypto.load_der_certificate(crypto.unb64(signature.findtext(f'.//{{{DS}}}X509Certificate')))
        signed_info = signature.find(f'{{{DS}}}SignedInfo')
        method = signed_info.find(f'{{{DS}}}SignatureMethod').get('Algorithm')
        for reference in signed_info.findall(f'{{{DS}}}Reference'):
            _check_reference(root, signature, reference)
        _check_signature_value(certificate.public_key(), method, _c14n(signed_info),
                               crypto.unb64(signature.findtext(f'{{{DS}}}SignatureValue').strip()))
        _check_signing_certificate(signature, certificate)
    except SignatureError:
        raise
    except (ValueError, TypeError, AttributeError, InvalidSignature) as exc:
        raise SignatureError(9105, f'Nieprawidłowy podpis: {exc or type(exc).__name__}') from None
    return root, certificate


def _check_reference(root, signature, reference):
    uri = reference.get('URI')
    algorithms = [t.get('Algorithm') for t in reference.findall(f'{{{DS}}}Transforms/{{{DS}}}Transform')]
    if reference.find(f'{{{DS}}}DigestMethod').get('Algorithm') != SHA256:
        raise SignatureError(9105, 'Obsługiwany jest skrót SHA-256.')
    if uri == '':
        if ENVELOPED not in algorithms:
            raise SignatureError(9105, 'Podpis musi być otaczany (enveloped).')
        digest = _digest_of_document(root)
    elif uri.startswith('#'):
        targets = [e for e in signature.iter() if e.get('Id') == uri[1:]]
        if len(targets) != 1:
            raise SignatureError(9105, f'Nie znaleziono elementu {uri}.')
        digest = crypto.sha256(_c14n(targets[0]))
    else:
        raise SignatureError(9105, 'Podpis zewnętrzny (detached) nie jest akceptowany.')
    if crypto.b64(digest) != (reference.findtext(f'{{{DS}}}DigestValue') or '').strip():
        raise SignatureError(9105, f'Skrót referencji {uri or "dokumentu"} się nie zgadza.')


def _check_signature_value(public_key, method, data, value):
    if method == RSA_SHA256 and isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise SignatureError(9105, 'Klucz RSA musi mieć co najmniej 2048 bitów.')
        public_key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
    elif method == ECDSA_SHA256 and isinstance(public_key, ec.EllipticCurvePublicKey):
        if len(value) == 64:   # IEEE P1363 r||s, as XML DSig requires
            value = utils.encode_dss_signature(int.from_bytes(value[:32], 'big'), int.from_bytes(value[32:], 'big'))
        public_key.verify(value, data, ec.ECDSA(hashes.SHA256()))
    else:
        raise SignatureError(9105, f'Nieobsługiwany algorytm podpisu {method}.')


def _check_signing_certificate(signature, certificate):
    digest = signature.findtext(f'.//{{{XADES}}}SigningCertificate//{{{DS}}}DigestValue')
    if digest is not None and digest.strip() != crypto.sha256_b64(crypto.certificate_der(certificate)):
        raise SignatureError(9105, 'SigningCertificate nie odpowiada certyfikatowi podpisu.')


def certificate_fingerprint(certificate):
    """SHA-256 of the certificate DER, 64 uppercase hex characters (KSeF 'Fingerprint' identifier)."""
    return crypto.sha256(crypto.certificate_der(certificate)).hex().upper()


def certificate_identity(certificate):
    """Who KSeF sees in a signing certificate: ({'type': 'Nip'|'Pesel', 'value'}, 'QualifiedSeal'|
    'QualifiedSignature'), or (None, 'QualifiedSignature') when it carries neither NIP nor PESEL; such a
    certificate is known to KSeF only by its fingerprint (grant permissions to it, or file ZAW-FA)."""
    attributes = {attribute.oid.dotted_string: attribute.value for attribute in certificate.subject}
    serial = attributes.get('2.5.4.5', '')             # serialNumber: PNOPL-<PESEL> or TINPL-<NIP>
    organization = attributes.get('2.5.4.97', '')      # organizationIdentifier: VATPL-<NIP>
    match = re.search(r'VATPL.*?([0-9]{10})', organization)
    if match:
        return {'type': 'Nip', 'value': match.group(1)}, 'QualifiedSeal'
    match = re.search(r'(PNOPL|PESEL).*?([0-9]{11})', serial)
    if match:
        return {'type': 'Pesel', 'value': match.group(2)}, 'QualifiedSignature'
    match = re.search(r'(TINPL|NIP).*?([0-9]{10})', serial)
    if match:
        return {'type': 'Nip', 'value': match.group(2)}, 'QualifiedSignature'
    return None, 'QualifiedSignature'




def load_auth_schema(path):
    """The AuthTokenRequest schema (auth/schemat_auth_v2-1.xsd) for lxml. Its patterns are written with ^...$
    anchors, which XML Schema regexes do not have (libxml2 would take them literally and reject every
    NipVatUe and PeppolId context); they are dropped in memory, the file is not changed."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    for pattern in tree.iter('{http://www.w3.org/2001/XMLSchema}pattern'):
        value = pattern.get('value')
        if value.startswith('^'):
            value = value[1:]
        if value.endswith('$') and not value.endswith('\\$'):
            value = value[:-1]
        pattern.set('value', value)
    return etree.XMLSchema(tree)
