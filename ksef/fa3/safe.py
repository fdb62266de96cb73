"""Loading untrusted FA(3) bytes: the checks KSeF applies to the file itself, before any schema.

Received invoices come from anyone, so nothing here resolves entities, reads a DTD, touches the network
or grows without bound. Every refusal is a Problem with a stable code, never a crash or a hang.
"""
import re

from lxml import etree

from .problems import Problem

MAX_SIZE = 1_000_000                 # invoice without attachment (KSeF limit, bytes)
MAX_SIZE_WITH_ATTACHMENT = 3_000_000  # invoice with a Zalacznik
BOM = b'\xef\xbb\xbf'

# Code points KSeF rejects although XML 1.0 allows them (discouraged characters).
_DISCOURAGED = re.compile(
    '[\x7f-\x84\x86-\x9f\ufdd0-\ufdef'
    + ''.join(f'{chr((plane << 16) | 0xFFFE)}{chr((plane << 16) | 0xFFFF)}' for plane in range(17))
    + ']'
)
_DECLARATION = re.compile(rb'^<\?xml\s[^>]*?\?>')
_ENCODING = re.compile(rb'encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']')


def _parser():
    # A fresh parser per call: lxml parsers are not thread-safe and Odoo runs threaded workers.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False, collect_ids=False,
    )


def load(data, source='/'):
    """Parse untrusted XML bytes. Returns ``(root_element, problems)``; root is None when refused."""
    problems = []

    def refuse(code, message, *params):
        problems.append(Problem(code=code, path=source, message=message, params=params))
        return None, problems

    if not isinstance(data, (bytes, bytearray)):
        return refuse('file.type', 'the invoice must be given as bytes')
    if len(data) > MAX_SIZE_WITH_ATTACHMENT:
        return refuse('file.too-large', f'the file has {len(data)} bytes; KSeF accepts at most '
                      f'{MAX_SIZE_WITH_ATTACHMENT} bytes with an attachment and {MAX_SIZE} without',
                      len(data), MAX_SIZE_WITH_ATTACHMENT)
    if data.startswith(BOM):
        return refuse('file.bom', 'the file starts with a byte order mark (BOM); save it as UTF-8 without BOM')
    declaration = _DECLARATION.match(data)
    if declaration:
        encoding = _ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).decode('ascii').upper().replace('_', '-') not in ('UTF-8', 'UTF8'):
            return refuse('file.encoding', f'the file declares the encoding {encoding.group(1).decode()}; '
                          'KSeF accepts UTF-8 only', encoding.group(1).decode())
    try:
        text = bytes(data).decode('utf-8')
    except UnicodeDecodeError as exc:
        return refuse('file.utf8', f'the file is not valid UTF-8 (byte {exc.start})', exc.start)
    if '<!DOCTYPE' in text or '<!ENTITY' in text:
        return refuse('file.doctype', 'the file contains a DOCTYPE or ENTITY declaration, which KSeF forbids')
    match = _DISCOURAGED.search(text)
    if match:
        line = text.count('\n', 0, match.start()) + 1
        return refuse('file.character', f'the file contains the forbidden character U+{ord(match.group()):04X} '
                      f'on line {line}', f'U+{ord(match.group()):04X}', line)
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        return refuse('file.malformed', f'the file is not well-formed XML: {exc}', str(exc))
    for node in root.itersiblings(preceding=True):
        if isinstance(node, etree._ProcessingInstruction):
            return refuse('file.processing-instruction', 'the file contains a processing instruction, which '
                          'KSeF forbids')
    if root.xpath('boolean(//processing-instruction())'):
        return refuse('file.processing-instruction', 'the file contains a processing instruction, which KSeF forbids')
    if len(data) > MAX_SIZE and root.find('{*}Zalacznik') is None:
        return refuse('file.too-large', f'the file has {len(data)} bytes; without an attachment KSeF accepts at most '
                      f'{MAX_SIZE} bytes', len(data), MAX_SIZE)
    return root, problems
