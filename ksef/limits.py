"""KSeF 2.0 API rate limits: the documented groups and which operation counts against which.

Limits are counted per (context, client IP) in three sliding windows at once (1 s, 1 min, 1 h); a breach
is answered with 429 and Retry-After. The table mirrors the ``x-rate-limits`` of open-api.json (a test keeps
them equal); the emulator enforces it and the client plans against it.
"""
import collections
import dataclasses
import re
import threading

WINDOWS = (('perSecond', 1), ('perMinute', 60), ('perHour', 3600))


@dataclasses.dataclass(frozen=True)
class Limit:
    per_second: int
    per_minute: int
    per_hour: int

    def as_dict(self):
        return {'perSecond': self.per_second, 'perMinute': self.per_minute, 'perHour': self.per_hour}


GROUPS = {
    'onlineSession': Limit(10, 30, 120),
    'invoiceSend': Limit(10, 30, 180),
    'batchSession': Limit(10, 20, 60),
    'invoiceStatus': Limit(30, 120, 1200),
    'sessionList': Limit(5, 10, 60),
    'sessionInvoiceList': Limit(10, 20, 200),
    'sessionMisc': Limit(10, 120, 1200),
    'invoiceMetadata': Limit(8, 16, 20),
    'invoiceExport': Limit(8, 16, 20),
    'invoiceExportStatus': Limit(10, 60, 600),
    'invoiceDownload': Limit(8, 16, 64),
    'collectiveIdentifier': Limit(10, 60, 120),
    'other': Limit(10, 30, 120),
}
# unauthenticated endpoints: 60 requests per second per IP
UNAUTHENTICATED = Limit(60, 3600, 216000)

# (method, path template) -> group; any other authenticated operation is 'other'
OPERATION_GROUPS = {
    ('POST', '/sessions/online'): 'onlineSession',
    ('POST', '/sessions/online/{referenceNumber}/close'): 'onlineSession',
    ('POST', '/sessions/online/{referenceNumber}/invoices'): 'invoiceSend',
    ('POST', '/sessions/batch'): 'batchSession',
    ('POST', '/sessions/batch/{referenceNumber}/close'): 'batchSession',
    ('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}'): 'invoiceStatus',
    ('GET', '/sessions'): 'sessionList',
    ('GET', '/sessions/{referenceNumber}/invoices'): 'sessionInvoiceList',
    ('GET', '/sessions/{referenceNumber}/invoices/failed'): 'sessionInvoiceList',
    ('GET', '/sessions/{referenceNumber}'): 'sessionMisc',
    ('GET', '/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo'): 'sessionMisc',
    ('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo'): 'sessionMisc',
    ('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}'): 'sessionMisc',
    ('POST', '/invoices/query/metadata'): 'invoiceMetadata',
    ('POST', '/invoices/exports'): 'invoiceExport',
    ('GET', '/invoices/exports/{referenceNumber}'): 'invoiceExportStatus',
    ('GET', '/invoices/ksef/{ksefNumber}'): 'invoiceDownload',
    ('POST', '/collective-identifiers'): 'collectiveIdentifier',
}
# counted per client IP only (60 requests per second): authentication and the TEST set-up endpoints
UNAUTHENTICATED_OPERATIONS = {
    ('POST', '/auth/challenge'), ('POST', '/auth/ksef-token'), ('POST', '/auth/xades-signature'),
    ('GET', '/auth/{referenceNumber}'), ('POST', '/auth/token/redeem'), ('POST', '/auth/token/refresh'),
    ('GET', '/security/public-key-certificates'), ('GET', '/peppol/query'),
    *(('POST', f'/testdata/{name}') for name in (
        'subject', 'subject/remove', 'person', 'person/remove', 'permissions', 'permissions/revoke',
        'attachment', 'attachment/revoke')),
}


def group_of(method, template):
    if (method, template) in UNAUTHENTICATED_OPERATIONS:
        return None
    return OPERATION_GROUPS.get((method, template), 'other')


def group_from_openapi_description(text):
    """The group name at the end of the 429 description table of an operation in open-api.json."""
    match = re.search(r'\|\s*([A-Za-z]+)\s*$', text.strip())
    return match.group(1) if match else None


class SlidingWindowCounter:
    """Request times per key, checked against the three windows of a Limit. Thread-safe."""

    def __init__(self):
        self._events = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def hit(self, key, limit: Limit, now: float):
        """Record a request at ``now`` (seconds); return 0 if allowed, else the seconds to wait."""
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - 3600:
                events.popleft()
            wait = 0.0
            for (_name, span), allowed in zip(WINDOWS, (limit.per_second, limit.per_minute, limit.per_hour)):
                in_window = [t for t in _tail(events, now - span)]
                if len(in_window) >= allowed:
                    # the oldest request inside the window must leave it before another one fits
                    wait = max(wait, in_window[len(in_window) - allowed] + span - now)
            if wait > 0:
                return wait
            events.append(now)
            return 0.0


def _tail(events, since):
    """Events after ``since`` (events are sorted; iterate from the right)."""
    result = []
    for t in reversed(events):
        if t <= since:
            break
        result.append(t)
    result.reverse()
    return result
