"""Problems found in an FA(3) document, returned as data (never raised one by one).

``code`` is stable: callers (the Odoo layer, the command line, tests) key translations and actions on it.
``path`` is an XPath-like location such as ``/Faktura/Fa/FaWiersz[2]/P_12``.
``params`` carries the values the message was made from, so another layer can word it in another language.
"""
import dataclasses

ERROR = 'error'
WARNING = 'warning'


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    path: str
    message: str
    severity: str = ERROR
    params: tuple = ()

    def __str__(self):
        return f'{self.path}: [{self.code}] {self.message}'

    @property
    def is_error(self):
        return self.severity == ERROR


def errors(problems):
    return [p for p in problems if p.is_error]
