"""The API commands of `python -m ksef`, run as a user would against the emulator on loopback."""
import json
import os
import subprocess
import sys

import pytest

from ksef import fa3
from ksef.fa3 import samples

from .test_client import emulator, token_for  # noqa: F401 - fixtures

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SELLER = samples.SELLER_NIP


def run(base, *args, token=None, nip=SELLER, extra_env=None):
    env = {**os.environ, 'KSEF_URL': f'{base}/v2', 'KSEF_CONTEXT': nip, **(extra_env or {})}
    env.pop('KSEF_TOKEN', None)
    if token:
        env['KSEF_TOKEN'] = token
    result = subprocess.run([sys.executable, '-m', 'ksef', *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    return result.returncode, result.stdout, result.stderr


def test_auth_send_status_upo_and_fetch(emulator, tmp_path):  # noqa: F811
    app, base = emulator
    token = token_for(base)
    code, out, err = run(base, 'auth', token=token)
    assert code == 0 and 'authenticated in Nip 5265877635' in out
    assert token not in out + err
    folder = tmp_path / 'out'
    folder.mkdir()
    scenarios = samples.scenarios()
    for index, name in enumerate(('vat_23', 'vat_mixed_23_8_5')):
        scenarios[name].body.number = f'FV/CLI/{index}'
        (folder / f'{name}.xml').write_bytes(fa3.build(scenarios[name]))
    broken = scenarios['vat_23']
    broken.body.number = 'FV/CLI/X'
    (folder / 'zz_broken.xml').write_bytes(fa3.build(broken).replace(b'>PLN<', b'>QQQ<'))
    code, out, err = run(base, 'send', str(folder), token=token)
    assert code == 1, 'one invoice was rejected'
    lines = dict(line.split(': ', 1) for line in out.splitlines()[1:])
    assert lines['vat_23.xml'].startswith(SELLER + '-') and lines['vat_mixed_23_8_5.xml'].startswith(SELLER + '-')
    assert lines['zz_broken.xml'].startswith('450 ')
    session = out.splitlines()[0].split()[1]
    code, out, err = run(base, 'status', session, token=token)
    assert code == 0 and json.loads(out)['successfulInvoiceCount'] == 2

    buyer_token = token_for(base, samples.BUYER_NIP)
    app.service.clock.advance(5)
    since = (app.service.clock.now() - __import__('datetime').timedelta(hours=1)).isoformat()
    received = tmp_path / 'received'
    code, out, err = run(base, 'fetch', '--since', since, '--output', str(received), token=buyer_token,
                         nip=samples.BUYER_NIP)
    assert code == 0 and out.startswith('2 new invoices'), err
    assert len(list(received.glob('*.xml'))) == 2
    code, out, err = run(base, 'fetch', '--output', str(received), token=buyer_token, nip=samples.BUYER_NIP)
    assert code == 0 and out.startswith('0 new invoices'), 'the folder remembers where it stopped'


def test_batch_send_tokens_and_limits(emulator, tmp_path):  # noqa: F811
    app, base = emulator
    token = token_for(base)
    for index in range(3):
        (tmp_path / f'{index}.xml').write_bytes(fa3.build(samples.ten_line_invoice(index)))
    code, out, err = run(base, 'send', '--batch', str(tmp_path), token=token)
    assert code == 0, out + err
    assert sum(1 for line in out.splitlines() if line.endswith('.xml: ') is False and SELLER + '-' in line) == 3
    code, out, err = run(base, 'tokens', 'create', '--description', 'nowy token', token=token)
    assert code == 0 and 'keep it secret' in out
    code, out, err = run(base, 'tokens', 'list', token=token)
    assert code == 0 and 'nowy token' in out and 'Active' in out
    code, out, err = run(base, 'limits', token=token)
    assert code == 0 and json.loads(out)['invoiceSend']['perHour'] == 180


def test_missing_credentials_and_bad_token_are_clear_errors(emulator):  # noqa: F811
    app, base = emulator
    code, out, err = run(base, 'auth')
    assert code == 2 and 'KSEF_TOKEN' in err
    code, out, err = run(base, 'auth', token='zly-token')
    assert code == 1 and '450' in err and 'zly-token' not in err


def test_qr_command(tmp_path):
    xml = fa3.build(samples.scenarios()['vat_23'])
    path = tmp_path / 'f.xml'
    path.write_bytes(xml)
    result = subprocess.run([sys.executable, '-m', 'ksef', 'qr', str(path), '--output', str(tmp_path / 'q.png')],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip().startswith(f'https://qr.ksef.mf.gov.pl/invoice/{SELLER}/02-11-2026/')
    assert (tmp_path / 'q.png').read_bytes().startswith(b'\x89PNG')


def test_permissions_commands(emulator):  # noqa: F811
    app, base = emulator
    token = token_for(base)
    code, out, err = run(base, 'permissions', 'grant', '--subject', '80010112345', '--permissions',
                         'InvoiceRead,InvoiceWrite', '--first-name', 'Anna', '--last-name', 'Nowak', token=token)
    assert code == 0 and out.startswith('grant: 200'), err
    code, out, err = run(base, 'permissions', 'list', token=token)
    granted = json.loads(out)
    assert sorted(p['permissionScope'] for p in granted) == ['InvoiceRead', 'InvoiceWrite']
    code, out, err = run(base, 'permissions', 'revoke', '--id', granted[0]['id'], token=token)
    assert code == 0 and out.startswith('revoke: 200')
    code, out, err = run(base, 'permissions', 'list', token=token)
    assert len(json.loads(out)) == 1
