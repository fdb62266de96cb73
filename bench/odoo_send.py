"""Odoo sending benchmark: posted ten-line invoices from the queue to accepted by the KSeF emulator, for 100 and 1,000.

    ODOO_SRC=/opt/odoo/src $ODOO_PYTHON bench/odoo_send.py [--db ksef_bench_send] [--counts 100,1000] [--profile status]

Creates (once) a database with l10n_pl and this addon, a Polish company and the invoices (as bench/odoo_fa3.py).
Each count then runs in a fresh process of its own against a fresh emulator in another process (no rate limits,
no delays), after the invoices' KSeF history is wiped: enqueue (the FA(3) files frozen as outbox documents), send
(the sending cron: more invoices than the batch threshold go in one batch session), status (the status cron until
every invoice is accepted with its KSeF number and UPO). Prints wall time and SQL queries per invoice per phase,
the KSeF API calls per rate-limit group (KsefClient.call wrapped in this process) and the process's peak memory.
Targets (issue 7): 1,000 invoices under 60 s, SQL queries per invoice not growing with the count, under 20 API
calls for the whole 1,000-invoice run (one batch session).
"""
import argparse
import collections
import cProfile
import json
import pstats
import resource
import subprocess
import sys
import time

from odoo_fa3 import REPO, add_odoo_arguments, ensure_database, odoo_args, prepare

PHASES = ('enqueue', 'send', 'status')
NO_LIMIT = 'upload/download (no limit)'
AUTH = 'auth (per IP)'
SELLER_NIP = '5265877635'   # the benchmark company's NIP (bench/odoo_fa3.py)


def open_registry(args):
    sys.path.insert(0, args.odoo_src)
    import odoo
    odoo.tools.config.parse_config(odoo_args(args) + ['--log-level=warn'])
    return odoo, odoo.modules.registry.Registry(args.db)


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
    import requests
    token = requests.post(f'{base}/_emulator/tokens', timeout=5, json={
        'contextIdentifier': {'type': 'Nip', 'value': SELLER_NIP},
        'permissions': ['InvoiceWrite', 'InvoiceRead']}).json()['token']
    company.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{base}/v2',
                   'l10n_pl_ksef_token': token})   # also forgets the tokens cached for the previous emulator
    env.cr.commit()


def count_api_calls():
    """Wrap KsefClient.call (in this process only): {phase: Counter(group)}, and a function to set the phase."""
    from odoo.addons.l10n_pl_ksef.ksef import limits
    from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient
    calls, current = collections.defaultdict(collections.Counter), ['']
    original = KsefClient.call

    def call(self, method, template, **kwargs):
        group = NO_LIMIT if kwargs.get('url') else (limits.group_of(method, template) or AUTH)
        calls[current[0]][group] += 1
        return original(self, method, template, **kwargs)
    KsefClient.call = call
    return calls, lambda phase: current.__setitem__(0, phase)


def measure(args, count):
    odoo, registry = open_registry(args)
    from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_process
    calls, set_phase = count_api_calls()
    result = {'count': count, 'seconds': {}, 'queries': {}}
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
        profiler = cProfile.Profile()
        env.invalidate_all()

        def phase(name, work):
            set_phase(name)
            before, started = cr.sql_log_count, time.perf_counter()
            if name == args.profile:
                outcome = profiler.runcall(work)
            else:
                outcome = work()
            result['seconds'][name] = result['seconds'].get(name, 0) + time.perf_counter() - started
            result['queries'][name] = result['queries'].get(name, 0) + cr.sql_log_count - before
            return outcome

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
        result.update(polls=polls, sessions=len(set(documents.mapped('session_reference'))),
                      calls={name: dict(counter) for name, counter in calls.items()},
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.profile:
        print(f'\nProfile of the {args.profile} phase, {count} invoices (slowest first, cumulative):')
        profiler.dump_stats(f'/tmp/odoo_send_{args.profile}_{count}.prof')   # for pstats' callers / callees
        pstats.Stats(profiler, stream=sys.stdout).sort_stats('cumulative').print_stats(40)
    print('RESULT ' + json.dumps(result), flush=True)


def report(results):
    print('\nOdoo sending, posted ten-line invoices -> accepted by the KSeF emulator (own process, no limits):')
    print(f'{"invoices":>9} ' + ' '.join(f'{p + " s":>10} {"q/inv":>7}' for p in PHASES) +
          f' {"total s":>8} {"q/inv":>7} {"inv/s":>6} {"API calls":>9} {"peak MB":>8}')
    for r in results:
        count, seconds, queries = r['count'], r['seconds'], r['queries']
        total = sum(seconds.values())
        api = sum(n for groups in r['calls'].values() for g, n in groups.items() if g != NO_LIMIT)
        print(f'{count:>9} ' + ' '.join(f'{seconds[p]:>10.2f} {queries[p] / count:>7.1f}' for p in PHASES) +
              f' {total:>8.2f} {sum(queries.values()) / count:>7.1f} {count / total:>6.0f} {api:>9} '
              f'{r["peak_mb"]:>8.0f}')
    for r in results:
        print(f'\nKSeF calls for {r["count"]} invoices ({r["sessions"]} session(s), {r["polls"]} status run(s)):')
        groups = sorted({g for counter in r['calls'].values() for g in counter})
        print(f'  {"group":28} ' + ' '.join(f'{p:>8}' for p in PHASES) + f' {"total":>8}')
        for group in groups:
            numbers = [r['calls'].get(p, {}).get(group, 0) for p in PHASES]
            print(f'  {group:28} ' + ' '.join(f'{n:>8}' for n in numbers) + f' {sum(numbers):>8}')
    print('\ntargets: 1,000 invoices under 60 s; queries per invoice not growing with the count; under 20 API calls '
          'for 1,000 invoices (one batch session); the downloads by the URLs KSeF gives are not API calls')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_arguments(parser, db='ksef_bench_send', counts='100,1000')
    parser.add_argument('--profile', choices=PHASES, help='print a cProfile of this phase (slower), kept in '
                                                           '/tmp/odoo_send_PHASE_COUNT.prof')
    parser.add_argument('--prepare', type=int, help=argparse.SUPPRESS)   # internal: one step in a child process
    parser.add_argument('--measure', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        return prepare_invoices(args, args.prepare)
    if args.measure:
        return measure(args, args.measure)
    # every step in a process of its own, so that each count's peak memory is its own (this one imports no Odoo)
    counts = [int(c) for c in args.counts.split(',')]
    ensure_database(args)
    common = [sys.executable, __file__, '--odoo-src', args.odoo_src, '--db', args.db, '--db-host', args.db_host,
              '--db-port', str(args.db_port), '--db-user', args.db_user]
    if args.profile:
        common += ['--profile', args.profile]
    subprocess.run(common + ['--prepare', str(max(counts))], check=True, cwd=REPO)
    results = []
    for count in counts:
        print(f'Sending {count} invoices ...', flush=True)
        output = subprocess.run(common + ['--measure', str(count)], check=True, cwd=REPO, stdout=subprocess.PIPE,
                                text=True).stdout
        print(''.join(line + '\n' for line in output.splitlines() if not line.startswith('RESULT ')), end='')
        results.append(json.loads(next(line[7:] for line in output.splitlines() if line.startswith('RESULT '))))
    report(results)


if __name__ == '__main__':
    main()
