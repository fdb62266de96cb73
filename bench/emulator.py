"""Emulator throughput: invoice submissions per second over loopback HTTP (no delays, no rate limits).

    ~/.cache/l10n_pl_ksef/venv/bin/python bench/emulator.py [--count 2000]   (the venv ./scripts/test.sh makes)

Starts `python -m ksef emulator` in its own process, logs in with a KSeF token, opens an online session and
sends ten-line FA(3) invoices one after another (each AES-encrypted, hashed, XSD-verified by the emulator).
Target (issue 4): at least 200 submissions per second.
"""
import argparse
import json
import pathlib
import sys
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ksef import crypto, fa3  # noqa: E402
from ksef.fa3 import samples  # noqa: E402
from ksef.emulator.process import emulator_process  # noqa: E402

import results  # noqa: E402 - bench/results.py


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=2000)
    parser.add_argument('--json', help='append the figures to this file (bench/all.py)')
    args = parser.parse_args()
    with emulator_process('--no-rate-limits', '--auth-delay', '0', '--invoice-delay', '0') as base:
        elapsed = run(base, args.count)
    results.record(args.json, 'emulator: online submissions over loopback', args.count, elapsed)


def run(base, count):
    http = requests.Session()
    token = http.post(f'{base}/_emulator/tokens', json={
        'contextIdentifier': {'type': 'Nip', 'value': samples.SELLER_NIP},
        'permissions': ['InvoiceWrite', 'InvoiceRead']}).json()['token']
    keys = {k['usage'][0]: k for k in http.get(f'{base}/v2/security/public-key-certificates').json()}

    def public(usage):
        return crypto.load_der_certificate(crypto.unb64(keys[usage]['certificate'])).public_key()
    challenge = http.post(f'{base}/v2/auth/challenge').json()
    encrypted = crypto.rsa_oaep_encrypt(public('KsefTokenEncryption'), f'{token}|{challenge["timestampMs"]}'.encode())
    init = http.post(f'{base}/v2/auth/ksef-token', json={
        'challenge': challenge['challenge'], 'contextIdentifier': {'type': 'Nip', 'value': samples.SELLER_NIP},
        'encryptedToken': crypto.b64(encrypted)}).json()
    operation = {'Authorization': f'Bearer {init["authenticationToken"]["token"]}'}
    access = http.post(f'{base}/v2/auth/token/redeem', headers=operation).json()['accessToken']['token']
    bearer = {'Authorization': f'Bearer {access}'}
    key, iv = crypto.new_session_key()
    session = http.post(f'{base}/v2/sessions/online', headers=bearer, json={
        'formCode': fa3.FORM_CODE, 'encryption': {
            'encryptedSymmetricKey': crypto.b64(crypto.rsa_oaep_encrypt(public('SymmetricKeyEncryption'), key)),
            'initializationVector': crypto.b64(iv)}}).json()['referenceNumber']
    payloads = []
    for index in range(count):
        xml = fa3.build(samples.ten_line_invoice(index))
        data = crypto.aes_encrypt(key, iv, xml)
        payloads.append(json.dumps({
            'invoiceHash': crypto.sha256_b64(xml), 'invoiceSize': len(xml),
            'encryptedInvoiceHash': crypto.sha256_b64(data), 'encryptedInvoiceSize': len(data),
            'encryptedInvoiceContent': crypto.b64(data)}))
    headers = {**bearer, 'Content-Type': 'application/json'}
    started = time.perf_counter()
    for payload in payloads:
        response = http.post(f'{base}/v2/sessions/online/{session}/invoices', data=payload, headers=headers)
        assert response.status_code == 202, response.text
    elapsed = time.perf_counter() - started
    listed = http.get(f'{base}/v2/sessions/{session}', headers=bearer).json()
    print(f'{count} ten-line invoices submitted over loopback in {elapsed:.2f} s: '
          f'{count / elapsed:,.0f} submissions per second (target >= 200)')
    print(f'emulator verdicts: {listed["successfulInvoiceCount"]} accepted, {listed["failedInvoiceCount"]} failed')
    return elapsed


if __name__ == '__main__':
    main()
