"""Sending benchmark: 10,000 invoices through one batch session and 200 through an online session, to the
emulator over loopback.

    ~/.cache/l10n_pl_ksef/venv/bin/python bench/send.py [--batch 10000] [--online 200]

The emulator runs in its own process without rate limits (KSeF's limits are not ours to measure: the figures
say how many calls of each group the work costs, and how much of the hourly budget that is). Prints wall time
of the client, API calls per rate-limit group and the client's peak memory. Targets (issue 5): 10,000 invoices
batched, uploaded and confirmed in under 2 minutes, under 30 API calls, under 300 MB.
"""
import argparse
import collections
import pathlib
import resource
import sys
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ksef import fa3, limits  # noqa: E402
from ksef.client import KsefClient, custom_environment  # noqa: E402
from ksef.fa3 import samples  # noqa: E402
from ksef.emulator.process import emulator_process  # noqa: E402

import results  # noqa: E402 - bench/results.py


class CountingClient(KsefClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = collections.Counter()

    def call(self, method, template, **kwargs):
        group = 'upload/download (no limit)' if kwargs.get('url') else (limits.group_of(method, template) or 'auth (per IP)')
        self.calls[group] += 1
        return super().call(method, template, **kwargs)


def invoices(count, offset):
    for index in range(offset, offset + count):
        yield f'{index}.xml', fa3.build(samples.ten_line_invoice(index))


def report(title, client, elapsed, count):
    calls = sum(n for g, n in client.calls.items() if not g.startswith('upload'))
    print(f'\n{title}: {count} invoices in {elapsed:.1f} s of client time ({count / elapsed:,.0f}/s), '
          f'{calls} API calls (+{client.calls["upload/download (no limit)"]} part uploads)')
    for group, number in sorted(client.calls.items()):
        hourly = limits.GROUPS.get(group)
        budget = f'{number / hourly.per_hour:.1%} of the hourly limit' if hourly else ''
        print(f'  {group:28} {number:6}  {budget}')
    client.calls.clear()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=10_000)
    parser.add_argument('--online', type=int, default=200)
    parser.add_argument('--json', help='append the figures to this file (bench/all.py)')
    args = parser.parse_args()
    with emulator_process('--no-rate-limits', '--auth-delay', '0', '--invoice-delay', '0') as base:
        run(base, args)


def run(base, args):
    token = requests.post(f'{base}/_emulator/tokens', timeout=5, json={
        'contextIdentifier': {'type': 'Nip', 'value': samples.SELLER_NIP},
        'permissions': ['InvoiceWrite', 'InvoiceRead']}).json()['token']
    client = CountingClient(custom_environment(f'{base}/v2'), use_budget=False, timeout=(5, 600))
    tokens = client.login_with_token('Nip', samples.SELLER_NIP, token)
    client.calls.clear()   # the login is not part of the sending figures

    started = time.perf_counter()
    reference = client.send_batch(tokens, invoices(args.batch, 0))
    status = client.session_status(tokens, reference)
    statuses = client.session_invoices(tokens, reference)
    elapsed = time.perf_counter() - started
    accepted = sum(1 for s in statuses if s['status']['code'] == 200)
    assert accepted == args.batch, f'{accepted} of {args.batch} accepted ({status["status"]})'
    results.record(args.json, 'client: batch session, to accepted', args.batch, elapsed, calls=client.calls)
    report('batch session', client, elapsed, args.batch)

    if args.online:
        send_online(client, tokens, args)
    print(f'\npeak memory of the client: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB '
          '(target 300 MB)')


def send_online(client, tokens, args):
    started = time.perf_counter()
    session = client.open_online_session(tokens)
    sent = [client.send_invoice(tokens, session, xml) for _name, xml in invoices(args.online, args.batch)]
    client.close_online_session(tokens, session.reference_number)
    statuses = client.session_invoices(tokens, session.reference_number)
    elapsed = time.perf_counter() - started
    assert sum(1 for s in statuses if s['status']['code'] == 200) == len(sent)
    results.record(args.json, 'client: online session, to accepted', args.online, elapsed, calls=client.calls)
    report('online session', client, elapsed, args.online)


if __name__ == '__main__':
    main()
