"""KSeF verification QR codes.

KOD I (every invoice given outside KSeF): ``{qr}/invoice/{seller NIP}/{P_1 as DD-MM-YYYY}/{SHA-256 of the XML,
base64url without padding}``, labelled with the KSeF number, or OFFLINE until the invoice has one.

KOD II (offline invoices): ``{qr}/certificate/{context type}/{context value}/{seller NIP}/{certificate serial}/
{hash}/{signature}``; the signature covers the link without ``https://`` up to and including the hash, made with
the key of a KSeF certificate of type Offline: RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) or ECDSA P-256 SHA-256
written as r||s (IEEE P1363). Labelled CERTYFIKAT.
"""
import base64
import io

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from . import crypto

LABEL_OFFLINE = 'OFFLINE'
LABEL_CERTIFICATE = 'CERTYFIKAT'
CONTEXT_TYPES = ('Nip', 'InternalId', 'NipVatUe', 'PeppolId')


def _hash_b64url(xml_or_hash):
    digest = crypto.sha256(xml_or_hash) if len(xml_or_hash) != 32 else xml_or_hash
    return crypto.b64url(digest)


def kod1_url(qr_base, seller_nip, issue_date, xml: bytes):
    return f'{qr_base.rstrip("/")}/invoice/{seller_nip}/{issue_date:%d-%m-%Y}/{_hash_b64url(crypto.sha256(xml))}'


def kod2_url(qr_base, context_type, context_value, seller_nip, certificate_serial, xml: bytes, private_key):
    if context_type not in CONTEXT_TYPES:
        raise ValueError(f'context type must be one of {CONTEXT_TYPES}')
    base = qr_base.rstrip('/')
    link = (f'{base}/certificate/{context_type}/{context_value}/{seller_nip}/{certificate_serial.upper()}/'
            f'{_hash_b64url(crypto.sha256(xml))}')
    signed = link.split('://', 1)[-1].encode('utf-8')
    return f'{link}/{crypto.b64url(_sign(private_key, signed))}'


def _sign(private_key, data):
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < 2048:
            raise ValueError('the RSA key of an Offline certificate has at least 2048 bits')
        return private_key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, 'big') + s.to_bytes(32, 'big')
    raise ValueError('KOD II needs the RSA or EC P-256 key of a KSeF Offline certificate')


def verify_kod2(url, public_key):
    """True when the signature at the end of a KOD II link matches the rest (what KSeF checks on scanning)."""
    link, signature = url.rsplit('/', 1)
    signed = link.split('://', 1)[-1].encode('utf-8')
    raw = base64.urlsafe_b64decode(signature + '=' * (-len(signature) % 4))
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, signed, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                              hashes.SHA256())
        else:
            if len(raw) == 64:
                raw = utils.encode_dss_signature(int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big'))
            public_key.verify(raw, signed, ec.ECDSA(hashes.SHA256()))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not a valid signature"
        return False


def _matrix(url):
    import qrcode
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code


def png(url, label, module_size=4):
    """A PNG of the QR code with its label centred below (ISO/IEC 18004, error correction M)."""
    from PIL import Image, ImageDraw, ImageFont
    code = _matrix(url)
    code.box_size = module_size
    image = code.make_image(fill_color='black', back_color='white').get_image().convert('RGB')
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    width = max(image.width, right - left + 8)
    canvas = Image.new('RGB', (width, image.height + (bottom - top) + 8), 'white')
    canvas.paste(image, ((width - image.width) // 2, 0))
    ImageDraw.Draw(canvas).text(((width - (right - left)) // 2, image.height), label, fill='black', font=font)
    output = io.BytesIO()
    canvas.save(output, format='PNG')
    return output.getvalue()


def svg(url, label):
    """An SVG of the QR code with its label below."""
    from qrcode.image.svg import SvgPathImage
    code = _matrix(url)
    document = code.make_image(image_factory=SvgPathImage).to_string(encoding='unicode')
    size = (code.modules_count + 2 * code.border) * 10
    text = (f'<text x="{size / 20}mm" y="{size / 10 + 4}mm" text-anchor="middle" font-family="sans-serif" '
            f'font-size="3mm">{_escape(label)}</text>')
    return document.replace('</svg>', text + '</svg>')


def _escape(text):
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def modules(url):
    """The QR matrix (for tests and for renderers that draw it themselves)."""
    return _matrix(url).get_matrix()
