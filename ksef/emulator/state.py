"""In-memory state of the emulator: keys, subjects, tokens, authentications, sessions, invoices.

Plain dataclasses; the service (service.py) holds one State and a lock around every request.
"""
import dataclasses
import datetime
import secrets
import time
from typing import Dict, List, Optional

from .. import crypto, identifiers

UTC = datetime.timezone.utc


class Clock:
    """The emulator's time: real time sped up by ``speed``, plus an offset tests can advance."""

    def __init__(self, speed=1.0, start=None):
        self.speed = float(speed)
        self._real_start = time.monotonic()
        self._start = start or datetime.datetime.now(UTC)
        self.offset = 0.0

    def seconds(self):
        """Emulated seconds since start (for rate-limit windows)."""
        return (time.monotonic() - self._real_start) * self.speed + self.offset

    def now(self):
        return self._start + datetime.timedelta(seconds=self.seconds())

    def advance(self, seconds):
        self.offset += seconds


def iso(moment):
    """KSeF timestamps: ISO 8601 with milliseconds and an offset."""
    return moment.astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', '+00:00')


def reference_number(moment, kind):
    """A 36-character reference like 20250901-SB-47FA636000-5960B49115-9D (opaque to clients)."""
    random_part = secrets.token_hex(10).upper()
    head = f'{moment:%Y%m%d}-{kind}-{random_part[:10]}-{random_part[10:]}'
    return f'{head}-{identifiers.ksef_number_checksum(head)}'


@dataclasses.dataclass
class PublicKey:
    usage: str                       # KsefTokenEncryption | SymmetricKeyEncryption
    private_key: object
    certificate: object
    valid_from: datetime.datetime
    valid_to: datetime.datetime
    withdrawn: bool = False

    @property
    def public_key_id(self):
        return crypto.public_key_id(self.private_key.public_key())

    def as_json(self):
        der = crypto.certificate_der(self.certificate)
        return {'certificate': crypto.b64(der), 'certificateId': crypto.sha256_b64(der),
                'publicKeyId': self.public_key_id, 'validFrom': iso(self.valid_from),
                'validTo': iso(self.valid_to), 'usage': [self.usage]}


@dataclasses.dataclass
class KsefToken:
    reference_number: str
    secret: str                      # the token text given once to its owner
    context_type: str
    context_value: str
    permissions: List[str]
    description: str
    author: Dict[str, str]
    created: datetime.datetime
    status: str = 'Active'
    last_use: Optional[datetime.datetime] = None


@dataclasses.dataclass
class Challenge:
    value: str
    timestamp: datetime.datetime
    timestamp_ms: int
    used: bool = False


@dataclasses.dataclass
class Authentication:
    reference_number: str
    started: datetime.datetime
    method: str                      # Token | QualifiedSeal | ...
    category: str                    # Token | XadesSignature
    context_type: str
    context_value: str
    subject: Dict[str, str]          # who authenticated: {'type': 'Nip'|'Pesel'|'Fingerprint'|'Token', 'value': ...}
    permissions: List[str]
    final_status: tuple              # (code, description, details) once processing is over
    ready_at: datetime.datetime
    operation_token: str = ''
    token_reference: Optional[str] = None
    auth_document_hash: Optional[str] = None
    redeemed: bool = False
    refresh_token: Optional[str] = None
    refresh_valid_until: Optional[datetime.datetime] = None
    last_refresh: Optional[datetime.datetime] = None
    terminated: bool = False
    certificate_subject_fields: Dict[str, Optional[str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Invoice:
    ordinal: int
    reference_number: str
    session_reference: str
    invoice_hash: str
    received: datetime.datetime
    ready_at: datetime.datetime
    final_status: tuple              # (code, description, details, extensions)
    offline_mode: bool
    xml: Optional[bytes] = None
    invoice_number: Optional[str] = None
    ksef_number: Optional[str] = None
    seller_nip: Optional[str] = None
    issue_date: Optional[datetime.date] = None
    invoice_type: Optional[str] = None
    file_name: Optional[str] = None
    hash_of_corrected: Optional[str] = None
    acquisition: Optional[datetime.datetime] = None
    permanent_storage: Optional[datetime.datetime] = None
    invoicing_mode: Optional[str] = None
    parties: Dict[str, list] = dataclasses.field(default_factory=dict)   # Subject2/Subject3 identifiers
    context_type: str = 'Nip'
    context_value: str = ''
    _metadata: Optional[dict] = None

    @property
    def metadata(self):
        """InvoiceMetadata for queries and exports, computed on first use (not on the sending path)."""
        if self._metadata is None:
            from .query import metadata
            self._metadata = metadata(self)
        return self._metadata

    def is_final(self, now):
        return now >= self.ready_at


@dataclasses.dataclass
class Session:
    reference_number: str
    kind: str                        # Online | Batch
    context_type: str
    context_value: str
    authentication_reference: str
    form_code: Dict[str, str]
    key: bytes
    iv: bytes
    created: datetime.datetime
    valid_until: datetime.datetime
    updated: datetime.datetime
    closed_at: Optional[datetime.datetime] = None
    invoices: List[Invoice] = dataclasses.field(default_factory=list)
    upo_reference: Optional[str] = None
    batch: Optional[dict] = None     # batch sessions: declared file and parts, uploads, deadline, outcome


@dataclasses.dataclass
class State:
    keys: List[PublicKey] = dataclasses.field(default_factory=list)
    tokens: Dict[str, KsefToken] = dataclasses.field(default_factory=dict)          # by secret
    challenges: Dict[str, Challenge] = dataclasses.field(default_factory=dict)
    authentications: Dict[str, Authentication] = dataclasses.field(default_factory=dict)
    access_issued: int = 0            # access tokens issued so far (each carries its serial number)
    access_ended_upto: int = 0        # access tokens up to this serial were ended early (refresh tokens stay valid)
    sessions: Dict[str, Session] = dataclasses.field(default_factory=dict)
    invoices_by_ksef_number: Dict[str, Invoice] = dataclasses.field(default_factory=dict)
    duplicates: Dict[tuple, Invoice] = dataclasses.field(default_factory=dict)       # (NIP, type, P_2) -> invoice
    subjects: Dict[str, dict] = dataclasses.field(default_factory=dict)             # testdata subjects by NIP
    exports: Dict[str, dict] = dataclasses.field(default_factory=dict)
    collective: Dict[str, dict] = dataclasses.field(default_factory=dict)    # collective identifier -> entry
    session_limit_overrides: Dict[str, dict] = dataclasses.field(default_factory=dict)
    certificate_limit_overrides: Dict[tuple, tuple] = dataclasses.field(default_factory=dict)
    peppol_providers: List[dict] = dataclasses.field(default_factory=list)
    rate_limit_overrides: Dict[str, dict] = dataclasses.field(default_factory=dict)   # context -> {group: Limit}
    blocked_contexts: set = dataclasses.field(default_factory=set)
    permission_records: Dict[str, dict] = dataclasses.field(default_factory=dict)
    permission_operations: Dict[str, dict] = dataclasses.field(default_factory=dict)
    enrollments: Dict[str, dict] = dataclasses.field(default_factory=dict)
    certificates: Dict[str, object] = dataclasses.field(default_factory=dict)                 # by serial (hex)
    persons: Dict[str, dict] = dataclasses.field(default_factory=dict)
    attachment_consent: Dict[str, Optional[datetime.datetime]] = dataclasses.field(default_factory=dict)  # NIP -> revoked
    token_activation: Dict[str, datetime.datetime] = dataclasses.field(default_factory=dict)
    grants: Dict[tuple, List[str]] = dataclasses.field(default_factory=dict)   # (ctx type, ctx, subj type, subj)
