"""Emulator throughput: invoice submissions per second over loopback HTTP (no delays, no rate limits).

    ~/.cache/l10n_pl_ksef/venv/bin/python bench/emulator.py [--count 2000]   (the venv ./scripts/test.sh makes)

Starts `python -m ksef emulator` in its own process, logs in with a KSeF token, opens an online session and
sends ten-line FA(3) invoices one after another (each AES-encrypted, hashed, XSD-verified by the emulator).
Target (issue 4): at least 200 submissions per second.
"""
import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ksef import crypto, fa3  # noqa: E402
from ksef.fa3 import samples  # noqa: E402


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, '-m', 'ksef', 'emulator', '--port', str(port), '--no-rate-limits',
                               '--auth-delay', '0', '--invoice-delay', '0'], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f'http://127.0.0.1:{port}'
    http = requests.Session()
    try:
        for _ in range(100):
            try:
                http.post(f'{base}/v2/auth/challenge', timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
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
        for index in range(args.count):
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
        print(f'{args.count} ten-line invoices submitted over loopback in {elapsed:.2f} s: '
              f'{args.count / elapsed:,.0f} submissions per second (target >= 200)')
        print(f'emulator verdicts: {listed["successfulInvoiceCount"]} accepted, {listed["failedInvoiceCount"]} failed')
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == '__main__':
    main()
