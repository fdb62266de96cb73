"""Odoo receiving benchmark: a back-fill of ten-line invoices from the KSeF emulator into draft vendor bills,
for 1,000 and 10,000.

    ODOO_SRC=/opt/odoo/src $ODOO_PYTHON bench/odoo_receive.py [--db ksef_bench_recv] [--counts 1000,10000]
                                                              [--runners 2] [--profile bills]

Creates (once) a database with l10n_pl and this addon and the benchmark company (as bench/odoo_fa3.py, NIP
5265877635). Each count then runs in a fresh process of its own against a fresh emulator in another process (no
rate limits, no delays): a third process (no Odoo) sends the invoices to the emulator as a few suppliers, one
batch session each, with the company as the buyer; then the company's earlier inbound documents and bills are
wiped, its buyer sync set to start before the invoices, and two phases measured: receive (the receiving cron,
run until every invoice is an inbound document: the exports) and bills (the bill-making cron, run until every
document has its draft vendor bill, by ``--runners`` processes at once as Odoo's cron threads run the addon's
bill-making scheduled actions: two by default, Odoo's default number of cron threads; 1 runs it in this process).
Prints wall time and SQL queries per bill per phase, bills per second, the KSeF API calls per rate-limit group
(KsefClient.call wrapped in this process) and the peak memory of the busiest process.
Targets: at most 5 export calls for 10,000 invoices; 10,000 invoices into draft bills within 10 minutes (issue 11;
issue 8 asked 25 bills per second); under 500 MB.
"""
import argparse
import collections
import datetime
import os
import resource
import subprocess
import sys
import time

from odoo_bench import (Phases, api_calls, child_command, child_result, count_api_calls, emulator_token, open_registry,
                        print_call_groups, print_result, run_counts, time_odoo_create)
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
            if args.runners == 1 or args.profile:
                while Document.search_count(domain + [('state', '=', 'received')]):
                    runs['bills'] += 1
                    phase('bills', Document._cron_l10n_pl_ksef_create_bills)
                    assert time.monotonic() < deadline, 'the bills do not progress'
                odoo_create_s, runners_peak_mb = in_odoo_create[0], 0
            else:
                cr.commit()   # nothing of this transaction may hold what the runners lock
                runners = run_bill_runners(args, phases)
                runs['bills'] = sum(r['runs'] for r in runners)
                odoo_create_s = sum(r['odoo_create_s'] for r in runners) / len(runners)
                runners_peak_mb = max(r['peak_mb'] for r in runners)
                cr.commit()   # a new snapshot: what the runners committed
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
            result.update(odoo_create_s=odoo_create_s, runners=1 if args.profile else args.runners,
                          seconds=phases.seconds, queries=phases.queries, runs=dict(runs), line_accounts=line_accounts, exports=exports,
                          vendors=len(documents.move_id.commercial_partner_id),
                          calls={name: dict(counter) for name, counter in calls.items()},
                          peak_mb=max(runners_peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    phases.print_profile('odoo_receive', count)
    print_result(result)


def run_bill_runners(args, phases):
    """The bills phase by ``args.runners`` processes at once, each running the bill-making cron until no
    document waits (as Odoo's cron threads, on this or other servers): its wall time and the runners' queries
    go to ``phases``; each runner's figures are returned."""
    command = child_command(__file__, args, '--bill-runner')
    started = time.perf_counter()
    children = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) for _n in range(args.runners)]
    outputs = [child.communicate()[0] for child in children]
    phases.seconds['bills'] += time.perf_counter() - started
    assert all(child.returncode == 0 for child in children), 'a bill runner failed'
    runners = [child_result(output) for output in outputs]
    phases.queries['bills'] += sum(r['queries'] for r in runners)
    return runners


def bill_runner(args):
    """One cron thread's share of the bills phase: the bill-making cron, again while documents wait."""
    odoo, registry = open_registry(args)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        in_odoo_create = time_odoo_create(env, 'account.move')
        Document = env['l10n_pl_ksef.document']
        runs, queries, deadline = 0, 0, time.monotonic() + 1800
        waiting = [('direction', '=', 'in'), ('state', '=', 'received')]
        while True:
            cr.commit()   # a new snapshot: what the other runners committed
            left = Document.search_count(waiting)
            if not left:
                break
            runs += 1
            before = cr.sql_log_count
            Document._cron_l10n_pl_ksef_create_bills()
            queries += cr.sql_log_count - before
            cr.commit()
            if Document.search_count(waiting) == left:
                time.sleep(0.5)   # all it found was the other runners' (Odoo triggers the cron again later)
            assert time.monotonic() < deadline, 'the bills do not progress'
    print_result({'pid': os.getpid(), 'runs': runs, 'queries': queries, 'odoo_create_s': in_odoo_create[0],
                  'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


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
    print(f"\nbills by {results[0]['runners']} runner(s) at once (Odoo's cron threads). Odoo max: the bills per second "
          "if the runners spent all their time in Odoo's own account.move create of the same bills (the ceiling of "
          "the bills phase on this machine)")
    print('\ntargets: at most 5 export calls for 10,000 invoices; 10,000 invoices into draft bills within 10 minutes; '
          'under 500 MB; the downloads by the URLs KSeF gives are not API calls')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_arguments(parser, db='ksef_bench_recv', counts='1000,10000')
    parser.add_argument('--profile', choices=PHASES, help='print a cProfile of this phase (slower), kept in '
                                                           '/tmp/odoo_receive_PHASE_COUNT.prof')
    parser.add_argument('--runners', type=int, default=2, help="processes making bills at once (Odoo's cron "
                                                                   "threads; default 2, 1 = in the measuring process)")
    parser.add_argument('--prepare', action='store_true', help=argparse.SUPPRESS)   # internal: steps in children
    parser.add_argument('--bill-runner', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--measure', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--supply', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--base', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.supply:
        return supply(args.base, args.supply)
    if args.prepare:
        return prepare_company(args)
    if args.bill_runner:
        return bill_runner(args)
    if args.measure:
        return measure(args, args.measure)
    run_counts(__file__, args, lambda counts: ['--prepare'], 'Receiving', report, 'Odoo: KSeF -> draft vendor bills',
               PHASES)


if __name__ == '__main__':
    main()
