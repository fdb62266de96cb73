"""One error hierarchy for the whole ``ksef`` package: callers catch ``KsefError``.

Messages never contain secrets (tokens, keys, passwords); callers may show them to users as they are.
"""


class KsefError(Exception):
    """Base of every error the ksef package raises on purpose."""


class InvalidInvoiceError(KsefError):
    """An FA(3) document could not be read or built; ``problems`` lists every Problem found."""

    def __init__(self, problems):
        self.problems = list(problems)
        summary = '; '.join(str(p) for p in self.problems[:3])
        more = f' (and {len(self.problems) - 3} more)' if len(self.problems) > 3 else ''
        super().__init__(f'Invalid FA(3) invoice: {summary}{more}')


class KsefApiError(KsefError):
    """KSeF answered with an error: HTTP ``status``, KSeF ``code`` (e.g. 21405), description and details."""

    def __init__(self, status, code=None, description='', details=(), reason_code=None):
        self.status, self.code, self.description = status, code, description
        self.details, self.reason_code = list(details or ()), reason_code
        text = f'KSeF HTTP {status}' + (f' [{code}]' if code else '') + (f' {description}' if description else '')
        if self.details:
            text += ': ' + '; '.join(str(d) for d in self.details[:3])
        super().__init__(text)


class AuthenticationError(KsefApiError):
    """401, or an authentication that ended with a status other than 200 (``code`` = that status)."""


class PermissionDeniedError(KsefApiError):
    """403: the authenticated subject lacks a permission in this context (``reason_code`` says which rule)."""


class RateLimitError(KsefApiError):
    """429 (or the local budget would be exceeded): try again after ``retry_after`` seconds."""

    def __init__(self, retry_after, group=None, description='Too Many Requests'):
        super().__init__(429, None, description)
        self.retry_after, self.group = retry_after, group


class UnavailableError(KsefApiError):
    """KSeF is unavailable (5xx, 550, maintenance or failure): nothing happened, try later."""


class UnknownOutcomeError(KsefError):
    """A call that changes something got no answer (timeout, dropped connection): it may or may not have taken
    effect. ``invoice_hash`` (if any) lets the caller reconcile through the session's invoice list before
    anything is sent again."""

    def __init__(self, message, invoice_hash=None):
        super().__init__(message)
        self.invoice_hash = invoice_hash


class MalformedAnswerError(UnknownOutcomeError):
    """KSeF answered (2xx) but the answer cannot be read: not JSON, a field missing or of the wrong type. A call
    that changes something may have taken effect: callers treat it as an unknown outcome and reconcile."""
