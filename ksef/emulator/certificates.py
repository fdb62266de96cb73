"""KSeF certificates (Authentication and Offline types): limits, enrollment data, CSR enrollment signed by
the emulator's CA, status, retrieval, query and revocation. Mixed into KsefService."""
import dataclasses
import datetime
import re
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .. import crypto
from .http import ApiError, bad_request, read_json, require
from .state import iso, reference_number

VALIDATION = 'Błąd walidacji danych wejściowych.'
NAME_PATTERN = re.compile(r'^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{5,100}$')
DN_FIELDS = crypto.DN_FIELDS


@dataclasses.dataclass
class IssuedCertificate:
    serial: str
    name: str
    kind: str                       # Authentication | Offline
    certificate: object
    subject: dict                   # {'type': 'Nip'|'Pesel'|'Fingerprint', 'value': ...}
    requested: datetime.datetime
    status: str = 'Active'


def default_limits(subject):
    return (300, 100) if subject.get('type') == 'Nip' else (12, 6)


class CertificatesMixin:

    def limits_for(self, subject):
        enrollments, certificates = default_limits(subject)
        override = self.state.certificate_limit_overrides.get((subject.get('type'), subject.get('value')))
        if override:
            enrollments = override[0] if override[0] is not None else enrollments
            certificates = override[1] if override[1] is not None else certificates
        return enrollments, certificates

    def testdata_update_certificate(self, request, serialNumber):
        """TEST only: change an issued certificate's end of validity (to try expiry warnings)."""
        data = read_json(request)
        require(data, 'validTo')
        issued = self.state.certificates.get(serialNumber)
        if issued is None:
            raise bad_request(25008, 'Nie znaleziono certyfikatu.', serialNumber)
        valid_to = _parse_time(data['validTo'])
        old = issued.certificate
        builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.issuer)
                   .public_key(old.public_key()).serial_number(old.serial_number)
                   .not_valid_before(old.not_valid_before).not_valid_after(valid_to))
        for extension in old.extensions:
            builder = builder.add_extension(extension.value, extension.critical)
        issued.certificate = builder.sign(self._ca_key, hashes.SHA256())
        return 200, None

    def _xades_auth(self, request):
        _context, auth = self.context_of_request(request)
        if auth.category != 'XadesSignature':
            raise bad_request(25001, 'Operacja dostępna wyłącznie po uwierzytelnieniu podpisem.')
        return auth

    def certificate_limits(self, request):
        _context, auth = self.context_of_request(request)
        enrollments, certificates = self._subject_counts(auth.subject)
        max_enrollments, max_certificates = self.limits_for(auth.subject)
        return 200, {'canRequest': enrollments < max_enrollments and certificates < max_certificates,
                     'enrollment': {'remaining': max_enrollments - enrollments, 'limit': max_enrollments},
                     'certificate': {'remaining': max_certificates - certificates, 'limit': max_certificates}}

    def _subject_counts(self, subject):
        enrollments = sum(1 for e in self.state.enrollments.values() if e['subject'] == subject)
        active = sum(1 for c in self.state.certificates.values() if c.subject == subject and c.status == 'Active')
        return enrollments, active

    def enrollment_data(self, request):
        auth = self._xades_auth(request)
        return 200, dict(auth.certificate_subject_fields)

    def enroll_certificate(self, request):
        auth = self._xades_auth(request)
        data = read_json(request)
        require(data, 'certificateName', 'certificateType', 'csr')
        if not NAME_PATTERN.match(str(data['certificateName'])):
            raise bad_request(21405, VALIDATION, 'certificateName: 5-100 letters, digits, spaces, _ or -')
        if data['certificateType'] not in ('Authentication', 'Offline'):
            raise bad_request(21405, VALIDATION, 'certificateType must be Authentication or Offline')
        try:
            csr = x509.load_der_x509_csr(crypto.unb64(data['csr']))
            valid_signature = csr.is_signature_valid
        except ValueError:
            raise bad_request(25004, 'Nieprawidłowy wniosek certyfikacyjny (CSR).') from None
        if not valid_signature:
            raise bad_request(25004, 'Nieprawidłowy podpis wniosku certyfikacyjnego (CSR).')
        key = csr.public_key()
        if not ((isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048)
                or (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == 'secp256r1')):
            raise bad_request(25010, 'Nieprawidłowy typ lub długość klucza (RSA 2048 albo EC P-256).')
        requested = {name: value for name, oid in DN_FIELDS.items()
                     for value in [_attribute(csr.subject, oid)] if value is not None}
        expected = {k: v for k, v in auth.certificate_subject_fields.items() if v is not None}
        if requested != expected:
            raise bad_request(25003, 'Dane we wniosku nie są zgodne z danymi uwierzytelnienia.',
                              f'Oczekiwano: {expected}')
        enrollments, certificates = self._subject_counts(auth.subject)
        max_enrollments, max_certificates = self.limits_for(auth.subject)
        if enrollments >= max_enrollments:
            raise bad_request(25006, 'Przekroczono limit wniosków certyfikacyjnych.')
        if certificates >= max_certificates:
            raise bad_request(25007, 'Przekroczono limit aktywnych certyfikatów.')
        now = self.clock.now()
        valid_from = _parse_time(data.get('validFrom')) or now
        ref = reference_number(now, 'CE')
        serial = secrets.token_hex(8).upper()
        certificate = self._issue(csr, serial, data['certificateType'], valid_from)
        self.state.enrollments[ref] = {'subject': dict(auth.subject), 'requested': now, 'serial': serial,
                                       'ready_at': now + datetime.timedelta(seconds=self.options.auth_delay)}
        self.state.certificates[serial] = IssuedCertificate(serial, data['certificateName'], data['certificateType'],
                                                            certificate, dict(auth.subject), now)
        return 202, {'referenceNumber': ref, 'timestamp': iso(now)}

    def _issue(self, csr, serial, kind, valid_from):
        usage = x509.KeyUsage(digital_signature=kind == 'Authentication', content_commitment=kind == 'Offline',
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'KSeF emulator CA'),
                            x509.NameAttribute(NameOID.COUNTRY_NAME, 'PL')])
        return (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer).public_key(csr.public_key())
                .serial_number(int(serial, 16)).not_valid_before(valid_from)
                .not_valid_after(valid_from + datetime.timedelta(days=730))
                .add_extension(usage, critical=True).sign(self._ca_key, hashes.SHA256()))

    def enrollment_status(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        enrollment = self.state.enrollments.get(referenceNumber)
        if enrollment is None or enrollment['subject'] != auth.subject:
            raise bad_request(21405, VALIDATION, f'Nie znaleziono wniosku {referenceNumber}.')
        body = {'requestDate': iso(enrollment['requested'])}
        if self.clock.now() < enrollment['ready_at']:
            body['status'] = {'code': 100, 'description': 'Wniosek przyjęty do realizacji'}
        else:
            body['status'] = {'code': 200, 'description': 'Wniosek obsłużony (certyfikat wygenerowany)'}
            body['certificateSerialNumber'] = enrollment['serial']
        return 200, body

    def _issued_to(self, auth):
        ready = {e['serial'] for e in self.state.enrollments.values()
                 if e['subject'] == auth.subject and self.clock.now() >= e['ready_at']}
        return [c for c in self.state.certificates.values() if c.serial in ready]

    def retrieve_certificates(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request)
        serials = data.get('certificateSerialNumbers')
        if not isinstance(serials, list) or not 1 <= len(serials) <= 10:
            raise bad_request(21405, VALIDATION, 'certificateSerialNumbers: 1 to 10 serial numbers')
        mine = {c.serial: c for c in self._issued_to(auth)}
        return 200, {'certificates': [{'certificate': crypto.b64(crypto.certificate_der(mine[s].certificate)),
                                       'certificateName': mine[s].name, 'certificateSerialNumber': s,
                                       'certificateType': mine[s].kind} for s in serials if s in mine]}

    def query_certificates(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request) if request.get_data() else {}
        now = self.clock.now()
        items = []
        for issued in sorted(self._issued_to(auth), key=lambda c: c.requested):
            status = issued.status
            valid_to = issued.certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
            if status == 'Active' and valid_to < now:
                status = 'Expired'
            if any(data.get(k) not in (None, v) for k, v in (('certificateSerialNumber', issued.serial),
                                                              ('type', issued.kind), ('status', status))):
                continue
            if data.get('name') and data['name'].lower() not in issued.name.lower():
                continue
            items.append({'certificateSerialNumber': issued.serial, 'name': issued.name, 'type': issued.kind,
                          'commonName': _attribute(issued.certificate.subject, NameOID.COMMON_NAME),
                          'status': status, 'subjectIdentifier': dict(issued.subject),
                          'validFrom': iso(issued.certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc)),
                          'validTo': iso(valid_to), 'requestDate': iso(issued.requested)})
        page, more = self.offset_page(request, items, largest=50)
        return 200, {'certificates': page, 'hasMore': more}

    def revoke_certificate(self, request, certificateSerialNumber):
        _context, auth = self.context_of_request(request)
        if auth.category != 'XadesSignature':
            raise bad_request(25002, 'Operacja niedostępna dla tej metody uwierzytelnienia.')
        issued = {c.serial: c for c in self._issued_to(auth)}.get(certificateSerialNumber)
        if issued is None:
            raise bad_request(25008, 'Nie znaleziono certyfikatu.', certificateSerialNumber)
        if issued.status != 'Active':
            raise bad_request(25009, 'Certyfikat jest już unieważniony, zablokowany lub wygasł.')
        issued.status = 'Revoked'
        return 204, None

    def ksef_certificate_status(self, certificate):
        """For XAdES logins and KOD II checks: (issued here?, problem or None)."""
        issued = self.state.certificates.get(f'{certificate.serial_number:016X}')
        if issued is None or crypto.certificate_der(issued.certificate) != crypto.certificate_der(certificate):
            return False, None
        if issued.status != 'Active':
            return True, 'Certyfikat unieważniony.'
        if issued.kind != 'Authentication':
            return True, 'Certyfikat typu Offline nie służy do uwierzytelniania.'
        return True, None


def _attribute(name, oid):
    values = name.get_attributes_for_oid(oid)
    return values[0].value if values else None


def subject_fields(certificate):
    """CertificateEnrollmentDataResponse of the certificate a subject logged in with."""
    fields = {name: _attribute(certificate.subject, oid) for name, oid in DN_FIELDS.items()}
    fields['commonName'] = fields['commonName'] or 'KSeF'
    fields['countryName'] = fields['countryName'] or 'PL'
    return fields


def _parse_time(text):
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise bad_request(21405, VALIDATION, 'validFrom: not an ISO 8601 date-time') from None


__all__ = ['CertificatesMixin', 'ApiError']
