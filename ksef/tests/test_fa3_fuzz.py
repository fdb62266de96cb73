"""Random mutations of valid FA(3) files, as a received file might arrive damaged or hostile (issue 12, item 3):
fa3.parse and fa3.validate either read the file or refuse it with InvalidInvoiceError naming the problems —
never another exception, never a hang. Fixed seed (KSEF_FUZZ_SEED, printed on failure for replay); the number
of mutations is KSEF_FUZZ_CASES (default 600)."""
import os
import random
import time

import pytest
from lxml import etree

from ksef import fa3
from ksef.errors import InvalidInvoiceError
from ksef.fa3 import samples

SEED = int(os.environ.get('KSEF_FUZZ_SEED') or 20261122)
CASES = int(os.environ.get('KSEF_FUZZ_CASES') or 600)
TEXTS = ('', ' ', '-1', '0', '1e400', 'NaN', 'Infinity', '99999999999999999999.999999', '2026-02-30', '2026-13-01',
         'x' * 5000, 'ąęłńóśźż', '\u202e', '<', '&amp;', '0.0000001', '1,5', '12:00', 'PL', 'true')


def _byte_flip(data, rng):
    position = rng.randrange(len(data))
    return data[:position] + bytes([rng.randrange(256)]) + data[position + 1:]


def _cut(data, rng):
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randrange(1, 200):]


def _repeat(data, rng):
    start = rng.randrange(len(data))
    piece = data[start:start + rng.randrange(1, 300)]
    return data[:start] + piece * rng.randrange(2, 5) + data[start:]


def _tree(mutate):
    def apply(data, rng):
        root = etree.fromstring(data)
        elements = [element for element in root.iter() if isinstance(element.tag, str)]
        mutate(root, elements, rng)
        return etree.tostring(root, xml_declaration=True, encoding='UTF-8')
    apply.__name__ = mutate.__name__
    return apply


@_tree
def _drop_element(root, elements, rng):
    element = rng.choice(elements[1:])
    element.getparent().remove(element)


@_tree
def _duplicate_element(root, elements, rng):
    element = rng.choice(elements[1:])
    element.addnext(etree.fromstring(etree.tostring(element)))


@_tree
def _new_text(root, elements, rng):
    leaves = [element for element in elements if len(element) == 0]
    rng.choice(leaves).text = rng.choice(TEXTS)


@_tree
def _rename(root, elements, rng):
    element = rng.choice(elements)
    namespace = etree.QName(element).namespace
    element.tag = etree.QName(namespace, rng.choice(('P_1', 'Fa', 'X', 'FaWiersz', 'Podmiot1'))).text


@_tree
def _huge_attribute(root, elements, rng):
    rng.choice(elements).set('a', 'y' * rng.choice((10, 100_000, 2_000_000)))


@_tree
def _move_element(root, elements, rng):
    element, target = rng.choice(elements[1:]), rng.choice(elements)
    if element not in target.iterancestors() and element is not target:
        target.append(element)


def _other_namespace(data, rng):
    return data.replace(b'http://crd.gov.pl/wzor/2025/06/25/13775/',
                        rng.choice((b'http://crd.gov.pl/wzor/2023/06/29/12648/', b'urn:x', b'')))


def _entities(data, rng):
    declaration = rng.choice((
        b'<!DOCTYPE Faktura [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE Faktura [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE Faktura SYSTEM "http://example.invalid/fa.dtd">'))
    head, _sep, rest = data.partition(b'?>')
    return head + b'?>' + declaration + rest.replace(b'<P_2>', b'<P_2>&b;&x;', 1)


MUTATIONS = (_byte_flip, _cut, _repeat, _drop_element, _duplicate_element, _new_text, _new_text, _rename,
             _huge_attribute, _move_element, _other_namespace, _entities)


def test_mutated_files_are_read_or_refused_with_their_problems():
    rng = random.Random(SEED)
    originals = [fa3.build(invoice) for invoice in samples.scenarios().values()]
    outcomes, slowest = {'read': 0, 'refused': 0}, 0.0
    for case in range(CASES):
        data = rng.choice(originals)
        applied = []
        for _step in range(rng.choice((1, 1, 2, 3))):
            mutation = rng.choice(MUTATIONS)
            try:
                data = mutation(data, rng)
            except etree.XMLSyntaxError:
                continue   # a tree mutation needs a readable file: the byte mutations before made it unreadable
            applied.append(mutation.__name__)
        started = time.monotonic()
        try:
            problems = fa3.validate(data)
            invoice = fa3.parse(data)
        except InvalidInvoiceError as error:
            assert error.problems and all(problem.message for problem in error.problems)
            outcomes['refused'] += 1
        except Exception as error:  # noqa: BLE001 - the failure this test exists to find
            pytest.fail(f'case {case} ({", ".join(applied)}): {type(error).__name__}: {str(error)[:300]} '
                        f'(replay: KSEF_FUZZ_SEED={SEED})')
        else:
            # parse() reads leniently what KSeF accepted (it validated the file); validate() says what is off
            assert invoice.body.number is not None and all(problem.message for problem in problems)
            outcomes['read'] += 1
        slowest = max(slowest, time.monotonic() - started)
    print(f'FA(3) fuzz: seed {SEED}, {CASES} mutated files: {outcomes}, slowest {slowest:.2f} s')
    assert outcomes['refused'] > CASES // 2, "most mutations break the file and are said to"
    assert slowest < 10, "no mutated file makes the reader hang"
