"""FA(3) bytes <-> Invoice dataclasses, and the one-call validation of a file."""
from lxml import etree

from ..errors import InvalidInvoiceError
from . import safe, schema
from .model import NAMESPACE, Invoice
from .problems import Problem
from .xmlmap import StructureError, build_element, parse_element

ROOT = 'Faktura'


def to_element(invoice):
    """Render an Invoice as an lxml element (namespace FA(3), schema order)."""
    if not isinstance(invoice, Invoice):
        raise TypeError(f'expected an Invoice, got {type(invoice).__name__}')
    return build_element(invoice, ROOT, NAMESPACE)


def serialize(element):
    return etree.tostring(element, xml_declaration=True, encoding='UTF-8', pretty_print=True)


def build(invoice):
    """Invoice -> FA(3) XML bytes (UTF-8, no BOM). Deterministic: the same invoice gives the same bytes."""
    return serialize(to_element(invoice))


def from_element(root):
    """Parse an lxml element of an FA(3) document into an Invoice (raises InvalidInvoiceError)."""
    qname = etree.QName(root)
    if qname.localname != ROOT or qname.namespace != NAMESPACE:
        raise InvalidInvoiceError([_wrong_root(qname)])
    try:
        return parse_element(root, Invoice, NAMESPACE, f'/{ROOT}')
    except StructureError as exc:
        raise InvalidInvoiceError(exc.problems) from None


def parse(data):
    """FA(3) XML bytes -> Invoice. Refuses hostile or malformed files; tolerant of absent optional parts,
    strict on structure (unknown, misplaced or missing elements are errors)."""
    root, problems = safe.load(data)
    if root is None:
        raise InvalidInvoiceError(problems)
    return from_element(root)


def _wrong_root(qname):
    if qname.localname == ROOT:
        return Problem(code='file.namespace', path=f'/{ROOT}',
                       message=f'the namespace is {qname.namespace or "(none)"}; FA(3) uses {NAMESPACE}',
                       params=(qname.namespace,))
    return Problem(code='file.root', path=f'/{qname.localname}',
                   message=f'the root element is {qname.localname}; an FA(3) invoice starts with Faktura',
                   params=(qname.localname,))


def validate(data, schema_dir=None):
    """Every problem of an FA(3) file: file rules, XSD, then (if the structure is readable) the semantic
    checks. Returns a list of Problems (empty = valid)."""
    from .checks import check  # checks imports the model only; imported here to keep module load light
    root, problems = safe.load(data)
    if root is None:
        return problems
    qname = etree.QName(root)
    if qname.localname != ROOT or qname.namespace != NAMESPACE:
        return [_wrong_root(qname)]
    problems = schema.xsd_problems(root, schema_dir)
    try:
        invoice = from_element(root)
    except InvalidInvoiceError as exc:
        return problems or exc.problems
    return problems + check(invoice)


def validate_invoice(invoice, schema_dir=None):
    """Problems of an Invoice about to be sent: XSD of the built XML plus the semantic checks."""
    from .checks import check
    return schema.xsd_problems(to_element(invoice), schema_dir) + check(invoice)
