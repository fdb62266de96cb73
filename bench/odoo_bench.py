"""What the Odoo benchmarks (odoo_send.py, odoo_receive.py) share: opening Odoo, counting KSeF calls per rate-limit
group, timing phases with their SQL queries, and one child process per invoice count (its own peak memory)."""
import collections
import cProfile
import json
import pstats
import subprocess
import sys
import time

from odoo_fa3 import REPO, odoo_args

NO_LIMIT = 'upload/download (no limit)'
AUTH = 'auth (per IP)'


def open_registry(args):
    sys.path.insert(0, args.odoo_src)
    import odoo
    odoo.tools.config.parse_config(odoo_args(args) + ['--log-level=warn'])
    return odoo, odoo.modules.registry.Registry(args.db)


def emulator_token(base, nip, permissions=('InvoiceWrite', 'InvoiceRead')):
    if str(REPO) not in sys.path:   # also called where no Odoo is loaded (the supplier's process)
        sys.path.insert(0, str(REPO))
    from ksef.emulator.process import emulator_token as mint
    return mint(base, nip, permissions)['token']


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


def time_odoo_create(env, model):
    """Wrap ``model``'s create in this process: a list whose first item sums the seconds spent in it (Odoo's own
    work, what the benchmarked code cannot make faster), nested creates of the same model counted once."""
    from odoo import api
    cls, spent, depth = type(env[model]), [0.0], [0]
    original = cls.create

    @api.model_create_multi
    def create(self, vals_list):
        depth[0] += 1
        started = time.perf_counter()
        try:
            return original(self, vals_list)
        finally:
            depth[0] -= 1
            if not depth[0]:
                spent[0] += time.perf_counter() - started
    cls.create = create
    return spent


def time_in_ksef():
    """Wrap KsefClient (in this process): a list whose first item sums the seconds spent waiting on KSeF, in its
    HTTP calls and in the pauses KSeF imposes (polls, Retry-After): what is not Odoo's time."""
    from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient
    spent = [0.0]
    original_call, original_init = KsefClient.call, KsefClient.__init__

    def call(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original_call(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        sleep = self.sleep

        def timed_sleep(seconds):
            started = time.perf_counter()
            try:
                return sleep(seconds)
            finally:
                spent[0] += time.perf_counter() - started
        self.sleep = timed_sleep
    KsefClient.call, KsefClient.__init__ = call, init
    return spent


class Phases:
    """Seconds and SQL queries per phase (summed over repeated runs), one phase under cProfile on request."""

    def __init__(self, cr, set_phase, profiled=None):
        self.cr, self.set_phase, self.profiled = cr, set_phase, profiled
        self.seconds, self.queries = collections.Counter(), collections.Counter()
        self.profiler = cProfile.Profile()

    def run(self, name, work):
        self.set_phase(name)
        before, started = self.cr.sql_log_count, time.perf_counter()
        outcome = self.profiler.runcall(work) if name == self.profiled else work()
        self.seconds[name] += time.perf_counter() - started
        self.queries[name] += self.cr.sql_log_count - before
        return outcome

    def print_profile(self, bench, count):
        if not self.profiled:
            return
        print(f'\nProfile of the {self.profiled} phase, {count} invoices (slowest first, cumulative):')
        self.profiler.dump_stats(f'/tmp/{bench}_{self.profiled}_{count}.prof')   # for pstats' callers / callees
        pstats.Stats(self.profiler, stream=sys.stdout).sort_stats('cumulative').print_stats(40)


def record_results(path, bench, results, phases):
    """The children's RESULTs as bench/all.py lines: time and queries summed over ``phases``, calls summed over
    the phases by group."""
    import results as figures
    for r in results:
        calls = collections.Counter()
        for groups in r['calls'].values():
            calls.update(groups)
        figures.record(path, bench, r['count'], sum(r['seconds'][p] for p in phases),
                       queries=sum(r['queries'][p] for p in phases), calls=calls, peak=r['peak_mb'])


def print_result(result):
    print('RESULT ' + json.dumps(result), flush=True)


def print_call_groups(calls, phases):
    groups = sorted({g for counter in calls.values() for g in counter})
    print(f'  {"group":28} ' + ' '.join(f'{p:>8}' for p in phases) + f' {"total":>8}')
    for group in groups:
        numbers = [calls.get(p, {}).get(group, 0) for p in phases]
        print(f'  {group:28} ' + ' '.join(f'{n:>8}' for n in numbers) + f' {sum(numbers):>8}')


def api_calls(calls):
    return sum(n for groups in calls.values() for g, n in groups.items() if g != NO_LIMIT)


def run_counts(script, args, prepare, label, report, bench, phases):
    """The parent's part of an Odoo benchmark: the database, the preparation (``prepare(counts)``: its child's
    arguments), one child per count, the printed report and the figures for bench/all.py."""
    from odoo_fa3 import ensure_database
    counts = [int(c) for c in args.counts.split(',')]
    ensure_database(args)
    results = run_in_children(script, args, counts, prepare(counts), label)
    report(results)
    record_results(args.json, bench, results, phases)


def child_command(script, args, *options):
    """The command that runs ``script`` in a process of its own on the benchmark's Odoo and database."""
    return [sys.executable, script, '--odoo-src', args.odoo_src, '--db', args.db, '--db-host', args.db_host,
            '--db-port', str(args.db_port), '--db-user', args.db_user, *options]


def child_result(output):
    """The RESULT a child printed (print_result)."""
    return json.loads(next(line[7:] for line in output.splitlines() if line.startswith('RESULT ')))


def run_in_children(script, args, counts, prepare, label):
    """Prepare, then measure each count in a process of its own (so each count's peak memory is its own); this
    process imports no Odoo. Returns the RESULT of every count."""
    common = child_command(script, args)
    if args.profile:
        common += ['--profile', args.profile]
    if getattr(args, 'runners', None):
        common += ['--runners', str(args.runners)]
    subprocess.run(common + prepare, check=True, cwd=REPO)
    results = []
    for count in counts:
        print(f'{label} {count} invoices ...', flush=True)
        output = subprocess.run(common + ['--measure', str(count)], check=True, cwd=REPO, stdout=subprocess.PIPE,
                                text=True).stdout
        print(''.join(line + '\n' for line in output.splitlines() if not line.startswith('RESULT ')), end='')
        results.append(child_result(output))
    return results
