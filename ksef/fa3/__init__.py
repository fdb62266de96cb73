"""FA(3): the structured e-invoice KSeF accepts. Build XML from dataclasses, parse it back, validate it.

    from ksef import fa3
    xml = fa3.build(invoice)            # bytes, deterministic, UTF-8 without BOM
    invoice = fa3.parse(xml)            # raises ksef.errors.InvalidInvoiceError with .problems
    problems = fa3.validate(xml)        # file rules + XSD (offline) + semantic checks, as data
"""
from .checks import check
from .codec import build, from_element, parse, serialize, to_element, validate, validate_invoice
from .model import *  # noqa: F401,F403 - the dataclasses are the public API
from .problems import ERROR, WARNING, Problem, errors
from .schema import SchemaNotFound, default_schema_dir, load_schema
