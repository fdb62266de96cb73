"""The KSeF 2.0 behaviour the emulator implements (see doc/emulator.md for the covered operations)."""
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import threading

from cryptography.x509 import KeyUsage
from cryptography.x509.oid import NameOID

from .. import crypto, identifiers
from ..fa3 import safe, schema
from ..fa3.model import FORM_CODE, NAMESPACE
from .http import ApiError, bad_request, read_json, require
from .state import (
    Authentication, Challenge, Clock, Invoice, KsefToken, PublicKey, Session, State, iso, reference_number,
)
from . import query, upo
from .certificates import CertificatesMixin, subject_fields
from .permissions import EuEntitiesMixin, PermissionsMixin
from .collective import CollectiveIdentifiersMixin

CHALLENGE_LIFE = datetime.timedelta(minutes=10)
OPERATION_TOKEN_LIFE = datetime.timedelta(minutes=45)
ACCESS_TOKEN_LIFE = datetime.timedelta(minutes=15)
REFRESH_TOKEN_LIFE = datetime.timedelta(days=7)
SESSION_LIFE = datetime.timedelta(hours=12)
CONTEXT_TYPES = ('Nip', 'InternalId', 'NipVatUe', 'PeppolId')
OWNER_PERMISSIONS = ('InvoiceWrite', 'InvoiceRead', 'CredentialsManage', 'CredentialsRead', 'Introspection',
                     'SubunitManage')
VALIDATION = 'Błąd walidacji danych wejściowych.'
INVOICE_STATUS = {
    100: 'Faktura przyjęta do dalszego przetwarzania', 150: 'Trwa przetwarzanie', 200: 'Sukces',
    410: 'Nieprawidłowy zakres uprawnień', 415: 'Brak możliwości wysyłania faktury z załącznikiem',
    440: 'Duplikat faktury', 450: 'Błąd weryfikacji semantyki dokumentu faktury',
}


BATCH_ABANDONED_AFTER = datetime.timedelta(hours=12)   # a batch session never closed is cancelled (440)


class Options:
    """Tunable behaviour: processing delays (emulated seconds) and the schema directory."""

    def __init__(self, auth_delay=0.5, invoice_delay=1.0, schema_dir=None, validate_nip_checksums=False,
                 export_cap=10_000, export_part_size=50_000_000):
        self.export_cap = export_cap                  # invoices per export package (KSeF: 10,000)
        self.export_part_size = export_part_size      # bytes per export part before encryption (KSeF: 50 MB)
        self.auth_delay = auth_delay
        self.invoice_delay = invoice_delay
        self.schema_dir = schema_dir
        self.validate_nip_checksums = validate_nip_checksums   # PRD does, TEST does not
        # a damaged or hostile package on demand: called with the [(name, bytes)] of every export package before
        # it is zipped, returns the entries to zip (tests of the receiving side)
        self.export_tamper = None
        # the next N batch sessions open with their upload window already over (a slow or stalled upload)
        self.expired_uploads = 0


class KsefService(CertificatesMixin, PermissionsMixin, EuEntitiesMixin, CollectiveIdentifiersMixin):
    def __init__(self, clock=None, options=None, base_url='http://127.0.0.1'):
        self.clock = clock or Clock()
        self.options = options or Options()
        self.base_url = base_url.rstrip('/')
        self.state = State()
        self.lock = threading.RLock()
        self._jwt_secret = secrets.token_bytes(32)
        self._ca_key = crypto.generate_rsa_key()
        self._auth_schema = None
        self.rotate_keys()

    # --- keys --------------------------------------------------------------------------------------

    def rotate_keys(self, keep_old=False):
        """New MF-like key pairs for both usages; without keep_old the previous ones are withdrawn at once
        (emergency rotation: clients that still send the old publicKeyId get 21470)."""
        now = self.clock.now()
        if not keep_old:
            for key in self.state.keys:
                key.withdrawn = True
        for usage in ('KsefTokenEncryption', 'SymmetricKeyEncryption'):
            private_key = crypto.generate_rsa_key()
            certificate = crypto.self_signed_certificate(
                private_key, [(NameOID.COMMON_NAME, 'Ministerstwo Finansów'), (NameOID.COUNTRY_NAME, 'PL'),
                              (NameOID.ORGANIZATION_NAME, 'KSeF emulator')],
                now - datetime.timedelta(days=1), now + datetime.timedelta(days=730),
                issuer_key=self._ca_key, issuer_name=None,
                key_usage=KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                   data_encipherment=True, key_agreement=False, key_cert_sign=False,
                                   crl_sign=False, encipher_only=False, decipher_only=False))
            self.state.keys.append(PublicKey(usage, private_key, certificate, now - datetime.timedelta(days=1),
                                             now + datetime.timedelta(days=730)))

    def _key_for(self, usage, public_key_id):
        candidates = [k for k in self.state.keys if k.usage == usage and not k.withdrawn]
        if public_key_id:
            for key in self.state.keys:
                if key.usage == usage and key.public_key_id == public_key_id:
                    if key.withdrawn:
                        break
                    return key
            raise bad_request(21470, 'Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.',
                              f'Klucz o identyfikatorze {public_key_id} nie jest wspierany.')
        return max(candidates, key=lambda k: k.valid_from)

    def public_key_certificates(self, request):
        return 200, [key.as_json() for key in self.state.keys if not key.withdrawn]

    # --- tokens (JWT-like, HMAC-signed) ---------------------------------------------------------------

    def _jwt(self, claims):
        def part(data):
            return crypto.b64url(json.dumps(data, separators=(',', ':')).encode())
        head = f'{part({"alg": "HS256", "typ": "JWT"})}.{part(claims)}'
        signature = hmac.new(self._jwt_secret, head.encode(), hashlib.sha256).digest()
        return f'{head}.{crypto.b64url(signature)}'

    def _claims(self, token):
        try:
            head, payload, signature = token.split('.')
            expected = hmac.new(self._jwt_secret, f'{head}.{payload}'.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(crypto.b64url(expected), signature):
                return None
            return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
        except (ValueError, TypeError):
            return None

    def _bearer(self, request, token_type):
        header = request.headers.get('Authorization', '')
        if not header.startswith('Bearer '):
            raise ApiError(401, description='Brak tokena dostępu (nagłówek Authorization: Bearer).')
        claims = self._claims(header[7:].strip())
        now = self.clock.now().timestamp()
        if not claims or claims.get('token-type') != token_type:
            raise ApiError(401, description='Nieprawidłowy token.')
        if claims['exp'] < now:
            raise ApiError(401, description='Token wygasł.')
        if token_type == 'ContextToken' and claims.get('serial', 0) <= self.state.access_ended_upto:
            raise ApiError(401, description='Token został unieważniony.')
        auth = self.state.authentications.get(claims['ref'])
        if auth is None:
            raise ApiError(401, description='Nieprawidłowy token.')
        if token_type == 'RefreshToken' and (auth.terminated or auth.refresh_token != header[7:].strip()):
            raise ApiError(401, description='Token odświeżający został unieważniony.')
        return auth, claims

    def context_of_request(self, request):
        """(context, authentication) of a request with a valid access token, for rate limiting."""
        auth, _claims = self._bearer(request, 'ContextToken')
        return f'{auth.context_type}:{auth.context_value}', auth

    def _access_token(self, auth):
        valid_until = self.clock.now() + ACCESS_TOKEN_LIFE
        self.state.access_issued += 1
        token = self._jwt({'token-type': 'ContextToken', 'ref': auth.reference_number, 'serial': self.state.access_issued,
                           'context-identifier-type': auth.context_type, 'context-identifier-value': auth.context_value,
                           'jti': secrets.token_hex(8), 'exp': int(valid_until.timestamp())})
        return {'token': token, 'validUntil': iso(valid_until)}

    # --- authentication -------------------------------------------------------------------------------

    def challenge(self, request):
        now = self.clock.now()
        head = f'{now:%Y%m%d}-CR-{secrets.token_hex(5).upper()}-{secrets.token_hex(5).upper()}'
        value = f'{head}-{identifiers.ksef_number_checksum(head)}'
        timestamp_ms = int(now.timestamp() * 1000)
        self.state.challenges[value] = Challenge(value, now, timestamp_ms)
        return 200, {'challenge': value, 'timestamp': iso(now), 'timestampMs': timestamp_ms,
                     'clientIp': request.remote_addr or '127.0.0.1'}

    def _take_challenge(self, value):
        challenge = self.state.challenges.get(value)
        if challenge is None or challenge.used or self.clock.now() - challenge.timestamp > CHALLENGE_LIFE:
            raise bad_request(21111, 'Nieprawidłowe wyzwanie autoryzacyjne.')
        challenge.used = True
        return challenge

    def ksef_token(self, request):
        data = read_json(request)
        require(data, 'challenge', 'contextIdentifier', 'encryptedToken')
        context = data['contextIdentifier']
        if not isinstance(context, dict) or context.get('type') not in CONTEXT_TYPES or not context.get('value'):
            raise bad_request(21405, VALIDATION, 'contextIdentifier: type must be one of Nip, InternalId, NipVatUe, PeppolId')
        key = self._key_for('KsefTokenEncryption', data.get('publicKeyId'))
        challenge = self._take_challenge(data['challenge'])
        now = self.clock.now()
        status = self._check_token(key, data['encryptedToken'], challenge, context)
        auth = self._new_authentication('Token', 'Token', context, status[0], status[1], now)
        return 202, {'referenceNumber': auth.reference_number,
                     'authenticationToken': {'token': auth.operation_token,
                                             'validUntil': iso(now + OPERATION_TOKEN_LIFE)}}

    def _check_token(self, key, encrypted, challenge, context):
        """((code, description, details), token) — decided now, shown when polled after the delay."""
        try:
            plain = crypto.rsa_oaep_decrypt(key.private_key, crypto.unb64(encrypted)).decode('utf-8')
            secret, timestamp = plain.rsplit('|', 1)
        except (ValueError, TypeError):
            return (450, 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
                    ['Nieprawidłowe szyfrowanie tokena.']), None
        if timestamp != str(challenge.timestamp_ms):
            return (450, 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
                    ['Nieprawidłowy czas tokena.']), None
        token = self.state.tokens.get(secret)
        if token is None or token.status != 'Active':
            return (450, 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
                    ['Nieprawidłowy token.' if token is None else 'Token nieaktywny.']), None
        if (token.context_type, token.context_value) != (context['type'], context['value']):
            return (415, 'Uwierzytelnianie zakończone niepowodzeniem z powodu braku przypisanych uprawnień', []), None
        token.last_use = self.clock.now()
        return (200, 'Uwierzytelnianie zakończone sukcesem', []), token

    def _new_authentication(self, method, category, context, status, token, now):
        if (context['type'], context['value']) in self.state.blocked_contexts:
            status = (480, 'Uwierzytelnianie zablokowane', ['Kontekst zablokowany (incydent bezpieczeństwa).'])
            token = None
        ref = reference_number(now, 'AU')
        auth = Authentication(
            reference_number=ref, started=now, method=method, category=category,
            context_type=context['type'], context_value=context['value'],
            subject={'type': 'Token', 'value': token.reference_number} if token else {},
            permissions=list(token.permissions) if token else [], final_status=status,
            ready_at=now + datetime.timedelta(seconds=self.options.auth_delay),
            token_reference=token.reference_number if token else None)
        auth.operation_token = self._jwt({'token-type': 'OperationToken', 'ref': ref,
                                          'exp': int((now + OPERATION_TOKEN_LIFE).timestamp())})
        self.state.authentications[ref] = auth
        return auth

    def xades_signature(self, request):
        """XAdES-signed AuthTokenRequest: signature, schema, challenge, then who signed and what they may do."""
        from .. import xades
        if request.content_length and request.content_length > 1_000_000:
            raise bad_request(21405, VALIDATION, 'Dokument jest za duży.')
        if request.mimetype not in ('application/xml', 'text/xml'):
            raise bad_request(21405, VALIDATION, 'Content-Type must be application/xml')
        data = request.get_data()
        try:
            root, certificate = xades.verify(data)
        except xades.SignatureError as error:
            raise bad_request(error.code, str(error)) from None
        fields = self._auth_request_fields(root)
        self._take_challenge(fields['challenge'])
        now = self.clock.now()
        subject, method = _certificate_subject(certificate, fields['subject_type'])
        context = {'type': fields['context_type'], 'value': fields['context_value']}
        issued_here, certificate_problem = self.ksef_certificate_status(certificate)
        if issued_here:
            method = 'InternalCertificate'
        if certificate_problem or now < certificate.not_valid_before.replace(tzinfo=datetime.timezone.utc) or \
                now > certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc):
            status = (460, 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu',
                      [certificate_problem or 'Certyfikat jest nieważny.'])
            permissions = []
        elif subject is None:
            raise bad_request(21115, 'Nieprawidłowy certyfikat.',
                              'Certyfikat nie zawiera identyfikatora NIP ani PESEL: użyj certificateFingerprint.')
        else:
            permissions = self._permissions_of(subject, context)
            status = (200, 'Uwierzytelnianie zakończone sukcesem', []) if permissions else \
                (415, 'Uwierzytelnianie zakończone niepowodzeniem z powodu braku przypisanych uprawnień', [])
        auth = self._new_authentication(method, 'XadesSignature', context, status, None, now)
        auth.subject, auth.permissions = subject or {}, permissions
        auth.certificate_subject_fields = subject_fields(certificate)
        auth.auth_document_hash = crypto.sha256_b64(data)
        return 202, {'referenceNumber': auth.reference_number,
                     'authenticationToken': {'token': auth.operation_token,
                                             'validUntil': iso(now + OPERATION_TOKEN_LIFE)}}

    def _auth_request_fields(self, root):
        from .. import xades
        namespace = etree_namespace(root)
        if namespace not in xades.AUTH_NAMESPACES or root.tag != f'{{{namespace}}}AuthTokenRequest':
            raise bad_request(21401, 'Dokument nie jest zgodny ze schematem.', 'Oczekiwano AuthTokenRequest.')
        self._validate_auth_schema(root)
        ns = {'a': namespace}
        context = root.find('a:ContextIdentifier', ns)
        choice = context[0] if context is not None and len(context) else None
        types = {'Nip': 'Nip', 'InternalId': 'InternalId', 'NipVatUe': 'NipVatUe', 'PeppolId': 'PeppolId'}
        if choice is None or etree_local(choice) not in types:
            raise bad_request(21401, 'Dokument nie jest zgodny ze schematem.', 'ContextIdentifier')
        return {'challenge': root.findtext('a:Challenge', namespaces=ns), 'context_type': types[etree_local(choice)],
                'context_value': (choice.text or '').strip(),
                'subject_type': root.findtext('a:SubjectIdentifierType', namespaces=ns)}

    def _validate_auth_schema(self, root):
        """Against auth/schemat_auth_v2-1.xsd next to the FA(3) schema directory, when it is there (the 2.0
        schema does not compile; both namespaces have the same structure)."""
        import copy
        import pathlib
        from lxml import etree
        from .. import xades
        try:
            base = pathlib.Path(self.options.schema_dir) if self.options.schema_dir else schema.default_schema_dir()
        except schema.SchemaNotFound:
            return
        path = base.parent / 'auth' / 'schemat_auth_v2-1.xsd'
        if not path.is_file():
            return
        if self._auth_schema is None:
            self._auth_schema = xades.load_auth_schema(path)
        clone = copy.deepcopy(root)
        for signature in clone.findall(f'{{{xades.DS}}}Signature'):
            clone.remove(signature)
        text = etree.tostring(clone).replace(xades.AUTH_NAMESPACES[0].encode(), xades.AUTH_NAMESPACES[1].encode())
        document = etree.fromstring(text)
        if not self._auth_schema.validate(document):
            raise bad_request(21401, 'Dokument nie jest zgodny ze schematem.',
                              *[e.message for e in self._auth_schema.error_log][:5])

    def _permissions_of(self, subject, context):
        """The owner (same NIP as the context) holds every permission; others what was granted to them."""
        owner_nip = context['value'].split('-')[0] if context['type'] in ('Nip', 'InternalId') else None
        if subject.get('type') == 'Nip' and subject.get('value') == owner_nip:
            return list(OWNER_PERMISSIONS)
        granted = set(self.state.grants.get((context['type'], context['value'], subject.get('type'),
                                             subject.get('value')), []))
        return sorted(granted | self.granted_scopes(context, {'type': subject.get('type'), 'value': subject.get('value')}))

    def admin_grant(self, request):
        """Grant permissions in a context to a subject (Nip | Pesel | Fingerprint), like /testdata/permissions."""
        data = read_json(request)
        require(data, 'contextIdentifier', 'subjectIdentifier', 'permissions')
        context, subject = data['contextIdentifier'], data['subjectIdentifier']
        key = (context['type'], context['value'], subject['type'], subject['value'])
        self.state.grants[key] = sorted(set(self.state.grants.get(key, [])) | set(data['permissions']))
        return 200, {'permissions': self.state.grants[key]}

    # --- TEST-environment set-up endpoints (/testdata) ------------------------------------------------

    def testdata_subject(self, request):
        data = read_json(request)
        require(data, 'subjectNip', 'subjectType', 'description')
        if data['subjectNip'] in self.state.subjects:
            raise bad_request(30001, 'Podmiot już istnieje.', data['subjectNip'])
        self.state.subjects[data['subjectNip']] = dict(data)
        return 200, None

    def testdata_subject_remove(self, request):
        data = read_json(request)
        require(data, 'subjectNip')
        self.state.subjects.pop(data['subjectNip'], None)
        return 200, None

    def testdata_person(self, request):
        data = read_json(request)
        require(data, 'nip', 'pesel', 'description')
        self.state.persons[data['pesel']] = dict(data)
        # a person's PESEL and NIP are the same subject: the NIP owner's rights follow the linked PESEL
        self.state.grants[('Nip', data['nip'], 'Pesel', data['pesel'])] = list(OWNER_PERMISSIONS)
        return 200, None

    def testdata_person_remove(self, request):
        data = read_json(request)
        require(data, 'nip')
        for pesel, person in list(self.state.persons.items()):
            if person.get('nip') == data['nip']:
                del self.state.persons[pesel]
                self.state.grants.pop(('Nip', data['nip'], 'Pesel', pesel), None)
        return 200, None

    def testdata_permissions(self, request, revoke=False):
        data = read_json(request)
        require(data, 'contextIdentifier', 'authorizedIdentifier', 'permissions')
        context, subject = data['contextIdentifier'], data['authorizedIdentifier']
        key = ('Nip', context['value'], subject['type'], subject['value'])
        names = {p['permissionType'] if isinstance(p, dict) else p for p in data['permissions']}
        current = set(self.state.grants.get(key, []))
        self.state.grants[key] = sorted(current - names if revoke else current | names)
        return 200, None

    def testdata_permissions_revoke(self, request):
        return self.testdata_permissions(request, revoke=True)

    def testdata_attachment(self, request, allowed=True):
        data = read_json(request)
        require(data, 'nip')
        self.state.attachment_consent[data['nip']] = None if allowed else self.clock.now()
        return 200, None

    def testdata_attachment_revoke(self, request):
        return self.testdata_attachment(request, allowed=False)

    def attachment_status(self, request):
        _context, auth = self.context_of_request(request)
        nip = auth.context_value.split('-')[0]
        if nip not in self.state.attachment_consent:
            return 200, {'isAttachmentAllowed': False}
        revoked = self.state.attachment_consent[nip]
        body = {'isAttachmentAllowed': revoked is None}
        if revoked:
            body['revokedDate'] = iso(revoked)
        return 200, body

    def _auth_status(self, auth):
        if self.clock.now() < auth.ready_at:
            return {'code': 100, 'description': 'Uwierzytelnianie w toku', 'details': []}
        code, description, details = auth.final_status
        return {'code': code, 'description': description, 'details': details}

    def auth_status(self, request, referenceNumber):
        auth, _claims = self._bearer(request, 'OperationToken')
        if auth.reference_number != referenceNumber:
            raise ApiError(403, description='Token nie dotyczy tej operacji.', reason_code='insufficient-resource-access')
        body = {'startDate': iso(auth.started), 'authenticationMethod': auth.method,
                'authenticationMethodInfo': {'category': auth.category, 'code': f'{auth.category}.{auth.method}',
                                             'displayName': auth.method},
                'status': self._auth_status(auth), 'isTokenRedeemed': auth.redeemed}
        if auth.last_refresh:
            body['lastTokenRefreshDate'] = iso(auth.last_refresh)
        if auth.refresh_valid_until:
            body['refreshTokenValidUntil'] = iso(auth.refresh_valid_until)
        return 200, body

    def redeem(self, request):
        auth, _claims = self._bearer(request, 'OperationToken')
        if auth.redeemed:
            raise bad_request(21301, 'Brak autoryzacji.', 'Tokeny zostały już pobrane.')
        if self._auth_status(auth)['code'] != 200:
            raise bad_request(21301, 'Brak autoryzacji.', 'Status uwierzytelniania nie pozwala na pobranie tokenów.')
        auth.redeemed = True
        now = self.clock.now()
        auth.refresh_valid_until = now + REFRESH_TOKEN_LIFE
        auth.refresh_token = self._jwt({'token-type': 'RefreshToken', 'ref': auth.reference_number,
                                        'jti': secrets.token_hex(8), 'exp': int(auth.refresh_valid_until.timestamp())})
        return 200, {'accessToken': self._access_token(auth),
                     'refreshToken': {'token': auth.refresh_token, 'validUntil': iso(auth.refresh_valid_until)}}

    def refresh(self, request):
        auth, _claims = self._bearer(request, 'RefreshToken')
        auth.last_refresh = self.clock.now()
        return 200, {'accessToken': self._access_token(auth)}

    def _require_permission(self, auth, *any_of):
        if not set(any_of) & set(auth.permissions):
            raise ApiError(403, description='Brak uprawnień do wykonania operacji.', reason_code='missing-permissions',
                           extra={'requiredAnyOfPermissions': list(any_of), 'presentPermissions': auth.permissions})

    # --- KSeF tokens and authentication sessions ---------------------------------------------------------

    def create_token(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'CredentialsManage')
        if auth.context_type not in ('Nip', 'InternalId'):
            raise bad_request(26002, 'Nie można wygenerować tokena dla obecnego typu kontekstu.', auth.context_type)
        data = read_json(request)
        require(data, 'permissions', 'description')
        permissions = data['permissions']
        if not isinstance(permissions, list) or not permissions or not all(isinstance(p, str) for p in permissions):
            raise bad_request(21405, VALIDATION, 'permissions must be a non-empty list')
        if not 5 <= len(str(data['description'])) <= 256:
            raise bad_request(21405, VALIDATION, 'description must have 5 to 256 characters')
        missing = set(permissions) - set(auth.permissions)
        if missing:
            raise bad_request(26001, 'Nie można nadać tokenowi uprawnień, których nie posiadasz.', *sorted(missing))
        now = self.clock.now()
        ref = reference_number(now, 'TK')
        secret = f'{ref}|{auth.context_type.lower()}-{auth.context_value}|{secrets.token_hex(32)}'
        author = auth.subject if auth.subject.get('type') in ('Nip', 'Pesel', 'Fingerprint') else \
            {'type': 'Nip', 'value': auth.context_value.split('-')[0]}
        self.state.tokens[secret] = KsefToken(ref, secret, auth.context_type, auth.context_value, list(permissions),
                                              data['description'], dict(author), now, status='Pending')
        self.state.token_activation[ref] = now + datetime.timedelta(seconds=self.options.auth_delay)
        return 202, {'referenceNumber': ref, 'token': secret}

    def _token_item(self, token):
        ready = self.state.token_activation.get(token.reference_number)
        if token.status == 'Pending' and ready and self.clock.now() >= ready:
            token.status = 'Active'
        item = {'referenceNumber': token.reference_number, 'authorIdentifier': dict(token.author),
                'contextIdentifier': {'type': token.context_type, 'value': token.context_value},
                'description': token.description, 'requestedPermissions': list(token.permissions),
                'dateCreated': iso(token.created), 'status': token.status}
        if token.last_use:
            item['lastUseDate'] = iso(token.last_use)
        return item

    def _tokens_of(self, auth):
        return [t for t in self.state.tokens.values()
                if (t.context_type, t.context_value) == (auth.context_type, auth.context_value)]

    def _visible_tokens(self, auth, *wide_permissions):
        """The contract's scope: every token of the context with one of ``wide_permissions``; otherwise a token
        login sees only the token it used, any other login the tokens it generated."""
        tokens = self._tokens_of(auth)
        if set(wide_permissions) & set(auth.permissions):
            return tokens
        if auth.token_reference:
            return [t for t in tokens if t.reference_number == auth.token_reference]
        return [t for t in tokens if t.author == auth.subject]

    def list_tokens(self, request):
        _context, auth = self.context_of_request(request)
        statuses = request.args.getlist('status')
        visible = self._visible_tokens(auth, 'CredentialsManage', 'CredentialsRead')
        items = [self._token_item(t) for t in sorted(visible, key=lambda t: t.created, reverse=True)]
        items = [i for i in items if not statuses or i['status'] in statuses]
        description = request.args.get('description')
        if description:
            items = [i for i in items if description.lower() in i['description'].lower()]
        return 200, self._page(request, items, 'tokens', 10, 100)

    def get_token(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        for token in self._tokens_of(auth):
            if token.reference_number == referenceNumber:
                return 200, self._token_item(token)
        raise bad_request(21405, VALIDATION, f'Nie znaleziono tokena {referenceNumber}.')

    def revoke_token(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        for token in self._visible_tokens(auth, 'CredentialsManage'):
            if token.reference_number == referenceNumber:
                token.status = 'Revoked'
                return 204, None
        if any(t.reference_number == referenceNumber for t in self._tokens_of(auth)):
            self._require_permission(auth, 'CredentialsManage')
        raise bad_request(21405, VALIDATION, f'Nie znaleziono tokena {referenceNumber}.')

    def _page(self, request, items, key, smallest, largest):
        try:
            page_size = int(request.args.get('pageSize', smallest))
        except ValueError:
            raise bad_request(21405, VALIDATION, 'pageSize must be an integer') from None
        if not smallest <= page_size <= largest:
            raise bad_request(21405, VALIDATION, f'pageSize must be between {smallest} and {largest}')
        start = _continuation_offset(request.headers.get('x-continuation-token'))
        body = {key: items[start:start + page_size]}
        if start + page_size < len(items):
            body['continuationToken'] = crypto.b64(f'offset:{start + page_size}'.encode())
        return body

    def list_auth_sessions(self, request):
        _context, current = self.context_of_request(request)
        mine = [a for a in self.state.authentications.values()
                if (a.context_type, a.context_value) == (current.context_type, current.context_value)
                and a.redeemed and not a.terminated and a.refresh_valid_until > self.clock.now()]
        items = []
        for auth in sorted(mine, key=lambda a: a.started, reverse=True):
            item = {'startDate': iso(auth.started), 'authenticationMethod': auth.method,
                    'authenticationMethodInfo': {'category': auth.category, 'code': f'{auth.category}.{auth.method}',
                                                 'displayName': auth.method},
                    'status': self._auth_status(auth), 'isTokenRedeemed': auth.redeemed,
                    'referenceNumber': auth.reference_number, 'isCurrent': auth is current}
            if auth.last_refresh:
                item['lastTokenRefreshDate'] = iso(auth.last_refresh)
            item['refreshTokenValidUntil'] = iso(auth.refresh_valid_until)
            items.append(item)
        return 200, self._page(request, items, 'items', 10, 100)

    def terminate_current_auth_session(self, request):
        header = request.headers.get('Authorization', '')
        claims = self._claims(header[7:].strip()) if header.startswith('Bearer ') else None
        auth = self.state.authentications.get((claims or {}).get('ref'))
        if auth is None or claims.get('token-type') not in ('ContextToken', 'RefreshToken') \
                or claims['exp'] < self.clock.now().timestamp():
            raise ApiError(401, description='Nieprawidłowy token.')
        auth.terminated = True
        return 204, None

    def terminate_auth_session(self, request, referenceNumber):
        _context, current = self.context_of_request(request)
        auth = self.state.authentications.get(referenceNumber)
        if auth is None or (auth.context_type, auth.context_value) != (current.context_type, current.context_value):
            raise bad_request(21304, 'Brak uwierzytelnienia o podanym numerze referencyjnym.', referenceNumber)
        auth.terminated = True
        return 204, None

    # --- online sessions ---------------------------------------------------------------------------

    def open_online_session(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceWrite', 'EnforcementOperations')
        data = read_json(request)
        require(data, 'formCode', 'encryption')
        form, encryption = data['formCode'], data['encryption']
        if not isinstance(form, dict) or {k: form.get(k) for k in FORM_CODE} != FORM_CODE:
            raise bad_request(21405, VALIDATION, f'Nieobsługiwany kod formularza: {form}')
        if not isinstance(encryption, dict):
            raise bad_request(21405, VALIDATION, 'encryption must be an object')
        session = self._new_session(auth, 'Online', form, encryption)
        return 201, {'referenceNumber': session.reference_number, 'validUntil': iso(session.valid_until)}

    def _own_session(self, auth, reference, kind=None):
        session = self.state.sessions.get(reference)
        if session is None or (session.context_type, session.context_value) != (auth.context_type, auth.context_value) \
                or (kind and session.kind != kind):
            raise bad_request(21173, 'Brak sesji o wskazanym numerze referencyjnym.', reference)
        return session

    def send_invoice(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceWrite', 'EnforcementOperations')
        session = self._own_session(auth, referenceNumber, 'Online')
        now = self.clock.now()
        if session.closed_at or now > session.valid_until:
            raise bad_request(21180, 'Status sesji nie pozwala na wykonanie operacji.', referenceNumber)
        data = read_json(request)
        require(data, 'invoiceHash', 'invoiceSize', 'encryptedInvoiceHash', 'encryptedInvoiceSize',
                'encryptedInvoiceContent')
        try:
            encrypted = crypto.unb64(data['encryptedInvoiceContent'])
        except ValueError:
            raise bad_request(21405, VALIDATION, 'encryptedInvoiceContent is not base64') from None
        if data['encryptedInvoiceSize'] != len(encrypted):
            raise bad_request(21402, 'Nieprawidłowy rozmiar pliku.', 'encryptedInvoiceSize')
        if data['encryptedInvoiceHash'] != crypto.sha256_b64(encrypted):
            raise bad_request(21403, 'Nieprawidłowy skrót pliku.', 'encryptedInvoiceHash')
        try:
            plain = crypto.aes_decrypt(session.key, session.iv, encrypted)
        except ValueError:
            raise bad_request(21405, VALIDATION, 'Nie można odszyfrować faktury.') from None
        if data['invoiceSize'] != len(plain):
            raise bad_request(21402, 'Nieprawidłowy rozmiar pliku.', 'invoiceSize')
        if data['invoiceHash'] != crypto.sha256_b64(plain):
            raise bad_request(21403, 'Nieprawidłowy skrót pliku.', 'invoiceHash')
        if data.get('hashOfCorrectedInvoice'):
            self._check_technical_correction(data)
        limits = self.session_limits(f'{session.context_type}:{session.context_value}', 'onlineSession')
        if len(session.invoices) >= limits['maxInvoices']:
            raise bad_request(21155, 'Przekroczono dopuszczalną liczbę faktur w sesji.', str(limits['maxInvoices']))
        invoice = self._accept(session, plain, data['invoiceHash'], bool(data.get('offlineMode')), now,
                               data.get('hashOfCorrectedInvoice'), limits=limits)
        session.updated = now
        return 202, {'referenceNumber': invoice.reference_number}

    def _check_technical_correction(self, data):
        """A technical correction replaces an offline invoice KSeF rejected for technical reasons, once."""
        if not data.get('offlineMode'):
            raise bad_request(21405, VALIDATION, 'Korekta techniczna wymaga offlineMode = true.')
        now = self.clock.now()
        originals = [i for x in self.state.sessions.values() for i in x.invoices
                     if i.invoice_hash == data['hashOfCorrectedInvoice'] and i.is_final(now)]
        rejected = [i for i in originals if i.offline_mode and i.final_status[0] in (440, 450)]
        if not rejected:
            raise bad_request(21167, 'Status faktury nie pozwala na korektę techniczną.',
                              data['hashOfCorrectedInvoice'])
        corrections = [i for x in self.state.sessions.values() for i in x.invoices
                       if i.hash_of_corrected == data['hashOfCorrectedInvoice']
                       and (not i.is_final(now) or i.final_status[0] == 200)]
        if corrections:
            raise bad_request(21166, 'Korekta techniczna została już przesłana.', data['hashOfCorrectedInvoice'])

    def _accept(self, session, xml, invoice_hash, offline_mode, now, hash_of_corrected=None, file_name=None,
                ready_at=None, limits=None):
        invoice = Invoice(ordinal=len(session.invoices) + 1, reference_number=reference_number(now, 'EE'),
                          session_reference=session.reference_number, invoice_hash=invoice_hash, received=now,
                          ready_at=ready_at or now + datetime.timedelta(seconds=self.options.invoice_delay),
                          final_status=None,
                          offline_mode=offline_mode, file_name=file_name, hash_of_corrected=hash_of_corrected,
                          context_type=session.context_type, context_value=session.context_value)
        invoice.final_status = self._verify(invoice, xml, session, limits or self.DEFAULT_SESSION_LIMITS)
        session.invoices.append(invoice)
        return invoice

    def _verify(self, invoice, xml, session, limits):
        """Decide the invoice's outcome at once (shown when polled after the processing delay)."""
        allowed = limits['maxInvoiceWithAttachmentSizeInMB'] if b'Zalacznik>' in xml else limits['maxInvoiceSizeInMB']
        if len(xml) > allowed * 1_000_000:
            return 450, INVOICE_STATUS[450], [f'Przekroczono dopuszczalny rozmiar faktury ({allowed} MB).'], None
        root, problems = safe.load(xml)
        if root is None:
            return 450, INVOICE_STATUS[450], [p.message for p in problems], None
        xsd = schema.xsd_problems(root, self.options.schema_dir)
        if xsd:
            return 450, INVOICE_STATUS[450], [f'{p.path}: {p.message}' for p in xsd[:20]], None
        ns = {'f': NAMESPACE}
        seller_nip = root.findtext('f:Podmiot1/f:DaneIdentyfikacyjne/f:NIP', namespaces=ns)
        number = root.findtext('f:Fa/f:P_2', namespaces=ns)
        kind = root.findtext('f:Fa/f:RodzajFaktury', namespaces=ns)
        issue_date = datetime.date.fromisoformat(root.findtext('f:Fa/f:P_1', namespaces=ns))
        invoice.seller_nip, invoice.invoice_number, invoice.invoice_type, invoice.issue_date = \
            seller_nip, number, kind, issue_date
        if self.options.validate_nip_checksums and identifiers.check_nip(seller_nip):
            return 450, INVOICE_STATUS[450], ['Nieprawidłowy NIP sprzedawcy.'], None
        if session.context_value.split('-')[0] != seller_nip and not self._may_invoice_for(session, seller_nip):
            return 410, INVOICE_STATUS[410], [f'Kontekst {session.context_value} nie może wystawiać faktur '
                                              f'sprzedawcy {seller_nip}.'], None
        if root.find('f:Zalacznik', ns) is not None:
            if session.kind == 'Online':
                return 415, INVOICE_STATUS[415], ['Faktury z załącznikiem przyjmowane są wyłącznie w sesji wsadowej.'], None
            if self.state.attachment_consent.get(seller_nip, 'none') is not None:
                return 415, INVOICE_STATUS[415], ['Podatnik nie zgłosił możliwości dołączania załączników (e-US).'], None
        original = self.state.duplicates.get((seller_nip, kind, number))
        if original is not None:
            return 440, INVOICE_STATUS[440], [f'Duplikat faktury. Faktura o numerze KSeF: {original.ksef_number} '
                                              'została już prawidłowo przesłana do systemu.'], {
                'originalSessionReferenceNumber': original.session_reference,
                'originalKsefNumber': original.ksef_number}
        invoice.xml = xml
        moment = invoice.received
        head = f'{seller_nip}-{moment:%Y%m%d}-{secrets.token_hex(6).upper()}'
        invoice.ksef_number = f'{head}-{identifiers.ksef_number_checksum(head)}'
        invoice.acquisition = invoice.ready_at
        invoice.permanent_storage = invoice.ready_at + datetime.timedelta(seconds=self.options.invoice_delay)
        # KSeF marks an invoice Offline itself when its issue date is before the day it was received
        invoice.invoicing_mode = 'Offline' if invoice.offline_mode or issue_date < moment.date() else 'Online'
        invoice.parties = _parties(root, ns)
        self.state.duplicates[(seller_nip, kind, number)] = invoice
        self.state.invoices_by_ksef_number[invoice.ksef_number] = invoice
        return 200, INVOICE_STATUS[200], [], None

    def _may_invoice_for(self, session, seller_nip):
        """Self-billing or tax representation: the seller authorised this context's entity to invoice for it."""
        issuer = session.context_value.split('-')[0]
        return any(r['kind'] == 'authorization' and r['scope'] in ('SelfInvoicing', 'TaxRepresentative')
                   and r['context']['value'].split('-')[0] == seller_nip and r['subject'].get('value') == issuer
                   for r in self.state.permission_records.values())

    def close_online_session(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        session = self._own_session(auth, referenceNumber, 'Online')
        if session.closed_at:
            raise bad_request(21180, 'Status sesji nie pozwala na wykonanie operacji.', referenceNumber)
        session.closed_at = session.updated = self.clock.now()
        return 204, None

    # --- batch sessions -----------------------------------------------------------------------------

    def open_batch_session(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceWrite', 'EnforcementOperations')
        data = read_json(request)
        require(data, 'formCode', 'batchFile', 'encryption')
        form, batch, encryption = data['formCode'], data['batchFile'], data['encryption']
        if not isinstance(form, dict) or {k: form.get(k) for k in FORM_CODE} != FORM_CODE:
            raise bad_request(21405, VALIDATION, f'Nieobsługiwany kod formularza: {form}')
        if not isinstance(batch, dict) or not isinstance(encryption, dict):
            raise bad_request(21405, VALIDATION, 'batchFile and encryption must be objects')
        require(batch, 'fileSize', 'fileHash', 'fileParts')
        parts = batch['fileParts']
        if not isinstance(parts, list) or not 1 <= len(parts) <= 50:
            raise bad_request(21161, 'Przekroczono dozwoloną liczbę części pakietu.', 'Od 1 do 50 części.')
        if sorted(p.get('ordinalNumber') for p in parts) != list(range(1, len(parts) + 1)):
            raise bad_request(21405, VALIDATION, 'fileParts: ordinal numbers must be 1..n')
        if any(not isinstance(p.get('fileSize'), int) or not 0 < p['fileSize'] <= 100_000_016 for p in parts):
            raise bad_request(21157, 'Nieprawidłowy rozmiar części pakietu.', 'Część może mieć najwyżej 100 MB.')
        if batch.get('compressionType', 'Zip') not in ('Zip', 'TarGz'):
            raise bad_request(21405, VALIDATION, 'compressionType must be Zip or TarGz')
        session = self._new_session(auth, 'Batch', form, encryption)
        now = session.created
        window = datetime.timedelta(minutes=20 * len(parts))
        if self.options.expired_uploads > 0:
            self.options.expired_uploads -= 1
            window = -datetime.timedelta(seconds=1)
        session.batch = {'file': dict(batch), 'parts': {p['ordinalNumber']: dict(p) for p in parts},
                         'uploaded': {}, 'offline': bool(data.get('offlineMode')),
                         'upload_deadline': now + window, 'outcome': None}
        uploads = [{'ordinalNumber': n, 'method': 'PUT',
                    'url': f'{self.base_url}/_emulator/upload/{session.reference_number}/{n}?sig={secrets.token_hex(8)}',
                    'headers': {'x-ms-blob-type': 'BlockBlob'}} for n in sorted(session.batch['parts'])]
        return 201, {'referenceNumber': session.reference_number, 'partUploadRequests': uploads}

    def _new_session(self, auth, kind, form, encryption):
        """An open online ('SO') or batch ('SB') session of the authenticated context, registered in the state."""
        require(encryption, 'encryptedSymmetricKey', 'initializationVector')
        aes_key, iv = self._session_key(encryption)
        now = self.clock.now()
        session = Session(reference_number(now, 'SO' if kind == 'Online' else 'SB'), kind, auth.context_type,
                          auth.context_value, auth.reference_number, dict(form), aes_key, iv, now,
                          now + SESSION_LIFE, now)
        self.state.sessions[session.reference_number] = session
        return session

    def _session_key(self, encryption):
        key = self._key_for('SymmetricKeyEncryption', encryption.get('publicKeyId'))
        try:
            aes_key = crypto.rsa_oaep_decrypt(key.private_key, crypto.unb64(encryption['encryptedSymmetricKey']))
            iv = crypto.unb64(encryption['initializationVector'])
        except ValueError:
            raise bad_request(21405, VALIDATION, 'Nie można odszyfrować klucza symetrycznego.') from None
        if len(aes_key) != 32 or len(iv) != 16:
            raise bad_request(21405, VALIDATION, 'Klucz AES musi mieć 256 bitów, a wektor IV 16 bajtów.')
        return aes_key, iv

    def upload_part(self, request, sessionReference, ordinal):
        """The pre-signed upload URL: no bearer token, the session's time window."""
        session = self.state.sessions.get(sessionReference)
        if session is None or session.kind != 'Batch' or request.headers.get('x-ms-blob-type') != 'BlockBlob':
            raise ApiError(400, description='Invalid upload request.')
        if request.headers.get('Authorization'):
            raise ApiError(400, description='Upload requests must not carry an Authorization header.')
        if session.closed_at or self.clock.now() > session.batch['upload_deadline']:
            raise ApiError(403, description='The upload window of this session is over.', reason_code='upload-expired')
        number = _ordinal(ordinal)
        if number not in session.batch['parts']:
            raise ApiError(400, description=f'No part {ordinal} in this session.')
        session.batch['uploaded'][number] = request.get_data()
        session.updated = self.clock.now()
        return 201, None

    def close_batch_session(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        session = self._own_session(auth, referenceNumber, 'Batch')
        if session.closed_at:
            raise bad_request(21180, 'Status sesji nie pozwala na wykonanie operacji.', referenceNumber)
        now = self.clock.now()
        batch = session.batch
        if now > batch['upload_deadline']:
            session.closed_at = now
            batch['outcome'] = (440, 'Sesja anulowana', ['Przekroczono czas wysyłki.'])
            raise bad_request(21208, 'Czas oczekiwania na requesty upload lub finish został przekroczony.',
                              'Sesja anulowana, przekroczony czas wysyłki.')
        for number, part in batch['parts'].items():
            if number not in batch['uploaded']:
                raise bad_request(21205, 'Pakiet nie może być pusty.', f"Nie przesłano zadeklarowanej '{number}' części pliku.")
            uploaded = batch['uploaded'][number]
            if len(uploaded) != part['fileSize'] or crypto.sha256_b64(uploaded) != part['fileHash']:
                raise bad_request(21157, 'Nieprawidłowy rozmiar części pakietu.',
                                  f"Zadeklarowany rozmiar części '{number}' nie zgadza się z rzeczywistym.")
        session.closed_at = session.updated = now
        batch['outcome'] = self._process_batch(session, now)
        return 204, None

    def _process_batch(self, session, now):
        from .. import archive
        batch = session.batch
        try:
            plain = b''.join(crypto.aes_decrypt(session.key, session.iv, batch['uploaded'][n])
                             for n in sorted(batch['uploaded']))
        except ValueError:
            return 435, 'Błąd odszyfrowania części pakietu', []
        if len(plain) != batch['file']['fileSize'] or crypto.sha256_b64(plain) != batch['file']['fileHash']:
            return 405, 'Błąd weryfikacji elementów pakietu', ['Rozmiar lub skrót pakietu nie zgadza się z deklaracją.']
        try:
            files = archive.read_invoices(plain, batch['file'].get('compressionType', 'Zip'))
        except ValueError as exc:
            return 430, 'Błąd dekompresji pakietu', [str(exc)]
        if len(files) > 10_000:
            return 420, 'Przekroczony limit faktur w sesji', []
        limits = self.session_limits(f'{session.context_type}:{session.context_value}', 'batchSession')
        if len(files) > limits['maxInvoices']:
            return 420, 'Przekroczony limit faktur w sesji', []
        # batch invoices count as received when the session was opened (matters for offline marking)
        for name, xml in files:
            self._accept(session, xml, crypto.sha256_b64(xml), batch['offline'], session.created, file_name=name,
                         ready_at=now + datetime.timedelta(seconds=self.options.invoice_delay), limits=limits)
        return None

    # --- statuses and UPO --------------------------------------------------------------------------

    def _invoice_status(self, invoice):
        now = self.clock.now()
        body = {'ordinalNumber': invoice.ordinal, 'referenceNumber': invoice.reference_number,
                'invoiceHash': invoice.invoice_hash, 'invoicingDate': iso(invoice.received)}
        if invoice.invoice_number:
            body['invoiceNumber'] = invoice.invoice_number
        if invoice.file_name:
            body['invoiceFileName'] = invoice.file_name
        if not invoice.is_final(now):
            code = 100 if now < invoice.received + (invoice.ready_at - invoice.received) / 2 else 150
            body['status'] = {'code': code, 'description': INVOICE_STATUS[code]}
            return body
        code, description, details, extensions = invoice.final_status
        body['status'] = {'code': code, 'description': description}
        if details:
            body['status']['details'] = details
        if extensions:
            body['status']['extensions'] = extensions
        if code == 200:
            body.update({'ksefNumber': invoice.ksef_number, 'acquisitionDate': iso(invoice.acquisition),
                         'invoicingMode': invoice.invoicing_mode,
                         'upoDownloadUrl': f'{self.base_url}/_emulator/upo/{invoice.reference_number}',
                         'upoDownloadUrlExpirationDate': iso(now + datetime.timedelta(days=3))})
            if now >= invoice.permanent_storage:
                body['permanentStorageDate'] = iso(invoice.permanent_storage)
        return body

    def _session_for_reading(self, request, reference):
        _context, auth = self.context_of_request(request)
        return self._own_session(auth, reference)

    def invoice_status(self, request, referenceNumber, invoiceReferenceNumber):
        session = self._session_for_reading(request, referenceNumber)
        for invoice in session.invoices:
            if invoice.reference_number == invoiceReferenceNumber:
                return 200, self._invoice_status(invoice)
        raise bad_request(21405, VALIDATION, f'Brak faktury {invoiceReferenceNumber} w sesji.')

    def session_invoices(self, request, referenceNumber, failed_only=False):
        session = self._session_for_reading(request, referenceNumber)
        try:
            page_size = int(request.args.get('pageSize', 10))
        except ValueError:
            raise bad_request(21405, VALIDATION, 'pageSize must be an integer') from None
        if not 10 <= page_size <= 1000:
            raise bad_request(21405, VALIDATION, 'pageSize must be between 10 and 1000')
        statuses = [self._invoice_status(invoice) for invoice in session.invoices]
        if failed_only:
            statuses = [s for s in statuses if s['status']['code'] >= 400]
        start = _continuation_offset(request.headers.get('x-continuation-token'))
        page = statuses[start:start + page_size]
        body = {'invoices': page}
        if start + page_size < len(statuses):
            body['continuationToken'] = crypto.b64(f'offset:{start + page_size}'.encode())
        return 200, body

    def session_failed_invoices(self, request, referenceNumber):
        return self.session_invoices(request, referenceNumber, failed_only=True)

    def session_status(self, request, referenceNumber):
        return self.session_status_body(self._session_for_reading(request, referenceNumber))

    def session_status_body(self, session):
        now = self.clock.now()
        statuses = [self._invoice_status(invoice)['status']['code'] for invoice in session.invoices]
        body = {'dateCreated': iso(session.created), 'dateUpdated': iso(session.updated),
                'invoiceCount': len(statuses), 'successfulInvoiceCount': statuses.count(200),
                'failedInvoiceCount': len([c for c in statuses if c >= 400])}
        if session.kind == 'Batch' and not session.closed_at and now > session.created + BATCH_ABANDONED_AFTER:
            # KSeF cancels a batch session never closed after 12 hours
            session.closed_at = now
            session.batch['outcome'] = (440, 'Sesja anulowana', ['Przekroczono czas wysyłki.'])
        outcome = getattr(session, 'batch', None) and session.batch['outcome']
        if session.kind == 'Batch' and not session.closed_at:
            body['status'] = {'code': 100, 'description': 'Sesja wsadowa rozpoczęta'}
            body['validUntil'] = iso(session.valid_until)
        elif outcome:
            code, description, details = outcome
            body['status'] = {'code': code, 'description': description, 'details': details}
        elif not session.closed_at:
            body['status'] = {'code': 100, 'description': 'Sesja interaktywna otwarta'}
            body['validUntil'] = iso(session.valid_until)
        elif not session.invoices:
            body['status'] = {'code': 440, 'description': 'Sesja anulowana', 'details': ['Nie przesłano faktur.']}
        elif any(code < 200 for code in statuses):
            body['status'] = {'code': 150, 'description': 'Trwa przetwarzanie'} if session.kind == 'Batch' else \
                {'code': 170, 'description': 'Sesja interaktywna zamknięta'}
        elif 200 not in statuses:
            body['status'] = {'code': 445, 'description': 'Błąd weryfikacji, brak poprawnych faktur'}
        else:
            body['status'] = {'code': 200, 'description': 'Sesja przetworzona pomyślnie'}
            if session.upo_reference is None:
                session.upo_reference = reference_number(now, 'UP')
            body['upo'] = {'pages': [{'referenceNumber': session.upo_reference,
                                      'downloadUrl': f'{self.base_url}/_emulator/session-upo/{session.reference_number}',
                                      'downloadUrlExpirationDate': iso(now + datetime.timedelta(days=3))}]}
        return 200, body

    def list_sessions(self, request):
        _context, auth = self.context_of_request(request)
        kind = request.args.get('sessionType')
        if kind not in ('Online', 'Batch'):
            raise bad_request(21405, VALIDATION, 'sessionType (Online or Batch) is required')
        mine = [x for x in self.state.sessions.values() if x.kind == kind
                and (x.context_type, x.context_value) == (auth.context_type, auth.context_value)
                and ('Introspection' in auth.permissions or x.authentication_reference == auth.reference_number
                     or 'InvoiceWrite' in auth.permissions)]
        reference = request.args.get('referenceNumber')
        items = []
        for session in sorted(mine, key=lambda x: x.created, reverse=True):
            if reference and session.reference_number != reference:
                continue
            _status, status = self.session_status_body(session)
            item = {'referenceNumber': session.reference_number, 'status': status['status'],
                    'dateCreated': status['dateCreated'], 'dateUpdated': status['dateUpdated'],
                    'totalInvoiceCount': status['invoiceCount'],
                    'successfulInvoiceCount': status['successfulInvoiceCount'],
                    'failedInvoiceCount': status['failedInvoiceCount']}
            if 'validUntil' in status:
                item['validUntil'] = status['validUntil']
            items.append(item)
        return 200, self._page(request, items, 'sessions', 10, 1000)

    def _accepted(self, session):
        now = self.clock.now()
        return [i for i in session.invoices if i.is_final(now) and i.final_status[0] == 200]

    def upo_of_invoice(self, request, referenceNumber, invoiceReferenceNumber):
        return self._upo_of(request, referenceNumber, lambda i: i.reference_number == invoiceReferenceNumber)

    def upo_of_ksef_number(self, request, referenceNumber, ksefNumber):
        return self._upo_of(request, referenceNumber, lambda i: i.ksef_number == ksefNumber)

    def _upo_of(self, request, reference, is_wanted):
        session = self._session_for_reading(request, reference)
        for invoice in self._accepted(session):
            if is_wanted(invoice):
                return self._upo_response(session, [invoice])
        raise bad_request(21178, 'Nie znaleziono UPO dla podanych kryteriów.')

    def session_upo(self, request, referenceNumber, upoReferenceNumber):
        session = self._session_for_reading(request, referenceNumber)
        if session.upo_reference != upoReferenceNumber:
            raise bad_request(21178, 'Nie znaleziono UPO dla podanych kryteriów.')
        return self._upo_response(session, self._accepted(session))

    def _upo_response(self, session, invoices):
        auth = self.state.authentications.get(session.authentication_reference)
        xml = upo.build(session, invoices, auth)
        return 200, ('xml', xml, {'x-ms-meta-hash': crypto.sha256_b64(xml)})

    def upo_by_url(self, invoice_reference=None, session_reference=None):
        """The pre-signed download URLs (no token, no limit)."""
        for session in self.state.sessions.values():
            if session_reference and session.reference_number == session_reference:
                return self._upo_response(session, self._accepted(session))
            for invoice in self._accepted(session):
                if invoice.reference_number == invoice_reference:
                    return self._upo_response(session, [invoice])
        raise ApiError(404, description='UPO not found')

    # --- reading invoices ----------------------------------------------------------------------------

    def download_invoice(self, request, ksefNumber):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceRead')
        invoice = self.state.invoices_by_ksef_number.get(ksefNumber)
        if invoice is None or not self._may_read(auth, invoice):
            raise bad_request(21164, 'Faktura o podanym identyfikatorze nie istnieje.', ksefNumber)
        if self.clock.now() < invoice.permanent_storage:
            raise bad_request(21165, 'Faktura o podanym numerze KSeF nie jest jeszcze dostępna.', ksefNumber)
        return 200, ('xml', invoice.xml, {'x-ms-meta-hash': invoice.invoice_hash})

    def _may_read(self, auth, invoice):
        value = auth.context_value
        return (invoice.seller_nip == value.split('-')[0] or value in invoice.parties.get('Subject2', [])
                or value in invoice.parties.get('Subject3', []))

    @staticmethod
    def offset_page(request, items, largest):
        """(page, more pages) for the pageSize (10..largest) and pageOffset query parameters."""
        try:
            page_size = int(request.args.get('pageSize', 10))
            offset = int(request.args.get('pageOffset', 0))
        except ValueError:
            raise bad_request(21405, VALIDATION, 'pageSize and pageOffset must be integers') from None
        if not 10 <= page_size <= largest or offset < 0:
            raise bad_request(21405, VALIDATION, f'pageSize must be 10..{largest} and pageOffset at least 0')
        return items[offset * page_size:(offset + 1) * page_size], (offset + 1) * page_size < len(items)

    def _stored_invoices(self):
        return list(self.state.invoices_by_ksef_number.values())

    def query_metadata(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceRead')
        filters = read_json(request)
        now = self.clock.now()
        selected, truncated, mark = query.select(self._stored_invoices(), filters, auth.context_value, now)
        if request.args.get('sortOrder', 'Asc') == 'Desc':
            selected.reverse()
        page, more_pages = self.offset_page(request, selected, largest=250)
        body = {'hasMore': more_pages or truncated, 'isTruncated': truncated and not more_pages,
                'invoices': [invoice.metadata for invoice in page]}
        if mark is not None:
            body['permanentStorageHwmDate'] = iso(mark)
        return 200, body

    def create_export(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'InvoiceRead')
        data = read_json(request)
        require(data, 'encryption', 'filters')
        if not isinstance(data['encryption'], dict):
            raise bad_request(21405, VALIDATION, 'encryption must be an object')
        require(data['encryption'], 'encryptedSymmetricKey', 'initializationVector')
        aes_key, iv = self._session_key(data['encryption'])
        now = self.clock.now()
        query.select(self._stored_invoices(), data['filters'], auth.context_value, now)   # validates the filters now
        running = [e for e in self.state.exports.values()
                   if e['context'] == auth.context_value and e['package'] is None]
        if len(running) >= 10:
            raise bad_request(21182, 'Osiągnięto limit trwających eksportów.', 'Najwyżej 10 eksportów naraz.')
        ref = reference_number(now, 'EX')
        self.state.exports[ref] = {'context': auth.context_value, 'filters': data['filters'], 'key': aes_key, 'iv': iv,
                                   'only_metadata': bool(data.get('onlyMetadata')), 'created': now,
                                   'compression': data.get('compressionType') or 'Zip',
                                   'ready_at': now + datetime.timedelta(seconds=self.options.invoice_delay),
                                   'package': None, 'parts': []}
        return 201, {'referenceNumber': ref}

    def export_status(self, request, referenceNumber):
        _context, auth = self.context_of_request(request)
        export = self.state.exports.get(referenceNumber)
        if export is None or export['context'] != auth.context_value:
            raise bad_request(21175, 'Nie znaleziono eksportu.', referenceNumber)
        now = self.clock.now()
        if now < export['ready_at']:
            return 200, {'status': {'code': 100, 'description': 'Eksport w toku'}}
        if export['package'] is None:
            self._build_export(export, referenceNumber, now)
        return 200, {'status': {'code': 200, 'description': 'Eksport zakończony sukcesem'},
                     'completedDate': iso(export['ready_at']),
                     'packageExpirationDate': iso(export['ready_at'] + datetime.timedelta(days=7)),
                     'package': export['package']}

    def _build_export(self, export, reference, now):
        from ..archive import write_archive
        selected, truncated, mark = query.select(self._stored_invoices(), export['filters'], export['context'],
                                                 export['ready_at'], cap=self.options.export_cap)
        files = [] if export['only_metadata'] else [(f'{i.ksef_number}.xml', i.xml) for i in selected]
        files.append(('_metadata.json', json.dumps({'invoices': [i.metadata for i in selected]},
                                                   ensure_ascii=False).encode()))
        if self.options.export_tamper:
            files = self.options.export_tamper(files)
        archive = write_archive(files, export['compression'])
        size = self.options.export_part_size
        chunks = [archive[i:i + size] for i in range(0, len(archive), size)] or [b'']
        parts = []
        for number, chunk in enumerate(chunks, 1):
            encrypted = crypto.aes_encrypt(export['key'], export['iv'], chunk)
            export['parts'].append(encrypted)
            parts.append({'ordinalNumber': number, 'partName': f'{reference}-{number:03d}.zip.aes', 'method': 'GET',
                          'url': f'{self.base_url}/_emulator/export/{reference}/{number}', 'partSize': len(chunk),
                          'partHash': crypto.sha256_b64(chunk), 'encryptedPartSize': len(encrypted),
                          'encryptedPartHash': crypto.sha256_b64(encrypted),
                          'expirationDate': iso(now + datetime.timedelta(days=7))})
        package = {'invoiceCount': len(selected), 'size': len(archive), 'parts': parts, 'isTruncated': truncated}
        if selected:
            last = selected[-1]
            package.update({'lastIssueDate': last.issue_date.isoformat(), 'lastInvoicingDate': iso(last.received),
                            'lastPermanentStorageDate': iso(last.permanent_storage)})
        if mark is not None:
            package['permanentStorageHwmDate'] = iso(mark)
        export['package'] = package

    def export_part(self, request, reference, ordinal):
        export = self.state.exports.get(reference)
        number = _ordinal(ordinal)
        if export is None or number is None or not 1 <= number <= len(export['parts']):
            raise ApiError(404, description='No such export part.')
        return 200, ('bytes', export['parts'][number - 1], {})

    # --- limits --------------------------------------------------------------------------------------

    DEFAULT_SESSION_LIMITS = {'maxInvoiceSizeInMB': 1, 'maxInvoiceWithAttachmentSizeInMB': 3, 'maxInvoices': 10000}

    def session_limits(self, context, kind):
        overrides = self.state.session_limit_overrides.get(context, {})
        return dict(overrides.get(kind) or self.DEFAULT_SESSION_LIMITS)

    def context_limits(self, request):
        context, _auth = self.context_of_request(request)
        return 200, {'onlineSession': self.session_limits(context, 'onlineSession'),
                     'batchSession': self.session_limits(context, 'batchSession')}

    def testdata_set_session_limits(self, request):
        context, _auth = self.context_of_request(request)
        data = read_json(request)
        require(data, 'onlineSession', 'batchSession')
        try:
            self.state.session_limit_overrides[context] = {
                kind: {key: int(data[kind][key]) for key in self.DEFAULT_SESSION_LIMITS}
                for kind in ('onlineSession', 'batchSession')}
        except (KeyError, TypeError, ValueError):
            raise bad_request(21405, VALIDATION, f'each session kind needs {sorted(self.DEFAULT_SESSION_LIMITS)}') from None
        return 200, None

    def testdata_reset_session_limits(self, request):
        context, _auth = self.context_of_request(request)
        self.state.session_limit_overrides.pop(context, None)
        return 200, None

    def testdata_set_certificate_limits(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request)
        key = (auth.subject.get('type'), auth.subject.get('value'))
        self.state.certificate_limit_overrides[key] = (
            (data.get('enrollment') or {}).get('maxEnrollments'), (data.get('certificate') or {}).get('maxCertificates'))
        return 200, None

    def testdata_reset_certificate_limits(self, request):
        _context, auth = self.context_of_request(request)
        self.state.certificate_limit_overrides.pop((auth.subject.get('type'), auth.subject.get('value')), None)
        return 200, None

    def peppol_providers(self, request):
        providers = sorted(self.state.peppol_providers, key=lambda p: p['id'])
        page, more = self.offset_page(request, providers, largest=100)
        return 200, {'peppolProviders': page, 'hasMore': more}

    def subject_limits(self, request):
        self.context_of_request(request)
        return 200, {'enrollment': {'maxEnrollments': 300}, 'certificate': {'maxCertificates': 100}}

    def effective_limits(self, context):
        """The rate-limit groups in force for a context ('Type:value'), after /testdata/rate-limits."""
        from ..limits import GROUPS
        return {**GROUPS, **self.state.rate_limit_overrides.get(context, {})}

    def rate_limits(self, request):
        context, _auth = self.context_of_request(request)
        return 200, {name: limit.as_dict() for name, limit in self.effective_limits(context).items()}

    def testdata_set_rate_limits(self, request):
        from ..limits import GROUPS, Limit
        context, _auth = self.context_of_request(request)
        data = read_json(request)
        limits = data.get('rateLimits')
        if not isinstance(limits, dict) or set(limits) != set(GROUPS):
            raise bad_request(21405, VALIDATION, f'rateLimits must give every group: {sorted(GROUPS)}')
        try:
            self.state.rate_limit_overrides[context] = {
                name: Limit(int(v['perSecond']), int(v['perMinute']), int(v['perHour'])) for name, v in limits.items()}
        except (KeyError, TypeError, ValueError):
            raise bad_request(21405, VALIDATION, 'each group needs perSecond, perMinute and perHour') from None
        return 200, None

    def testdata_reset_rate_limits(self, request):
        context, _auth = self.context_of_request(request)
        self.state.rate_limit_overrides.pop(context, None)
        return 200, None

    def testdata_block_context(self, request, blocked=True):
        data = read_json(request)
        context = data.get('contextIdentifier') or {}
        require(context, 'type', 'value')
        key = (context['type'], context['value'])
        if blocked:
            self.state.blocked_contexts.add(key)
        else:
            self.state.blocked_contexts.discard(key)
        return 200, None

    def testdata_unblock_context(self, request):
        return self.testdata_block_context(request, blocked=False)

    # --- emulator administration (not part of KSeF) -----------------------------------------------------

    def admin_create_token(self, request):
        """Mint an active KSeF token for a context (the real KSeF needs a XAdES login first)."""
        data = read_json(request)
        require(data, 'contextIdentifier', 'permissions')
        context = data['contextIdentifier']
        secret = self.admin_token(context['value'], data['permissions'], context['type'],
                                  data.get('description', 'emulator token'))
        return 201, {'referenceNumber': self.state.tokens[secret].reference_number, 'token': secret}

    def admin_token(self, value, permissions, context_type='Nip', description='emulator token'):
        now = self.clock.now()
        ref = reference_number(now, 'TK')
        secret = f'{ref}|{context_type.lower()}-{value}|{secrets.token_hex(32)}'
        self.state.tokens[secret] = KsefToken(ref, secret, context_type, value, list(permissions), description,
                                              {'type': 'Nip', 'value': value}, now)
        return secret

    def admin_clock(self, request):
        data = read_json(request)
        if 'advanceSeconds' in data:
            self.clock.advance(float(data['advanceSeconds']))
        if 'speed' in data:
            self.clock.speed = float(data['speed'])
        return 200, {'now': iso(self.clock.now()), 'speed': self.clock.speed}

    def end_access_tokens(self):
        """Every access token issued so far stops working before its time, as KSeF does when permissions change
        (a security event); refresh tokens stay valid: clients refresh, or log in again."""
        self.state.access_ended_upto = self.state.access_issued

    def admin_end_access(self, request):
        self.end_access_tokens()
        return 200, {'endedUpTo': self.state.access_ended_upto}

    def admin_rotate_keys(self, request):
        data = read_json(request)
        self.rotate_keys(keep_old=bool(data.get('keepOld')))
        return 200, {'publicKeyIds': [k.public_key_id for k in self.state.keys if not k.withdrawn]}


def _parties(root, ns):
    """Who may read the invoice besides the seller: Subject2 (buyer NIP), Subject3 (NIP or IDWew)."""
    buyer = root.findtext('f:Podmiot2/f:DaneIdentyfikacyjne/f:NIP', namespaces=ns)
    third = [value for path in ('f:Podmiot3/f:DaneIdentyfikacyjne/f:NIP', 'f:Podmiot3/f:DaneIdentyfikacyjne/f:IDWew')
             for value in root.xpath(path + '/text()', namespaces=ns)]
    authorized = root.findtext('f:PodmiotUpowazniony/f:DaneIdentyfikacyjne/f:NIP', namespaces=ns)
    return {'Subject2': [buyer] if buyer else [], 'Subject3': third,
            'SubjectAuthorized': [authorized] if authorized else []}


def etree_namespace(element):
    from lxml import etree
    return etree.QName(element).namespace


def etree_local(element):
    from lxml import etree
    return etree.QName(element).localname


def _certificate_subject(certificate, subject_type):
    """(subject, authentication method) from a signing certificate, as KSeF reads it."""
    from .. import xades
    if subject_type == 'certificateFingerprint':
        return {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(certificate)}, 'QualifiedSignature'
    return xades.certificate_identity(certificate)


def _continuation_offset(token):
    if not token:
        return 0
    try:
        kind, value = crypto.unb64(token).decode().split(':')
        if kind != 'offset':
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(21418, 'Przekazany token kontynuacji ma nieprawidłowy format.') from None


def _ordinal(value):
    """A part's ordinal number from a URL (ASCII digits only: int() would also read other scripts' digits)."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() else None
