"""KsefClient: the KSeF 2.0 API for taxpayers' software, in plain Python (no Odoo).

Every call returns data or raises one typed error (ksef.errors). Calls that are safe to repeat are retried on
timeouts, 5xx and 429 (waiting exactly Retry-After); calls that change something are never repeated blindly:
an unknown outcome is raised as UnknownOutcomeError for the caller to reconcile. Secrets (tokens) never appear
in reprs, logs or error messages.
"""
import contextlib
import dataclasses
import datetime
import email.utils
import functools
import io
import json
import logging
import re
import time
import urllib.parse
import zipfile
import zlib

import requests
from cryptography.hazmat.primitives import hashes

from . import crypto, limits, xades
from .errors import (
    AuthenticationError, KsefApiError, KsefError, MalformedAnswerError, PermissionDeniedError, RateLimitError,
    UnavailableError, UnknownOutcomeError,
)
from .fa3.model import FORM_CODE

_logger = logging.getLogger(__name__)
BUDGET_MARGIN = 0.05   # seconds added to local budget waits


@dataclasses.dataclass(frozen=True)
class Environment:
    name: str
    api_url: str
    qr_url: str
    latarnia_url: str


ENVIRONMENTS = {
    'TEST': Environment('TEST', 'https://api-test.ksef.mf.gov.pl/v2', 'https://qr-test.ksef.mf.gov.pl',
                        'https://api-latarnia-test.ksef.mf.gov.pl'),
    'DEMO': Environment('DEMO', 'https://api-demo.ksef.mf.gov.pl/v2', 'https://qr-demo.ksef.mf.gov.pl',
                        'https://api-latarnia-test.ksef.mf.gov.pl'),
    'PRD': Environment('PRD', 'https://api.ksef.mf.gov.pl/v2', 'https://qr.ksef.mf.gov.pl',
                       'https://api-latarnia.ksef.mf.gov.pl'),
}


def custom_environment(api_url, qr_url='https://qr-test.ksef.mf.gov.pl'):
    """Another KSeF-compatible server, e.g. the local emulator at http://127.0.0.1:8765/v2."""
    api_url = api_url.rstrip('/')
    parsed = urllib.parse.urlsplit(api_url)
    if parsed.scheme not in ('http', 'https') or not parsed.hostname or not api_url.isprintable() or ' ' in api_url:
        raise ValueError(f'not an http(s) address of a server: {api_url[:80]!r}')
    root = api_url[:-3] if api_url.endswith('/v2') else api_url
    return Environment('CUSTOM', api_url, qr_url, f'{root}/latarnia')


class Secret:
    """A token or key text: usable with .reveal(), invisible in repr/str/logs."""
    __slots__ = ('_value',)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self):
        return '<secret>'

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self):
        return hash(self._value)


@dataclasses.dataclass
class Token:
    value: Secret
    valid_until: datetime.datetime

    @classmethod
    def from_json(cls, data):
        return cls(Secret(_token_text(data['token'])), _parse_time(data['validUntil']))


@dataclasses.dataclass
class AuthTokens:
    """The result of a login: the access token (short) and refresh token (days), for one context."""
    reference_number: str
    access: Token
    refresh: Token
    context: tuple


@dataclasses.dataclass
class OnlineSession:
    reference_number: str
    valid_until: datetime.datetime
    key: bytes = dataclasses.field(repr=False)
    iv: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass
class SentInvoice:
    reference_number: str
    invoice_hash: str


def _parse_time(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def retry_after_seconds(value, now=None):
    """Retry-After: delta-seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        moment = email.utils.parsedate_to_datetime(value)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return max(0.0, (moment - now).total_seconds())


# what reading an answer of an unexpected shape raises: a field missing, of the wrong type, no JSON at all
_ANSWER_ERRORS = (KeyError, TypeError, IndexError, AttributeError, ValueError)
_HEADER_VALUE = re.compile(r'(Bearer|Authorization|SessionToken)\b.*', re.IGNORECASE | re.DOTALL)
# the connection failed or broke while the answer was read: KSeF may or may not have done the request
_TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                     requests.exceptions.ContentDecodingError)


def _answer_checked(method):
    """A public call whose answer cannot be read raises MalformedAnswerError, a KsefError like every other
    failure, never a KeyError deep in the caller. Errors of the caller's own input or callbacks (marked by
    ``_callers_own``) and the client's own typed errors pass through as they are."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except KsefError:
            raise
        except _ANSWER_ERRORS as error:
            if getattr(error, 'ksef_callers_own', False):
                raise
            # the error's text names a field or a value's shape, never the answer itself (it may hold tokens);
            # a header value a library refused is cut off at its name (it may be the access token)
            reason = _HEADER_VALUE.sub(r'\1 …', str(error))[:120]
            raise MalformedAnswerError(f"KSeF's answer to {method.__name__} could not be read "
                                       f"({type(error).__name__}: {reason})") from None
    return checked


@contextlib.contextmanager
def _callers_own():
    """Marks what fails in here as the caller's own problem (its files, its callback, its key), not KSeF's."""
    try:
        yield
    except Exception as error:
        error.ksef_callers_own = True
        raise


def _answers_checked(cls):
    for name, member in list(vars(cls).items()):
        if not name.startswith('_') and name != 'call' and callable(member) and not isinstance(member, type):
            setattr(cls, name, _answer_checked(member))
    return cls


@_answers_checked
class KsefClient:
    """One client per context (NIP, internal ID ...). Thread-unsafe by design: one per worker."""

    def __init__(self, environment, timeout=(5, 60), sleep=time.sleep, max_wait=120.0, retries=3,
                 session=None, verify=True, poll_interval=0.5, poll_timeout=120.0, monotonic=time.monotonic,
                 use_budget=True):
        self.environment = environment if isinstance(environment, Environment) else ENVIRONMENTS[environment]
        self.timeout, self.sleep, self.max_wait, self.retries = timeout, sleep, max_wait, retries
        self.poll_interval, self.poll_timeout = poll_interval, poll_timeout
        self.monotonic = monotonic   # the time of the local budget and the polls (tests pass a fake one with sleep)
        self.http = session or requests.Session()
        # TLS verification stays on for the real hosts whatever the caller asks
        self.http.verify = True if self.environment.name in ENVIRONMENTS else verify
        self.budget = limits.SlidingWindowCounter() if use_budget else None
        self.live_limits = {}   # from GET /rate-limits when read; the documented table otherwise
        self._keys = None

    def _now(self):
        """Wall-clock now, shifted like the monotonic clock the caller gave (fake time in tests)."""
        shift = self.monotonic() - time.monotonic()
        return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=shift)

    # --- transport -----------------------------------------------------------------------------------

    def call(self, method, template, *, path_params=None, json_body=None, data=None, content_type=None,
             token=None, params=None, headers=None, idempotent=True, context='-', url=None):
        """One API call; returns the requests.Response of a 2xx answer or raises a typed error."""
        path = template.format(**(path_params or {}))
        target = url or self.environment.api_url + path
        group = limits.group_of(method, template) if url is None else None
        attempt = 0
        while True:
            attempt += 1
            self._respect_budget(group, context)
            request_headers = dict(headers or {})
            if token is not None:
                request_headers['Authorization'] = f'Bearer {token.reveal() if isinstance(token, Secret) else token}'
            if json_body is not None:
                data, content_type = json.dumps(json_body), 'application/json'
            if content_type:
                request_headers['Content-Type'] = content_type
            try:
                response = self.http.request(method, target, params=params, data=data, headers=request_headers,
                                             timeout=self.timeout)
            except _TRANSPORT_ERRORS as exc:
                if idempotent and attempt <= self.retries:
                    self.sleep(min(2 ** attempt, self.max_wait))
                    continue
                if idempotent:
                    raise UnavailableError(0, None, f'No answer from KSeF ({type(exc).__name__})') from None
                raise UnknownOutcomeError(f'No answer from KSeF to {method} {template} '
                                          f'({type(exc).__name__}): it may have taken effect') from None
            if response.status_code < 400:
                return response
            error = self._error(response, group)
            # a 429 is a definite "not done": repeating after Retry-After is safe even for calls that change
            # something (unlike a timeout, whose outcome is unknown)
            if isinstance(error, RateLimitError) and error.retry_after <= self.max_wait and attempt <= self.retries:
                self.sleep(error.retry_after)   # exactly what KSeF asked for, never earlier
                continue
            if isinstance(error, UnavailableError) and idempotent and attempt <= self.retries:
                self.sleep(min(2 ** attempt, self.max_wait))
                continue
            if response.status_code >= 500 and response.status_code != 503 and not idempotent:
                raise UnknownOutcomeError(f'KSeF answered {response.status_code} to {method} {template}: '
                                          'it may have taken effect')
            raise error

    def _respect_budget(self, group, context):
        """The local copy of the documented limits: wait a little, or say when to come back."""
        if group is None or self.budget is None:
            return
        while True:
            wait = self.budget.hit((group, context), self.live_limits.get(group, limits.GROUPS[group]), self.monotonic())
            if not wait:
                return
            if wait > self.max_wait:
                raise RateLimitError(wait, group, f'Local budget of group {group} exhausted')
            # a little more than the exact window: KSeF counts a request when it arrives, a moment after we do
            self.sleep(wait + BUDGET_MARGIN)

    @staticmethod
    def _error(response, group):
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        code, description, details, reason = None, body.get('detail') or body.get('title') or '', [], None
        exception = (body.get('exception') or {}).get('exceptionDetailList') or []
        if exception:
            code, description = exception[0].get('exceptionCode'), exception[0].get('exceptionDescription') or ''
            details = exception[0].get('details') or []
        elif body.get('errors'):
            first = body['errors'][0]
            code, description, details = first.get('code'), first.get('description') or description, first.get('details') or []
        elif isinstance(body.get('status'), dict):
            description, details = body['status'].get('description', ''), body['status'].get('details') or []
        reason = body.get('reasonCode')
        if status == 429:
            return RateLimitError(retry_after_seconds(response.headers.get('Retry-After')) or 1.0, group,
                                  description or 'Too Many Requests')
        if status == 401:
            return AuthenticationError(status, code, description, details)
        if status == 403:
            return PermissionDeniedError(status, code, description, details, reason_code=reason)
        if status >= 500:
            return UnavailableError(status, code, description or 'KSeF is unavailable', details)
        return KsefApiError(status, code, description, details, reason_code=reason)

    # --- public keys ---------------------------------------------------------------------------------

    def public_keys(self, refresh=False):
        """{usage: (public key, publicKeyId)} of the currently valid MF certificates (cached)."""
        if self._keys is None or refresh:
            keys = {}
            now = self._now()
            for item in self.call('GET', '/security/public-key-certificates').json():
                certificate = crypto.load_der_certificate(crypto.unb64(item['certificate']))
                for usage in item['usage']:
                    current = keys.get(usage)
                    if _parse_time(item['validFrom']) <= now and (current is None or item['validFrom'] > current[2]):
                        keys[usage] = (certificate.public_key(), item['publicKeyId'], item['validFrom'])
            missing = {'KsefTokenEncryption', 'SymmetricKeyEncryption'} - set(keys)
            if missing:   # never cached: the next call asks again
                raise KeyError(f'no valid key for {", ".join(sorted(missing))}')
            self._keys = {usage: (key, key_id) for usage, (key, key_id, _since) in keys.items()}
        return self._keys

    def _with_fresh_keys(self, operation):
        """Run operation(keys); on 21470 (the key was withdrawn) fetch the keys again and retry once."""
        try:
            return operation(self.public_keys())
        except KsefApiError as error:
            if error.code != 21470:
                raise
            return operation(self.public_keys(refresh=True))

    # --- authentication ------------------------------------------------------------------------------

    def challenge(self):
        return self.call('POST', '/auth/challenge').json()

    def login_with_token(self, context_type, context_value, ksef_token):
        """KSeF token login: RSA-OAEP(SHA-256) of 'token|timestampMs', poll to the final status, redeem once."""
        secret = ksef_token.reveal() if isinstance(ksef_token, Secret) else ksef_token

        def start(keys):
            challenge = self.challenge()
            public_key, key_id = keys['KsefTokenEncryption']
            encrypted = crypto.rsa_oaep_encrypt(public_key, f'{secret}|{challenge["timestampMs"]}'.encode())
            return self.call('POST', '/auth/ksef-token', idempotent=False, json_body={
                'challenge': challenge['challenge'], 'contextIdentifier': {'type': context_type, 'value': context_value},
                'encryptedToken': crypto.b64(encrypted), 'publicKeyId': key_id}).json()
        return self._finish_login(self._with_fresh_keys(start), (context_type, context_value))

    def auth_token_request(self, context_type, context_value, subject_identifier_type='certificateSubject'):
        """For signing outside (qualified signature, trusted profile): (challenge, unsigned XML, expires at)."""
        challenge = self.challenge()
        xml = xades.auth_token_request(challenge['challenge'], context_type, context_value, subject_identifier_type)
        expires = _parse_time(challenge['timestamp']) + datetime.timedelta(minutes=10)
        return challenge['challenge'], xml, expires

    def login_with_signed_request(self, signed_xml, context):
        """Finish a login with an AuthTokenRequest signed elsewhere (within the challenge's ten minutes)."""
        init = self.call('POST', '/auth/xades-signature', data=signed_xml, content_type='application/xml',
                         idempotent=False).json()
        return self._finish_login(init, context)

    def login_with_certificate(self, context_type, context_value, private_key, certificate,
                               subject_identifier_type='certificateSubject'):
        """XAdES login with a key and certificate we hold (KSeF certificate, qualified seal from PKCS#12/PEM)."""
        _challenge, xml, _expires = self.auth_token_request(context_type, context_value, subject_identifier_type)
        with _callers_own():
            signed = xades.sign(xml, private_key, certificate)
        return self.login_with_signed_request(signed, (context_type, context_value))

    def _finish_login(self, init, context):
        reference = init['referenceNumber']
        operation = Token.from_json(init['authenticationToken'])
        deadline = self.monotonic() + self.poll_timeout
        while True:
            status = self.call('GET', '/auth/{referenceNumber}', path_params={'referenceNumber': reference}, token=operation.value).json()
            code = status['status']['code']
            if code != 100:
                break
            if self.monotonic() > deadline:
                raise UnavailableError(0, 100, 'The authentication is still in progress; try again later')
            self.sleep(self.poll_interval)
        if code != 200:
            raise AuthenticationError(code, code, status['status'].get('description', ''), status['status'].get('details'))
        tokens = self.call('POST', '/auth/token/redeem', token=operation.value, idempotent=False).json()
        return AuthTokens(reference, Token.from_json(tokens['accessToken']), Token.from_json(tokens['refreshToken']),
                          tuple(context))

    def refresh(self, tokens):
        """A new access token from the refresh token (valid up to 7 days)."""
        data = self.call('POST', '/auth/token/refresh', token=tokens.refresh.value).json()
        tokens.access = Token.from_json(data['accessToken'])
        return tokens

    def fresh_access(self, tokens, margin=60):
        """The access token, refreshed first when it expires within ``margin`` seconds."""
        if tokens.access.valid_until - self._now() < datetime.timedelta(seconds=margin):
            self.refresh(tokens)
        return tokens.access.value

    # --- online sessions -----------------------------------------------------------------------------

    def _encryption(self, keys, key, iv):
        public_key, key_id = keys['SymmetricKeyEncryption']
        return {'encryptedSymmetricKey': crypto.b64(crypto.rsa_oaep_encrypt(public_key, key)),
                'initializationVector': crypto.b64(iv), 'publicKeyId': key_id}

    def open_online_session(self, tokens):
        key, iv = crypto.new_session_key()

        def open_(keys):
            return self.call('POST', '/sessions/online', token=self.fresh_access(tokens), idempotent=False,
                             context=_ctx(tokens), json_body={'formCode': FORM_CODE,
                                                              'encryption': self._encryption(keys, key, iv)}).json()
        data = self._with_fresh_keys(open_)
        return OnlineSession(data['referenceNumber'], _parse_time(data['validUntil']), key, iv)

    def send_invoice(self, tokens, session, xml, offline=False, hash_of_corrected=None):
        """Send one FA(3) file; returns its reference and hash. Never repeated on its own: an unknown outcome
        raises UnknownOutcomeError carrying the invoice hash (reconcile with session_invoices())."""
        encrypted = crypto.aes_encrypt(session.key, session.iv, xml)
        invoice_hash = crypto.sha256_b64(xml)
        body = {'invoiceHash': invoice_hash, 'invoiceSize': len(xml),
                'encryptedInvoiceHash': crypto.sha256_b64(encrypted), 'encryptedInvoiceSize': len(encrypted),
                'encryptedInvoiceContent': crypto.b64(encrypted), 'offlineMode': bool(offline)}
        if hash_of_corrected:
            body['hashOfCorrectedInvoice'] = hash_of_corrected
        try:
            response = self.call('POST', '/sessions/online/{referenceNumber}/invoices', path_params={'referenceNumber': session.reference_number},
                                 token=self.fresh_access(tokens), json_body=body, idempotent=False,
                                 context=_ctx(tokens))
        except UnknownOutcomeError as error:
            raise UnknownOutcomeError(str(error), invoice_hash=invoice_hash) from None
        return SentInvoice(response.json()['referenceNumber'], invoice_hash)

    def close_online_session(self, tokens, session_reference):
        self.call('POST', '/sessions/online/{referenceNumber}/close', path_params={'referenceNumber': session_reference},
                  token=self.fresh_access(tokens), idempotent=False, context=_ctx(tokens))

    def invoice_status(self, tokens, session_reference, invoice_reference):
        return _invoice_status(self.call(
            'GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}',
            path_params={'referenceNumber': session_reference, 'invoiceReferenceNumber': invoice_reference},
            token=self.fresh_access(tokens), context=_ctx(tokens)).json())

    def session_status(self, tokens, session_reference):
        status = self.call('GET', '/sessions/{referenceNumber}', path_params={'referenceNumber': session_reference},
                           token=self.fresh_access(tokens), context=_ctx(tokens)).json()
        _status_code(status)
        return status

    def session_invoices(self, tokens, session_reference, failed_only=False, page_size=1000):
        """Every invoice status of a session, following continuation tokens."""
        template = '/sessions/{referenceNumber}/invoices/failed' if failed_only else '/sessions/{referenceNumber}/invoices'
        continuation, result = None, []
        while True:
            headers = {'x-continuation-token': continuation} if continuation else None
            page = self.call('GET', template, path_params={'referenceNumber': session_reference}, params={'pageSize': page_size},
                             headers=headers, token=self.fresh_access(tokens), context=_ctx(tokens)).json()
            result += [_invoice_status(item, listed=True) for item in _listed(page, 'invoices')]
            continuation = page.get('continuationToken')
            if not continuation:
                return result

    def invoice_upo(self, tokens, session_reference, invoice_reference):
        return self.call('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo',
                         path_params={'referenceNumber': session_reference, 'invoiceReferenceNumber': invoice_reference},
                         token=self.fresh_access(tokens), context=_ctx(tokens)).content

    def download_link(self, url):
        """Content of a pre-signed KSeF storage link (upoDownloadUrl, export parts): a plain GET, without the
        access token and outside the API rate limits."""
        return self.call('GET', url, url=url).content

    # --- batch sessions ------------------------------------------------------------------------------

    def send_batch(self, tokens, files, part_size=100_000_000, offline=False, compression='Zip', workdir=None,
                   on_open=None):
        """files: iterable of (name, FA(3) bytes) -> session reference.

        ``on_open(reference)`` is called as soon as KSeF opened the session, before any part is uploaded, so a
        caller can record the reference durably: after a crash it reconciles through that session instead of
        sending the invoices a second time.

        The archive (ZIP, or tar.gz) is written to a temporary file, never held in memory; it is split into
        parts of at most part_size bytes (KSeF: 100 MB before encryption), each encrypted separately with the
        session key. A first pass computes the parts' hashes (declared when the session opens), a second pass
        encrypts them again one at a time and uploads them to the pre-signed URLs without a bearer token."""
        import hashlib
        import tempfile
        from . import archive
        with tempfile.TemporaryFile(dir=workdir) as archive_file:
            with _callers_own():
                archive.write_archive(files, compression, target=archive_file)
            key, iv = crypto.new_session_key()

            def parts():
                archive_file.seek(0)
                while True:
                    chunk = archive_file.read(part_size)
                    if not chunk:
                        return
                    yield chunk

            digest, size, declared = hashlib.sha256(), 0, []
            for number, chunk in enumerate(parts(), 1):
                digest.update(chunk)
                size += len(chunk)
                encrypted = crypto.aes_encrypt(key, iv, chunk)
                declared.append({'ordinalNumber': number, 'fileSize': len(encrypted),
                                 'fileHash': crypto.sha256_b64(encrypted)})

            def open_(keys):
                return self.call('POST', '/sessions/batch', token=self.fresh_access(tokens), idempotent=False,
                                 context=_ctx(tokens), json_body={
                                     'formCode': FORM_CODE, 'offlineMode': bool(offline),
                                     'encryption': self._encryption(keys, key, iv),
                                     'batchFile': {'fileSize': size, 'fileHash': crypto.b64(digest.digest()),
                                                   'compressionType': compression, 'fileParts': declared}}).json()
            opened = self._with_fresh_keys(open_)
            if on_open is not None:
                with _callers_own():
                    on_open(opened['referenceNumber'])
            requests_by_number = {r['ordinalNumber']: r for r in opened['partUploadRequests']}
            for number, chunk in enumerate(parts(), 1):
                upload = requests_by_number[number]
                # a part upload is safe to repeat: the same bytes to the same URL
                self.call(upload['method'], upload['url'], url=upload['url'], headers=upload['headers'],
                          data=crypto.aes_encrypt(key, iv, chunk))
        self.close_batch_session(tokens, opened['referenceNumber'])
        return opened['referenceNumber']

    def close_batch_session(self, tokens, session_reference):
        """Close a batch session: KSeF processes the uploaded parts (21205 when a declared part is missing;
        21208 when the upload window is over: KSeF cancels the session, status 440)."""
        self.call('POST', '/sessions/batch/{referenceNumber}/close', path_params={'referenceNumber': session_reference},
                  token=self.fresh_access(tokens), idempotent=False, context=_ctx(tokens))

    # --- reading -------------------------------------------------------------------------------------

    def query_metadata(self, tokens, filters, page_size=250):
        """All metadata of the filter set, following hasMore / isTruncated as the documentation says."""
        with _callers_own():   # the caller's filters: a date range of a known date type
            filters = json.loads(json.dumps(filters))
            date_field = _date_field(filters)
        offset, result = 0, []
        while True:
            page = self.call('POST', '/invoices/query/metadata', json_body=filters, token=self.fresh_access(tokens),
                             params={'pageSize': page_size, 'pageOffset': offset, 'sortOrder': 'Asc'},
                             context=_ctx(tokens)).json()
            result += _listed(page, 'invoices')
            if not page['hasMore']:
                return result
            if page['isTruncated'] and page['invoices']:
                filters['dateRange']['from'] = page['invoices'][-1][date_field]
                offset = 0
            else:
                offset += 1

    def download_invoice(self, tokens, ksef_number):
        return self.call('GET', '/invoices/ksef/{ksefNumber}', path_params={'ksefNumber': ksef_number},
                         token=self.fresh_access(tokens), context=_ctx(tokens)).content


    # --- management: tokens, certificates, permissions, limits, availability ---------------------------

    def create_ksef_token(self, tokens, permissions, description, wait=True):
        """A new KSeF token (shown once: keep it as a secret); waits until it is Active."""
        data = self.call('POST', '/tokens', token=self.fresh_access(tokens), context=_ctx(tokens), idempotent=False,
                         json_body={'permissions': list(permissions), 'description': description}).json()
        reference, secret = data['referenceNumber'], Secret(data['token'])
        deadline = self.monotonic() + self.poll_timeout
        while wait:
            status = self.ksef_token(tokens, reference)['status']
            if status == 'Active':
                break
            if status == 'Failed' or self.monotonic() > deadline:
                raise KsefApiError(200, None, f'The KSeF token ended as {status}')
            self.sleep(self.poll_interval)
        return reference, secret

    def ksef_token(self, tokens, reference):
        return self.call('GET', '/tokens/{referenceNumber}', path_params={'referenceNumber': reference},
                         token=self.fresh_access(tokens), context=_ctx(tokens)).json()

    def ksef_tokens(self, tokens, statuses=()):
        return self._continued('GET', '/tokens', 'tokens', tokens, params={'status': list(statuses), 'pageSize': 100})

    def revoke_ksef_token(self, tokens, reference):
        self.call('DELETE', '/tokens/{referenceNumber}', path_params={'referenceNumber': reference},
                  token=self.fresh_access(tokens), context=_ctx(tokens), idempotent=False)

    def _continued(self, method, template, key, tokens, params=None):
        continuation, items = None, []
        while True:
            headers = {'x-continuation-token': continuation} if continuation else None
            page = self.call(method, template, params=params, headers=headers, token=self.fresh_access(tokens),
                             context=_ctx(tokens)).json()
            items += _listed(page, key)
            continuation = page.get('continuationToken')
            if not continuation:
                return items

    def auth_sessions(self, tokens):
        return self._continued('GET', '/auth/sessions', 'items', tokens, params={'pageSize': 100})

    def end_auth_session(self, tokens, reference=None):
        """End one authentication session, or the current one (the refresh token stops working)."""
        if reference is None:
            self.call('DELETE', '/auth/sessions/current', token=tokens.refresh.value, context=_ctx(tokens))
        else:
            self.call('DELETE', '/auth/sessions/{referenceNumber}', path_params={'referenceNumber': reference},
                      token=self.fresh_access(tokens), context=_ctx(tokens))

    def certificate_limits(self, tokens):
        return self.call('GET', '/certificates/limits', token=self.fresh_access(tokens), context=_ctx(tokens)).json()

    def enroll_certificate(self, tokens, name, kind, key_type='ec', wait=True):
        """Generate a key (EC P-256 or RSA 2048) and a CSR with the enrollment data KSeF dictates, enroll a KSeF
        certificate of type Authentication or Offline, wait for it. Returns (private key, certificate, serial)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        data = self.call('GET', '/certificates/enrollments/data', token=self.fresh_access(tokens),
                         context=_ctx(tokens)).json()
        key = crypto.generate_ec_key() if key_type == 'ec' else crypto.generate_rsa_key(2048)
        subject = x509.Name([x509.NameAttribute(crypto.DN_FIELDS[name_], value) for name_, value in data.items()
                             if value is not None and name_ in crypto.DN_FIELDS])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        enrolled = self.call('POST', '/certificates/enrollments', token=self.fresh_access(tokens), context=_ctx(tokens),
                             idempotent=False, json_body={
                                 'certificateName': name, 'certificateType': kind,
                                 'csr': crypto.b64(csr.public_bytes(serialization.Encoding.DER))}).json()
        deadline = self.monotonic() + self.poll_timeout
        while True:
            status = self.call('GET', '/certificates/enrollments/{referenceNumber}',
                               path_params={'referenceNumber': enrolled['referenceNumber']},
                               token=self.fresh_access(tokens), context=_ctx(tokens)).json()
            code = status['status']['code']
            if code == 200:
                break
            if code != 100 or not wait or self.monotonic() > deadline:
                raise KsefApiError(200, code, status['status'].get('description', ''), status['status'].get('details'))
            self.sleep(self.poll_interval)
        serial = status['certificateSerialNumber']
        retrieved = self.call('POST', '/certificates/retrieve', token=self.fresh_access(tokens), context=_ctx(tokens),
                              json_body={'certificateSerialNumbers': [serial]}).json()['certificates'][0]
        return key, crypto.load_der_certificate(crypto.unb64(retrieved['certificate'])), serial

    def revoke_certificate(self, tokens, serial, reason='Unspecified'):
        self.call('POST', '/certificates/{certificateSerialNumber}/revoke', token=self.fresh_access(tokens),
                  path_params={'certificateSerialNumber': serial}, json_body={'revocationReason': reason},
                  context=_ctx(tokens), idempotent=False)

    def grant_person_permissions(self, tokens, identifier_type, identifier, permissions, description,
                                 first_name='', last_name=''):
        operation = self.call('POST', '/permissions/persons/grants', token=self.fresh_access(tokens),
                              context=_ctx(tokens), idempotent=False, json_body={
                                  'subjectIdentifier': {'type': identifier_type, 'value': identifier},
                                  'permissions': list(permissions), 'description': description,
                                  'subjectDetails': {'subjectDetailsType': 'PersonByIdentifier',
                                                     'personById': {'firstName': first_name, 'lastName': last_name}}}).json()
        return self.permission_operation(tokens, operation['referenceNumber'])

    def permission_operation(self, tokens, reference):
        deadline = self.monotonic() + self.poll_timeout
        while True:
            status = self.call('GET', '/permissions/operations/{referenceNumber}',
                               path_params={'referenceNumber': reference}, token=self.fresh_access(tokens),
                               context=_ctx(tokens)).json()['status']
            if status['code'] != 100 or self.monotonic() > deadline:
                return status
            self.sleep(self.poll_interval)

    PERMISSION_GRANTS = {
        'persons': '/permissions/persons/grants', 'entities': '/permissions/entities/grants',
        'authorizations': '/permissions/authorizations/grants', 'indirect': '/permissions/indirect/grants',
        'subunits': '/permissions/subunits/grants', 'eu-entities': '/permissions/eu-entities/grants',
        'eu-entities-administration': '/permissions/eu-entities/administration/grants',
    }
    PERMISSION_QUERIES = {
        'persons': ('/permissions/query/persons/grants', 'permissions'),
        'personal': ('/permissions/query/personal/grants', 'permissions'),
        'entities': ('/permissions/query/entities/grants', 'permissions'),
        'subunits': ('/permissions/query/subunits/grants', 'permissions'),
        'authorizations': ('/permissions/query/authorizations/grants', 'authorizationGrants'),
        'eu-entities': ('/permissions/query/eu-entities/grants', 'permissions'),
        'subordinate-roles': ('/permissions/query/subordinate-entities/roles', 'roles'),
    }

    def grant_permissions(self, tokens, kind, body):
        """Any documented grant (kind: persons, entities, authorizations, indirect, subunits, eu-entities,
        eu-entities-administration) with its request body; waits for the operation and returns its status."""
        with _callers_own():
            template = self.PERMISSION_GRANTS[kind]
        operation = self.call('POST', template, token=self.fresh_access(tokens),
                              context=_ctx(tokens), idempotent=False, json_body=body).json()
        return self.permission_operation(tokens, operation['referenceNumber'])

    def revoke_permission(self, tokens, permission_id, authorization=False):
        template = '/permissions/authorizations/grants/{permissionId}' if authorization \
            else '/permissions/common/grants/{permissionId}'
        operation = self.call('DELETE', template, path_params={'permissionId': permission_id},
                              token=self.fresh_access(tokens), context=_ctx(tokens), idempotent=False).json()
        return self.permission_operation(tokens, operation['referenceNumber'])

    def query_permissions(self, tokens, kind, body=None, page_size=100):
        """Every page of a permission query (kind: persons, personal, entities, subunits, authorizations,
        eu-entities, subordinate-roles) or of the entity roles (kind 'roles')."""
        if kind == 'roles':
            template, key, method, body = '/permissions/query/entities/roles', 'roles', 'GET', None
        else:
            with _callers_own():
                (template, key), method = self.PERMISSION_QUERIES[kind], 'POST'
        items, offset = [], 0
        while True:
            page = self.call(method, template, token=self.fresh_access(tokens), context=_ctx(tokens),
                             json_body=body if method == 'POST' else None,
                             params={'pageSize': page_size, 'pageOffset': offset}).json()
            items += _listed(page, key)
            if not page.get('hasMore'):
                return items
            offset += 1

    def context_limits(self, tokens):
        return self.call('GET', '/limits/context', token=self.fresh_access(tokens), context=_ctx(tokens)).json()

    def subject_limits(self, tokens):
        return self.call('GET', '/limits/subject', token=self.fresh_access(tokens), context=_ctx(tokens)).json()

    def certificates(self, tokens, **filters):
        """KSeF certificates of the authenticated subject (filters: certificateSerialNumber, name, type, status)."""
        items, offset = [], 0
        while True:
            page = self.call('POST', '/certificates/query', json_body=filters, params={'pageSize': 50, 'pageOffset': offset},
                             token=self.fresh_access(tokens), context=_ctx(tokens)).json()
            items += _listed(page, 'certificates')
            if not page['hasMore']:
                return items
            offset += 1

    def session_upo(self, tokens, session_reference):
        """The collective UPO pages of a processed session (XML bytes each)."""
        status = self.session_status(tokens, session_reference)
        return [self.call('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', token=self.fresh_access(tokens),
                          path_params={'referenceNumber': session_reference, 'upoReferenceNumber': page['referenceNumber']},
                          context=_ctx(tokens)).content
                for page in (status.get('upo') or {}).get('pages', [])]

    def availability_messages(self):
        url = f'{self.environment.latarnia_url}/messages'
        return self.call('GET', url, url=url).json()

    def rate_limits(self, tokens):
        """The limits in force (``GET /rate-limits``), also loaded into the local budget."""
        data = self.call('GET', '/rate-limits', token=self.fresh_access(tokens), context=_ctx(tokens)).json()
        # read whole before any is kept: a malformed answer must not leave the budget half-updated
        self.live_limits = {name: limits.Limit(*(_count(v[key]) for key in ('perSecond', 'perMinute', 'perHour')))
                            for name, v in data.items()}
        return data

    def availability(self):
        """The Latarnia status: {'status': AVAILABLE|MAINTENANCE|FAILURE|TOTAL_FAILURE, 'messages': [...]}."""
        url = f'{self.environment.latarnia_url}/status'
        return self.call('GET', url, url=url).json()

    # --- exports and incremental sync ------------------------------------------------------------------

    def export(self, tokens, filters, only_metadata=False):
        """Run an export to the end: create, poll, download and decrypt every part, unpack the ZIP with size
        limits. Returns (package description, {file name: bytes}) — the invoices as {ksefNumber}.xml and
        _metadata.json; the description gains ``refusedFiles`` {file name: REFUSALS code}: entries not read
        (unsafe name, too large, damaged), each refused alone."""
        key, iv = crypto.new_session_key()

        def create(keys):
            return self.call('POST', '/invoices/exports', token=self.fresh_access(tokens), context=_ctx(tokens),
                             json_body={'encryption': self._encryption(keys, key, iv), 'filters': filters,
                                        'onlyMetadata': bool(only_metadata)}, idempotent=False).json()
        reference = self._with_fresh_keys(create)['referenceNumber']
        deadline = self.monotonic() + self.poll_timeout
        while True:
            status = self.call('GET', '/invoices/exports/{referenceNumber}', path_params={'referenceNumber': reference},
                               token=self.fresh_access(tokens), context=_ctx(tokens)).json()
            code = status['status']['code']
            if code == 200:
                break
            if code != 100:
                raise KsefApiError(200, code, status['status'].get('description', ''), status['status'].get('details'))
            if self.monotonic() > deadline:
                raise UnavailableError(0, 100, 'The export is still running; try again later')
            self.sleep(self.poll_interval)
        package = status['package']
        archive = io.BytesIO()
        for part in sorted(package['parts'], key=lambda p: p['ordinalNumber']):
            encrypted = self.call(part['method'], part['url'], url=part['url']).content
            if crypto.sha256_b64(encrypted) != part['encryptedPartHash']:
                raise KsefApiError(200, None, f'Export part {part["ordinalNumber"]} is damaged (hash mismatch)')
            archive.write(crypto.aes_decrypt(key, iv, encrypted))
        files, refused = _unpack(archive.getvalue())
        return dict(package, refusedFiles=refused), files

    def sync(self, tokens, subject_type, start, state=None, only_metadata=False, end=None):
        """One step of the incremental download of invoices of a subject type (Subject2 = bought ...), with the
        permanent-storage high-water mark: returns (new {ksefNumber: (metadata, xml)}, next start). Persist the
        next start with the records it covers and call again (at least 15 minutes apart, per the limits).
        ``end`` closes a back-fill window (KSeF takes at most 3 months per filter): the next start is then the
        window's end once the window is exhausted, never a mark beyond it."""
        step = self.sync_step(tokens, subject_type, start, state, only_metadata, end)
        return step.found, step.next_start

    def sync_step(self, tokens, subject_type, start, state=None, only_metadata=False, end=None):
        """``sync`` with what the caller needs to plan the next step: a SyncStep whose ``complete`` is false
        when the package was truncated or the window ``end`` came before the high-water mark (call again
        from ``next_start`` as soon as the limits allow)."""
        date_range = {'dateType': 'PermanentStorage', 'from': _iso(start), 'restrictToPermanentStorageHwmDate': True}
        if end is not None:
            date_range['to'] = _iso(end)
        package, files = self.export(tokens, {'subjectType': subject_type, 'dateRange': date_range}, only_metadata)
        metadata = _package_metadata(files, package)
        seen = set(state or ())
        refused, found, invoice_files = package.get('refusedFiles') or {}, {}, {METADATA}
        for m in metadata:
            name = f'{m["ksefNumber"]}.xml'
            invoice_files.add(name)
            if m['ksefNumber'] in seen:
                continue
            if name in refused:   # the invoice arrives without its file, saying why (the caller downloads it again)
                m = dict(m, fileRefused=refused[name])
            found[m['ksefNumber']] = (m, files.get(name))
        stray = {name: code for name, code in refused.items() if name not in invoice_files}
        return dataclasses.replace(self._next_step(package, found, date_range, end), stray=stray)

    @staticmethod
    def _next_step(package, found, date_range, end):
        mark = package.get('permanentStorageHwmDate')
        if package.get('isTruncated') and package.get('lastPermanentStorageDate'):
            return SyncStep(found, package['lastPermanentStorageDate'], False, mark)
        if end is not None and (not mark or _moment(date_range['to']) < _moment(mark)):
            # the window ended before the mark: the next window starts where this one ended (adjacent)
            return SyncStep(found, date_range['to'], False, mark)
        return SyncStep(found, mark or date_range['from'], True, mark)


def _package_metadata(files, package):
    """The invoices of the package by its _metadata.json; without it only an empty package can be used (the
    mark must never move past invoices nobody saw)."""
    if METADATA not in files and package.get('invoiceCount'):
        raise KsefApiError(200, None, f'The export package cannot be used: it holds {package["invoiceCount"]} '
                                      f'invoices but no {METADATA}')
    try:
        metadata = json.loads(files.get(METADATA, b'{"invoices": []}'))['invoices']
        if not all(isinstance(m, dict) and isinstance(m.get('ksefNumber'), str) for m in metadata):
            raise ValueError('an invoice without its KSeF number')
    except (ValueError, KeyError, TypeError) as error:
        raise KsefApiError(200, None, f'The export package cannot be used: its {METADATA} is unreadable '
                                      f'({str(error)[:200]})') from None
    return metadata


@dataclasses.dataclass
class SyncStep:
    found: dict          # {ksefNumber: (metadata, xml bytes or None)} not in the caller's state
    next_start: str      # where the next step starts (ISO, as KSeF gave it)
    complete: bool       # nothing more up to the high-water mark: the next step may wait the usual cadence
    high_water_mark: str = None
    stray: dict = dataclasses.field(default_factory=dict)   # refused entries, no invoice's file: {name: REFUSALS code}


def _iso(moment):
    return moment if isinstance(moment, str) else moment.isoformat()


def _moment(text):
    moment = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    if moment.tzinfo is None:   # KSeF reads a time without offset as Warsaw time; an hour's error only delays
        moment = moment.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    return moment


MAX_UNPACKED_FILE = 3_000_000
MAX_UNPACKED_TOTAL = 2_000_000_000
METADATA, METADATA_LIMIT = '_metadata.json', 200_000_000


# what zipfile raises on a damaged or hostile archive (besides BadZipFile: a lying header, an unknown version or
# method, a cut stream, a negative offset)
_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError, zlib.error)


def _unpack(data):
    """The export ZIP: ({file name: bytes}, {refused file name: reason}). A file whose name is unsafe, that is
    larger than allowed, damaged, or that would take the package past the total limit is refused alone, so that one
    hostile or damaged entry never stops the others (its invoice still arrives, by its metadata, without a file).
    A package that is no ZIP, or whose _metadata.json is refused, cannot be used at all (KsefApiError)."""
    files, refused, total = {}, {}, 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise KsefApiError(200, None, f'The export package is not a readable ZIP file: {error}') from None
    with archive:
        for info in archive.infolist():
            name = info.filename
            reason = _refusal(info, total)
            if not reason:
                limit = METADATA_LIMIT if name == METADATA else MAX_UNPACKED_FILE
                try:
                    with archive.open(info) as handle:
                        content = handle.read(limit + 1)   # declared sizes can lie: read at most one byte more
                except _ZIP_ERRORS:
                    reason = 'damaged'
                else:
                    reason = 'too-large' if len(content) > limit else None
            if reason:
                refused[name[:200]] = reason
                continue
            total += len(content)
            files[name] = content
    if METADATA in refused:
        raise KsefApiError(200, None, f'The export package cannot be used: its {METADATA} is '
                                      f'{REFUSALS[refused[METADATA]]}')
    return files, refused


# why an entry of an export package was not read (codes: callers word them in their users' language)
REFUSALS = {'unsafe-name': 'a file name that points outside the package', 'not-invoice': 'not an invoice file',
            'too-large': 'larger than an invoice may be', 'package-too-large': 'past the size of a whole package',
            'damaged': 'damaged or unreadable'}


def _refusal(info, total):
    """Why an entry of an export package is not read, before reading it (a REFUSALS code; None: read it)."""
    name = info.filename
    if name.startswith(('/', '..')) or '/' in name or '\\' in name or '\x00' in name:
        return 'unsafe-name'
    if name != METADATA and not name.endswith('.xml'):
        return 'not-invoice'
    if info.file_size > (METADATA_LIMIT if name == METADATA else MAX_UNPACKED_FILE):
        return 'too-large'
    if total + info.file_size > MAX_UNPACKED_TOTAL:
        return 'package-too-large'
    return None


def load_signing_credentials(data, password=None):
    """(private key, certificate) from a PKCS#12 file (.p12/.pfx) or PEM text holding both, as qualified
    seals and signatures are delivered."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography import x509
    secret = password.encode() if isinstance(password, str) else password
    if b'-----BEGIN' in data:
        key = serialization.load_pem_private_key(data, password=secret)
        certificate = x509.load_pem_x509_certificate(data[data.index(b'-----BEGIN CERTIFICATE'):])
        return key, certificate
    key, certificate, _chain = pkcs12.load_key_and_certificates(data, secret)
    if key is None or certificate is None:
        raise ValueError('the PKCS#12 file holds no key or no certificate')
    return key, certificate


def _status_code(answer):
    """The status code of an answer: a number (the caller decides an invoice's fate by it)."""
    code = answer['status']['code']
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f'the status code {code!r} is no number')
    return code


_STATUS_TEXTS = ('referenceNumber', 'invoiceHash', 'ksefNumber', 'invoiceNumber', 'invoicingMode', 'upoDownloadUrl')
_STATUS_TIMES = ('acquisitionDate', 'permanentStorageDate', 'invoicingDate')


def _invoice_status(status, listed=False):
    """An invoice's status, read before anyone relies on it: every field a caller reads has its type (an
    accepted invoice has its KSeF number, an invoice of a session's list its hash, dates are dates)."""
    code = _status_code(status)
    for key in _STATUS_TEXTS:
        if status.get(key) is not None and not isinstance(status[key], str):
            raise TypeError(f"'{key}' is not text")
    for key in _STATUS_TIMES:
        if status.get(key) is not None:
            _parse_time(status[key])
    inner = status['status']
    if not isinstance(inner.get('description') or '', str):
        raise TypeError("'description' is not text")
    details = inner.get('details') or []
    if not isinstance(details, list) or not all(isinstance(detail, str) for detail in details):
        raise TypeError("'details' is not a list of texts")
    if not isinstance(inner.get('extensions') or {}, dict):
        raise TypeError("'extensions' is not an object")
    if code == 200 and not status.get('ksefNumber'):
        raise TypeError('an accepted invoice without its KSeF number')
    if listed and not status.get('invoiceHash'):
        raise TypeError('an invoice of the list without its hash')
    return status


def _token_text(value):
    """A token KSeF gave: text that fits in an HTTP header (a library refusing it would quote it)."""
    if not isinstance(value, str) or not value or not value.isascii() or not value.isprintable() or ' ' in value:
        raise TypeError('a token is not one word of printable ASCII')
    return value


def _count(value):
    """A limit KSeF gave: a whole number of requests (bool is no number here)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f'{value!r} is not a number of requests')
    return value


def _listed(page, key):
    """The list ``key`` of an answer's page, which must be a list of objects (else the answer is malformed)."""
    items = page[key]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError(f"'{key}' is not a list of objects")
    return items


def _ctx(tokens):
    return ':'.join(tokens.context)


def _date_field(filters):
    return {'Issue': 'issueDate', 'Invoicing': 'invoicingDate',
            'PermanentStorage': 'permanentStorageDate'}[filters['dateRange']['dateType']]
