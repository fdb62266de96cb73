"""Export packages that are damaged or hostile: each bad entry is refused alone (its invoice still arrives, by its
metadata, without a file and saying why); only a package that is no ZIP or whose metadata is unusable fails whole."""
import io
import json
import zipfile

import pytest

from ksef import fa3
from ksef.client import MAX_UNPACKED_FILE, REFUSALS, Secret, _package_metadata, _unpack
from ksef.errors import KsefApiError
from ksef.fa3 import samples

from .test_client import SELLER, client_for, emulator, token_for  # noqa: F401 - the fixture

METADATA = json.dumps({'invoices': []}).encode()


def package(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def damaged(data, name):
    """The package with the compressed bytes of ``name`` flipped (its CRC no longer matches)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    corrupt = bytearray(data)
    for offset in range(start, start + info.compress_size):
        corrupt[offset] ^= 0x55
    return bytes(corrupt)


def test_each_bad_entry_is_refused_alone():
    good = fa3.build(samples.ten_line_invoice(1))
    data = package([('A.xml', good), ('../../etc/cron.d/evil.xml', b'x'), ('sub/dir.xml', b'x'),
                    ('C:\\evil.xml', b'x'), ('notes.txt', b'x'), ('big.xml', b'x' * (MAX_UNPACKED_FILE + 1)),
                    ('crc.xml', good), ('_metadata.json', METADATA)])
    files, refused = _unpack(damaged(data, 'crc.xml'))
    assert files == {'A.xml': good, '_metadata.json': METADATA}
    assert refused == {'../../etc/cron.d/evil.xml': 'unsafe-name', 'sub/dir.xml': 'unsafe-name',
                       'C:\\evil.xml': 'unsafe-name', 'notes.txt': 'not-invoice', 'big.xml': 'too-large',
                       'crc.xml': 'damaged'}
    assert set(refused.values()) <= set(REFUSALS)


def test_a_size_that_lies_is_caught_while_reading():
    data = bytearray(package([('A.xml', b'<a>' + b'x' * (MAX_UNPACKED_FILE + 10) + b'</a>'),
                              ('_metadata.json', METADATA)]))
    # declare the entry small in the central directory: a zip bomb's trick
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo('A.xml')
    central = bytes(data).find(b'PK\x01\x02')
    data[central + 24:central + 28] = (100).to_bytes(4, 'little')   # uncompressed size
    files, refused = _unpack(bytes(data))
    assert 'A.xml' not in files and refused['A.xml'] in ('too-large', 'damaged')
    assert info.file_size > MAX_UNPACKED_FILE


@pytest.mark.parametrize('data, message', [
    (b'not a zip at all', 'not a readable ZIP'),
    (damaged(package([('A.xml', b'<a/>'), ('_metadata.json', METADATA)]), '_metadata.json'), 'cannot be used'),
])
def test_a_package_without_usable_metadata_fails_whole(data, message):
    with pytest.raises(KsefApiError, match=message):
        _unpack(data)


@pytest.mark.parametrize('files, invoice_count', [
    ({}, 3), ({'_metadata.json': b'{"invoices": [{"no": "number"}]}'}, 1), ({'_metadata.json': b'{not json'}, 1),
])
def test_invoices_are_never_lost_with_the_metadata(files, invoice_count):
    with pytest.raises(KsefApiError, match='cannot be used'):
        _package_metadata(files, {'invoiceCount': invoice_count})
    assert _package_metadata({}, {'invoiceCount': 0}) == [], "an empty package may come without metadata"


def test_sync_step_gives_the_refused_invoice_without_file_and_the_stray_entries(emulator):
    app, base = emulator
    client = client_for(app, base)
    seller = client.login_with_token('Nip', SELLER, Secret(token_for(base)))
    start = app.service.clock.now()
    client.send_batch(seller, [(f'{n}.xml', fa3.build(samples.ten_line_invoice(n))) for n in (1, 2, 3)])
    app.service.clock.advance(5)
    victim = []

    def tamper(files):
        invoices = [name for name, _data in files if name != '_metadata.json']
        victim.append(invoices[1])
        return [(name, b'x' * (MAX_UNPACKED_FILE + 1) if name == invoices[1] else data) for name, data in files] + [
            ('../../../home/odoo/.bashrc.xml', b'rm -rf /'), ('readme.txt', b'hello')]
    app.service.options.export_tamper = tamper
    buyer = client.login_with_token('Nip', samples.BUYER_NIP, Secret(token_for(base, samples.BUYER_NIP)))
    step = client.sync_step(buyer, 'Subject2', start)
    assert len(step.found) == 3, "every invoice of the package arrives"
    refused = {number: meta['fileRefused'] for number, (meta, xml) in step.found.items() if 'fileRefused' in meta}
    assert refused == {victim[0][:-4]: 'too-large'}
    assert step.found[victim[0][:-4]][1] is None
    assert all(xml for number, (meta, xml) in step.found.items() if number not in refused)
    assert step.stray == {'../../../home/odoo/.bashrc.xml': 'unsafe-name', 'readme.txt': 'not-invoice'}
    assert step.complete and step.next_start == step.high_water_mark, "the sync goes on past the package"


def test_randomly_damaged_packages_are_read_entry_by_entry_or_refused_whole():
    """Bytes of a real package flipped, cut or repeated at random (fixed seed): the package is read with its bad
    entries refused, or refused whole with a KsefApiError — never another exception."""
    import os
    import random
    seed = int(os.environ.get('KSEF_FUZZ_SEED') or 20261122)
    rng = random.Random(seed)
    invoices = [fa3.build(samples.ten_line_invoice(index)) for index in range(3)]
    metadata = json.dumps({'invoices': [{'ksefNumber': f'K{index}'} for index in range(3)]}).encode()
    original = package([('_metadata.json', metadata)] + [(f'K{index}.xml', xml) for index, xml in enumerate(invoices)])
    outcomes = {'read': 0, 'refused': 0}
    for case in range(500):
        data = bytearray(original)
        for _step in range(rng.choice((1, 2, 4))):
            position = rng.randrange(len(data))
            kind = rng.choice(('flip', 'cut', 'repeat'))
            if kind == 'flip':
                data[position] = rng.randrange(256)
            elif kind == 'cut':
                del data[position:position + rng.randrange(1, 64)]
            else:
                data[position:position] = data[position:position + rng.randrange(1, 64)] * 2
        try:
            files, refused = _unpack(bytes(data))
            _package_metadata(files, {'invoiceCount': 3})
        except KsefApiError:
            outcomes['refused'] += 1
        except Exception as error:  # noqa: BLE001 - the failure this test exists to find
            pytest.fail(f'case {case}: {type(error).__name__}: {error} (replay: KSEF_FUZZ_SEED={seed})')
        else:
            assert set(files) | set(refused) <= {'_metadata.json', 'K0.xml', 'K1.xml', 'K2.xml'} | set(refused)
            outcomes['read'] += 1
    assert outcomes['read'] and outcomes['refused'], outcomes
