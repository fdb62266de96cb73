"""Odoo sending benchmark: posted ten-line invoices from the queue to accepted by the KSeF emulator, for 100 and 1,000.

    ODOO_SRC=/opt/odoo/src $ODOO_PYTHON bench/odoo_send.py [--db ksef_bench_send] [--counts 100,1000] [--clicks 20]
                                                           [--profile status]

Creates (once) a database with l10n_pl and this addon, a Polish company and the invoices (as bench/odoo_fa3.py).
Each count then runs in a fresh process of its own against a fresh emulator in another process (no rate limits,
no delays), after the invoices' KSeF history is wiped: enqueue (the FA(3) files frozen as outbox documents), send
(the sending cron: more invoices than the batch threshold go in one batch session), status (the status cron until
every invoice is accepted with its KSeF number and UPO). Prints wall time and SQL queries per invoice per phase,
the KSeF API calls per rate-limit group (KsefClient.call wrapped in this process) and the process's peak memory.
Targets (issue 7): 1,000 invoices under 60 s, SQL queries per invoice not growing with the count, under 20 API
calls for the whole 1,000-invoice run (one batch session); issue 11: 10,000 invoices from posted to accepted
within 10 minutes and one hour of KSeF budget.

Then ``--clicks`` accountant's clicks on "Send to KSeF", one invoice each, each in a transaction of its own as an
HTTP request (online session, the outcome asked once): per click its wall time and its Odoo time (wall time less
the time spent waiting on KSeF: its HTTP calls and the pauses it imposes). Target (issue 11): under 1 s of Odoo time.
"""
import argparse
import resource
import statistics
import subprocess
import time

from odoo_bench import (Phases, api_calls, child_command, child_result, count_api_calls, emulator_token, open_registry,
                        print_call_groups, print_result, run_counts, time_in_ksef)
from odoo_fa3 import add_odoo_arguments, prepare

PHASES = ('enqueue', 'send', 'status')
SELLER_NIP = '5265877635'   # the benchmark company's NIP (bench/odoo_fa3.py)


def prepare_invoices(args, count):
    odoo, registry = open_registry(args)
    with registry.cursor() as cr:
        prepare(odoo.api.Environment(cr, odoo.SUPERUSER_ID, {}), count)


def wipe_ksef_history(env, company, base):
    """The benchmark invoices as if never sent, and the company connected to the new emulator."""
    moves = env['account.move'].search([('company_id', '=', company.id)])
    documents = env['l10n_pl_ksef.document'].search([('company_id', '=', company.id)])
    attachments = documents.attachment_id | documents.upo_attachment_id
    env.cr.execute("""
        DELETE FROM mail_message
         WHERE model = 'account.move' AND res_id IN %s
           AND (body::text ILIKE '%%KSeF%%' OR id IN (SELECT v.mail_message_id FROM mail_tracking_value v
                                                        JOIN ir_model_fields f ON f.id = v.field_id
                                                       WHERE f.name = 'l10n_pl_ksef_state'))
    """, [tuple(moves.ids) or (0,)])
    env.cr.execute("DELETE FROM l10n_pl_ksef_document WHERE company_id = %s", [company.id])
    env.cr.execute("""UPDATE account_move SET l10n_pl_ksef_state = NULL,
                             l10n_pl_ksef_number = NULL, l10n_pl_ksef_acquisition_date = NULL
                       WHERE company_id = %s""", [company.id])
    env.invalidate_all()
    attachments.unlink()
    token = emulator_token(base, SELLER_NIP)
    company.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{base}/v2',
                   'l10n_pl_ksef_token': token})   # also forgets the tokens cached for the previous emulator
    env.cr.commit()


def measure(args, count):
    odoo, registry = open_registry(args)
    from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_process
    calls, set_phase = count_api_calls()
    result = {'count': count}
    with emulator_process('--no-rate-limits', '--auth-delay', '0', '--invoice-delay', '0') as base, \
            registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env['res.company'].search([('name', '=', 'KSeF Benchmark sp. z o.o.')], limit=1)
        wipe_ksef_history(env, company, base)
        env = env(context=dict(env.context, allowed_company_ids=company.ids))
        moves = env['account.move'].search([('company_id', '=', company.id), ('move_type', '=', 'out_invoice'),
                                            ('state', '=', 'posted')], limit=count, order='id')
        assert len(moves) == count, f'{len(moves)} invoices in the database, {count} wanted'
        Document = env['l10n_pl_ksef.document']
        phases = Phases(cr, set_phase, args.profile)
        phase = phases.run
        env.invalidate_all()

        documents, problems = phase('enqueue', moves._l10n_pl_ksef_enqueue)
        assert not problems and len(documents) == count, f'{len(documents)} queued, problems: {problems}'
        phase('send', Document._cron_l10n_pl_ksef_send)
        polls, deadline = 0, time.monotonic() + 600
        while True:
            polls += 1
            phase('status', Document._cron_l10n_pl_ksef_update_status)
            cr.execute("SELECT state, count(*) FROM l10n_pl_ksef_document WHERE id IN %s GROUP BY state",
                       [tuple(documents.ids)])
            states = dict(cr.fetchall())
            if states == {'accepted': count}:
                break
            assert set(states) <= {'sending', 'sent', 'accepted'} and time.monotonic() < deadline, states
            time.sleep(0.1)   # KSeF (the emulator) still processing: the next status run
        env.invalidate_all()
        assert set(moves.mapped('l10n_pl_ksef_state')) == {'accepted'}
        assert all(moves.mapped('l10n_pl_ksef_number')) and all(documents.mapped('upo_attachment_id'))
        assert set(documents.mapped('session_type')) == ({'batch'} if count > company.l10n_pl_ksef_batch_threshold
                                                         else {'online'})
        result.update(seconds=phases.seconds, queries=phases.queries,
                      polls=polls, sessions=len(set(documents.mapped('session_reference'))),
                      calls={name: dict(counter) for name, counter in calls.items()},
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    phases.print_profile('odoo_send', count)
    print_result(result)


def measure_clicks(args, clicks):
    """``clicks`` single-invoice "Send to KSeF" clicks, each in its own transaction, on invoices never sent."""
    odoo, registry = open_registry(args)
    from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_process
    in_ksef = time_in_ksef()
    rows = []
    with emulator_process('--no-rate-limits', '--auth-delay', '0', '--invoice-delay', '0') as base:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            company = env['res.company'].search([('name', '=', 'KSeF Benchmark sp. z o.o.')], limit=1)
            wipe_ksef_history(env, company, base)
            move_ids = env['account.move'].search([('company_id', '=', company.id), ('move_type', '=', 'out_invoice'),
                                                   ('state', '=', 'posted')], limit=clicks, order='id').ids
        for move_id in move_ids:
            with registry.cursor() as cr:   # one HTTP request
                env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {'allowed_company_ids': company.ids})
                started, before, queries = time.perf_counter(), in_ksef[0], cr.sql_log_count
                env['account.move'].browse(move_id).action_l10n_pl_ksef_send()
                cr.commit()
                wall = time.perf_counter() - started
                rows.append({'wall': wall, 'ksef': in_ksef[0] - before, 'queries': cr.sql_log_count - queries,
                             'state': env['account.move'].browse(move_id).l10n_pl_ksef_state})
    print_result({'clicks': rows, 'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def report_clicks(result):
    rows = result['clicks']
    odoo_times = [r['wall'] - r['ksef'] for r in rows]
    print(f'\nOne "Send to KSeF" click per invoice, {len(rows)} clicks (own transaction each, online session):')
    print(f'{"click":>6} {"wall s":>8} {"KSeF s":>8} {"Odoo s":>8} {"queries":>8}  state')
    for n, r in enumerate(rows, 1):
        print(f'{n:>6} {r["wall"]:>8.3f} {r["ksef"]:>8.3f} {r["wall"] - r["ksef"]:>8.3f} {r["queries"]:>8}  {r["state"]}')
    print(f'Odoo time per click: first {odoo_times[0]:.3f} s (logs in), then median '
          f'{statistics.median(odoo_times[1:] or odoo_times):.3f} s, max {max(odoo_times):.3f} s; target under 1 s')


def run_clicks(args):
    print(f'Sending {args.clicks} invoices by single clicks ...', flush=True)
    output = subprocess.run(child_command(__file__, args, '--measure-clicks', str(args.clicks)), check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    result = child_result(output)
    report_clicks(result)
    rows = result['clicks']
    import results as figures
    figures.record(args.json, 'Odoo: one "Send to KSeF" click (online)', len(rows), sum(r['wall'] for r in rows),
                   queries=sum(r['queries'] for r in rows), peak=result['peak_mb'],
                   extra={'odoo_seconds': [r['wall'] - r['ksef'] for r in rows]})


def report(results):
    print('\nOdoo sending, posted ten-line invoices -> accepted by the KSeF emulator (own process, no limits):')
    print(f'{"invoices":>9} ' + ' '.join(f'{p + " s":>10} {"q/inv":>7}' for p in PHASES) +
          f' {"total s":>8} {"q/inv":>7} {"inv/s":>6} {"API calls":>9} {"peak MB":>8}')
    for r in results:
        count, seconds, queries = r['count'], r['seconds'], r['queries']
        total = sum(seconds.values())
        api = api_calls(r['calls'])
        print(f'{count:>9} ' + ' '.join(f'{seconds[p]:>10.2f} {queries[p] / count:>7.1f}' for p in PHASES) +
              f' {total:>8.2f} {sum(queries.values()) / count:>7.1f} {count / total:>6.0f} {api:>9} '
              f'{r["peak_mb"]:>8.0f}')
    for r in results:
        print(f'\nKSeF calls for {r["count"]} invoices ({r["sessions"]} session(s), {r["polls"]} status run(s)):')
        print_call_groups(r['calls'], PHASES)
    print('\ntargets: 1,000 invoices under 60 s; queries per invoice not growing with the count; under 20 API calls '
          'for 1,000 invoices (one batch session); the downloads by the URLs KSeF gives are not API calls')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_arguments(parser, db='ksef_bench_send', counts='100,1000')
    parser.add_argument('--profile', choices=PHASES, help='print a cProfile of this phase (slower), kept in '
                                                           '/tmp/odoo_send_PHASE_COUNT.prof')
    parser.add_argument('--prepare', type=int, help=argparse.SUPPRESS)   # internal: one step in a child process
    parser.add_argument('--clicks', type=int, default=20, help='single "Send to KSeF" clicks measured after the '
                                                                  'counts (0: none)')
    parser.add_argument('--measure', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--measure-clicks', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        return prepare_invoices(args, args.prepare)
    if args.measure:
        return measure(args, args.measure)
    if args.measure_clicks:
        return measure_clicks(args, args.measure_clicks)
    counts = [int(c) for c in args.counts.split(',')]
    run_counts(__file__, args, lambda counts: ['--prepare', str(max(counts + [args.clicks]))], 'Sending', report,
               'Odoo: posted -> accepted by KSeF (batch)', PHASES)
    if args.clicks:
        run_clicks(args)


if __name__ == '__main__':
    main()
