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
