"""Odoo receiving benchmark: a back-fill of ten-line invoices from the KSeF emulator into draft vendor bills,
for 1,000 and 10,000.

    ODOO_SRC=/opt/odoo/src $ODOO_PYTHON bench/odoo_receive.py [--db ksef_bench_recv] [--counts 1000,10000]
                                                              [--profile bills]

Creates (once) a database with l10n_pl and this addon and the benchmark company (as bench/odoo_fa3.py, NIP
5265877635). Each count then runs in a fresh process of its own against a fresh emulator in another process (no
rate limits, no delays): a third process (no Odoo) sends the invoices to the emulator as a few suppliers, one
batch session each, with the company as the buyer; then the company's earlier inbound documents and bills are
wiped, its buyer sync set to start before the invoices, and two phases measured: receive (the receiving cron,
run until every invoice is an inbound document: the exports) and bills (the bill-making cron, run until every
document has its draft vendor bill). Prints wall time and SQL queries per bill per phase, bills per second, the
KSeF API calls per rate-limit group (KsefClient.call wrapped in this process) and the process's peak memory.
Targets (issue 8): at most 5 export calls for 10,000 invoices, at least 25 bills per second, under 500 MB.
"""
import argparse
import collections
import datetime
import resource
import subprocess
import sys
import time

from odoo_bench import (Phases, api_calls, count_api_calls, emulator_token, open_registry, print_call_groups,
                        print_result, run_counts, time_odoo_create)
from odoo_fa3 import REPO, add_odoo_arguments, prepare

PHASES = ('receive', 'bills')
BUYER_NIP = '5265877635'   # the benchmark company's NIP (bench/odoo_fa3.py)
SUPPLIERS = ('6808208874', '7740001454', '1132191233', '5213017228')   # the sellers (valid NIPs)
SESSION_MAX = 10_000        # invoices per batch session (KSeF)


def prepare_company(args):
    odoo, registry = open_registry(args)
    with registry.cursor() as cr:
        prepare(odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}), 0)   # the company and its chart, no invoices


def supply(base, count):
    """``count`` ten-line invoices to the benchmark company, from the suppliers in turn, one batch session per
    supplier (at most 10,000 invoices each), straight through the client (no Odoo). Runs in a process of its own."""
    import dataclasses
    sys.path.insert(0, str(REPO))
    from ksef import fa3
    from ksef.client import KsefClient, custom_environment
    from ksef.fa3 import samples
    client = KsefClient(custom_environment(f'{base}/v2'), use_budget=False, timeout=(5, 600))
    shares = [count // len(SUPPLIERS) + (n < count % len(SUPPLIERS)) for n in range(len(SUPPLIERS))]
    started, first = time.perf_counter(), 1
    for nip, share in zip(SUPPLIERS, shares):
        token = emulator_token(base, nip)
        tokens = client.login_with_token('Nip', nip, token)
        for offset in range(0, share, SESSION_MAX):
            size = min(SESSION_MAX, share - offset)

            def files(start=first + offset, size=size, nip=nip):
                for index in range(start, start + size):
                    invoice = dataclasses.replace(
                        samples.ten_line_invoice(index), seller=samples.seller(nip=nip, name=f'Dostawca {nip} S.A.'),
                        buyer=samples.polish_buyer(nip=BUYER_NIP, name='KSeF Benchmark sp. z o.o.'))
                    yield f'{index}.xml', fa3.build(invoice)
            reference = client.send_batch(tokens, files())
            deadline = time.monotonic() + 600
            while True:
                status = client.session_status(tokens, reference)
                if status['status']['code'] >= 200:
                    break
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status.get('successfulInvoiceCount') == size, status
        first += share
    print(f'  supplied {count} invoices from {len(SUPPLIERS)} suppliers in {time.perf_counter() - started:.0f} s '
          '(batch sessions; not part of the figures)', flush=True)


def wipe_and_connect(env, company, base):
    """The company as if it had never received anything, connected to the new emulator, its buyer sync starting
    the day before (the invoices are stored now)."""
    documents = env['l10n_pl_ksef.document'].with_context(active_test=False).search(
        [('company_id', '=', company.id), ('direction', '=', 'in')])
    attachments = documents.attachment_id
    bills = env['account.move'].search([('company_id', '=', company.id), ('move_type', 'in', ('in_invoice', 'in_refund'))])
    if bills:
        env.cr.execute("DELETE FROM mail_message WHERE model = 'account.move' AND res_id IN %s", [tuple(bills.ids)])
        env.cr.execute("UPDATE l10n_pl_ksef_document SET move_id = NULL WHERE move_id IN %s", [tuple(bills.ids)])
        env.cr.execute("DELETE FROM account_move WHERE id IN %s", [tuple(bills.ids)])   # drafts; lines cascade
    env.cr.execute("DELETE FROM l10n_pl_ksef_document WHERE company_id = %s AND direction = 'in'", [company.id])
    env.invalidate_all()
    attachments.unlink()
    token = emulator_token(base, BUYER_NIP)
    start = datetime.date.today() - datetime.timedelta(days=1)
    company.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{base}/v2',
                   'l10n_pl_ksef_token': token, 'l10n_pl_ksef_receive_from': start})
    company._l10n_pl_ksef_ensure_syncs()
    syncs = env['l10n_pl_ksef.sync'].with_context(active_test=False).search([('company_id', '=', company.id)])
    syncs.write({'high_water_mark': False, 'range_next': False, 'range_end': False, 'next_run': False,
                 'last_run': False, 'last_error': False, 'received_count': 0, 'export_log': False,
                 'backfill_start': start})
    assert syncs.filtered(lambda s: s.subject_type == 'Subject2').active
    env.cr.commit()


def measure(args, count):
    odoo, registry = open_registry(args)
    from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_process
    calls, set_phase = count_api_calls()
    result = {'count': count}
    with emulator_process('--no-rate-limits', '--auth-delay', '0', '--invoice-delay', '0') as base:
        subprocess.run([sys.executable, __file__, '--supply', str(count), '--base', base], check=True, cwd=REPO)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            company = env['res.company'].search([('name', '=', 'KSeF Benchmark sp. z o.o.')], limit=1)
            wipe_and_connect(env, company, base)
            Document, Sync = env['l10n_pl_ksef.document'], env['l10n_pl_ksef.sync']
            domain = [('company_id', '=', company.id), ('direction', '=', 'in')]
            phases = Phases(cr, set_phase, args.profile)
            in_odoo_create = time_odoo_create(env, 'account.move')
            phase = phases.run
            env.invalidate_all()

            runs, deadline = collections.Counter(), time.monotonic() + 1800
            while Document.search_count(domain) < count:   # the cron stops itself after its run time
                runs['receive'] += 1
                phase('receive', Sync._cron_l10n_pl_ksef_receive)
                assert time.monotonic() < deadline and runs['receive'] < 100, 'receiving does not progress'
            while Document.search_count(domain + [('state', '=', 'received')]):
                runs['bills'] += 1
                phase('bills', Document._cron_l10n_pl_ksef_create_bills)
                assert time.monotonic() < deadline, 'the bills do not progress'
            env.invalidate_all()
            documents = Document.search(domain)
            states = collections.Counter(documents.mapped('state'))
            assert states == {'bill_created': count}, states
            assert len(documents.move_id) == count and set(documents.move_id.mapped('state')) == {'draft'}
            cr.execute("""SELECT count(*) FROM l10n_pl_ksef_document d JOIN account_move m ON m.id = d.move_id
                           WHERE d.id IN %s AND (abs(m.amount_total - d.gross_amount) > 0.001
                              OR (SELECT abs(sum(l.balance)) FROM account_move_line l WHERE l.move_id = m.id) > 0.001)""",
                       [tuple(documents.ids)])
            assert not cr.fetchone()[0], "bills whose total is not the invoice's, or unbalanced"
            cr.execute("""SELECT a.code_store->>%s, count(*) FROM account_move_line l
                            JOIN account_account a ON a.id = l.account_id
                           WHERE l.move_id IN %s AND l.display_type = 'product' GROUP BY 1 ORDER BY 1""",
                       [str(company.root_id.id), tuple(documents.move_id.ids)])
            line_accounts = dict(cr.fetchall())   # the accounts Odoo proposed for the lines (a change shows here)
            exports = sum(groups.get('invoiceExport', 0) for groups in calls.values())   # POST /invoices/exports
            result.update(odoo_create_s=in_odoo_create[0], seconds=phases.seconds, queries=phases.queries, runs=dict(runs), line_accounts=line_accounts, exports=exports,
                          vendors=len(documents.move_id.commercial_partner_id),
                          calls={name: dict(counter) for name, counter in calls.items()},
                          peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    phases.print_profile('odoo_receive', count)
    print_result(result)


def report(results):
    print('\nOdoo receiving, ten-line invoices in the KSeF emulator -> inbound documents -> draft vendor bills '
          '(own process, no limits):')
    print(f'{"invoices":>9} ' + ' '.join(f'{p + " s":>10} {"q/bill":>7}' for p in PHASES) +
          f' {"total s":>8} {"bills/s":>8} {"Odoo max":>8} {"exports":>8} {"API calls":>9} {"peak MB":>8}')
    for r in results:
        count, seconds, queries = r['count'], r['seconds'], r['queries']
        total = sum(seconds.values())
        api = api_calls(r['calls'])
        print(f'{count:>9} ' + ' '.join(f'{seconds[p]:>10.2f} {queries[p] / count:>7.1f}' for p in PHASES) +
              f' {total:>8.2f} {count / seconds["bills"]:>8.1f} {count / r["odoo_create_s"]:>8.1f} {r["exports"]:>8} {api:>9} {r["peak_mb"]:>8.0f}')
    for r in results:
        print(f'\nKSeF calls for {r["count"]} invoices ({r["runs"]["receive"]} receiving run(s), '
              f'{r["runs"]["bills"]} bill run(s), {r["vendors"]} vendors; product lines by account '
              f'{r["line_accounts"]}):')
        print_call_groups(r['calls'], PHASES)
    print("\nOdoo max: the bills per second of Odoo's own account.move create of the same bills alone (all its time "
          "in that call), the ceiling for the bills phase on this machine")
    print('\ntargets: at most 5 export calls for 10,000 invoices; at least 25 bills per second; under 500 MB; '
          'the downloads by the URLs KSeF gives are not API calls')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_arguments(parser, db='ksef_bench_recv', counts='1000,10000')
    parser.add_argument('--profile', choices=PHASES, help='print a cProfile of this phase (slower), kept in '
                                                           '/tmp/odoo_receive_PHASE_COUNT.prof')
    parser.add_argument('--prepare', action='store_true', help=argparse.SUPPRESS)   # internal: steps in children
    parser.add_argument('--measure', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--supply', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--base', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.supply:
        return supply(args.base, args.supply)
    if args.prepare:
        return prepare_company(args)
    if args.measure:
        return measure(args, args.measure)
    run_counts(__file__, args, lambda counts: ['--prepare'], 'Receiving', report, 'Odoo: KSeF -> draft vendor bills',
               PHASES)


if __name__ == '__main__':
    main()
