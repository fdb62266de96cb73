"""The cryptography KSeF 2.0 uses, shared by the client and the emulator.

- SHA-256 hashes, standard base64 (44 characters) for invoice/part/archive hashes;
- AES-256-CBC with PKCS#7 padding for invoices and batch parts (the IV travels in the session request, the
  ciphertext carries no IV prefix — as both official SDKs do);
- RSA-OAEP with SHA-256 and MGF1-SHA-256 (empty label) for the KSeF token and the session key.

Works with cryptography 3.4.8 (Odoo 18's pin) and newer.
"""
import base64
import datetime
import hashlib
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding as asym_padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

AES_KEY_SIZE = 32
# the certificate subject attributes KSeF's enrollment data names (GET /certificates/enrollments/data)
DN_FIELDS = {
    'commonName': NameOID.COMMON_NAME, 'countryName': NameOID.COUNTRY_NAME, 'givenName': NameOID.GIVEN_NAME,
    'surname': NameOID.SURNAME, 'serialNumber': NameOID.SERIAL_NUMBER,
    'uniqueIdentifier': NameOID.X500_UNIQUE_IDENTIFIER, 'organizationName': NameOID.ORGANIZATION_NAME,
    'organizationIdentifier': x509.ObjectIdentifier('2.5.4.97'),
}
AES_BLOCK = 16


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


def unb64(text: str) -> bytes:
    """Strict standard base64 (raises ValueError on anything else)."""
    return base64.b64decode(text.encode('ascii') if isinstance(text, str) else text, validate=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256_b64(data: bytes) -> str:
    return b64(sha256(data))


def new_session_key():
    """A fresh AES-256 key and IV."""
    return os.urandom(AES_KEY_SIZE), os.urandom(AES_BLOCK)


def aes_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Raises ValueError for ciphertext that is truncated, misaligned or badly padded."""
    if not data or len(data) % AES_BLOCK:
        raise ValueError('the ciphertext is not a whole number of AES blocks')
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _oaep():
    return asym_padding.OAEP(mgf=asym_padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def rsa_oaep_encrypt(public_key, data: bytes) -> bytes:
    return public_key.encrypt(data, _oaep())


def rsa_oaep_decrypt(private_key, data: bytes) -> bytes:
    return private_key.decrypt(data, _oaep())


def generate_rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_key_id(public_key) -> str:
    """KSeF publicKeyId: base64 SHA-256 of the SubjectPublicKeyInfo DER."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256_b64(der)


def certificate_der(certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def load_der_certificate(data: bytes):
    return x509.load_der_x509_certificate(data)


def self_signed_certificate(private_key, subject_attributes, valid_from, valid_to, serial=None, issuer_key=None,
                            issuer_name=None, key_usage=None):
    """An X.509 certificate for ``private_key``'s public key, signed by ``issuer_key`` (default: itself).
    ``subject_attributes``: [(NameOID.X, value)]."""
    subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject_attributes])
    signer = issuer_key or private_key
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name or subject)
               .public_key(private_key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(valid_from)
               .not_valid_after(valid_to))
    if key_usage:
        builder = builder.add_extension(key_usage, critical=True)
    algorithm = hashes.SHA256()
    return builder.sign(signer, algorithm)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


__all__ = ['NameOID']
