"""The command line, run as a user would: `python -m ksef ...` in a subprocess."""
import json
import os
import subprocess
import sys

import pytest

from ksef import fa3
from ksef.fa3 import samples

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    result = subprocess.run([sys.executable, '-m', 'ksef', *args], cwd=REPO, capture_output=True, text=True,
                            timeout=120, env={**os.environ})
    return result.returncode, result.stdout, result.stderr


@pytest.fixture()
def files(tmp_path):
    good = tmp_path / 'good.xml'
    good.write_bytes(fa3.build(samples.scenarios()['vat_mixed_23_8_5']))
    bad_invoice = samples.scenarios()['vat_23']
    bad_invoice.seller.nip = '5265877636'
    bad = tmp_path / 'bad.xml'
    bad.write_bytes(fa3.build(bad_invoice))
    return good, bad


def test_validate_valid_file(files):
    code, out, _ = run('fa3', 'validate', str(files[0]))
    assert code == 0
    assert out.strip() == f'{files[0]}: valid'


def test_validate_reports_one_line_per_problem_and_fails(files):
    code, out, _ = run('fa3', 'validate', str(files[0]), str(files[1]))
    assert code == 1
    lines = out.strip().splitlines()
    assert f'{files[0]}: valid' in lines
    assert f'{files[1]}:/Faktura/Podmiot1/DaneIdentyfikacyjne/NIP: error: [nip.checksum] NIP 5265877636 is invalid: ' \
           f'wrong check digit: expected 5, found 6' in lines


def test_validate_missing_file_and_missing_schema(tmp_path, files):
    code, _, err = run('fa3', 'validate', str(tmp_path / 'nope.xml'))
    assert code == 2 and 'cannot read' in err
    code, _, err = run('fa3', 'validate', '--schema-dir', str(tmp_path), str(files[0]))
    assert code == 2 and 'does not exist' in err


def test_parse_prints_json(files):
    code, out, _ = run('fa3', 'parse', str(files[0]))
    assert code == 0
    data = json.loads(out)
    invoice = samples.scenarios()['vat_mixed_23_8_5']
    assert data['body']['number'] == invoice.body.number
    assert data['body']['total'] == format(invoice.body.total, 'f')
    assert [line['rate'] for line in data['body']['lines']] == [line.rate for line in invoice.body.lines]


def test_parse_refuses_hostile_file(tmp_path):
    path = tmp_path / 'x.xml'
    path.write_bytes(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>')
    code, out, err = run('fa3', 'parse', str(path))
    assert code == 1 and out == ''
    assert '[file.doctype]' in err


@pytest.mark.parametrize('number, code, text', [
    ('5265877635-20250826-0100001AF629-AF', 0, 'valid KSeF number'),
    ('5265877635-20250826-0100001AF629-AE', 1, 'wrong checksum: expected AF, found AE'),
    ('PL5265877635', 0, 'valid NIP 5265877635'),
    ('5265877636', 1, 'invalid NIP 5265877636: wrong check digit'),
    ('6824515772-12343', 0, 'valid internal ID'),
])
def test_check_number(number, code, text):
    returned, out, _ = run('check-number', number)
    assert returned == code
    assert text in out


def test_demo_builds_validates_and_parses_every_scenario(tmp_path):
    code, out, _ = run('demo', '--output', str(tmp_path))
    assert code == 0
    assert out.count('valid, round trip identical') == len(samples.scenarios())
    assert sorted(p.stem for p in tmp_path.glob('*.xml')) == sorted(samples.scenarios())
    assert '[nip.checksum]' in out and '[totals.bucket-mismatch]' in out
    assert 'batch   20 invoices in one session: 20 accepted' in out
    assert 'received 22 invoices through an export' in out
