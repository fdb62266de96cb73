"""Odoo mapping benchmark: posted ten-line invoices -> validated FA(3) bytes, for 1, 100 and 1,000 invoices.

    ODOO_SRC=/opt/odoo/src $ODOO_PYTHON bench/odoo_fa3.py [--db ksef_bench] [--counts 1,100,1000]

Creates (once) a database with l10n_pl and this addon, a Polish company and the invoices, then prints SQL
queries and milliseconds per invoice for the mapping alone and for mapping + build + XSD validation.
Targets (issue 3): at least 100 invoices per second, at most 10 SQL queries per invoice.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time

import results  # noqa: E402 - bench/results.py

REPO = pathlib.Path(__file__).resolve().parents[1]


WORK = pathlib.Path(os.environ.get('KSEF_WORK_DIR') or
                    pathlib.Path(os.environ.get('XDG_CACHE_HOME', pathlib.Path.home() / '.cache')) / 'l10n_pl_ksef')
ADDONS = WORK / f'bench-addons-{REPO.name}'   # outside the repository (Odoo scans addon folders); one per checkout


def odoo_args(args):
    addons = f'{args.odoo_src}/addons,{args.odoo_src}/odoo/addons,{ADDONS}'
    return [f'--addons-path={addons}', f'--db_host={args.db_host}', f'--db_port={args.db_port}',
            f'--db_user={args.db_user}', '-d', args.db]


def add_odoo_arguments(parser, db, counts):
    """The options every Odoo benchmark takes: where Odoo and its database are, and the invoice counts."""
    parser.add_argument('--odoo-src', default=os.environ.get('ODOO_SRC', '/opt/odoo/src'))
    parser.add_argument('--db', default=db)
    parser.add_argument('--db-host', default=os.environ.get('ODOO_DB_HOST', '127.0.0.1'))
    parser.add_argument('--db-port', default=os.environ.get('ODOO_DB_PORT', '5432'))
    parser.add_argument('--db-user', default=os.environ.get('ODOO_DB_USER', 'odoo_ksef'))
    parser.add_argument('--counts', default=counts)
    parser.add_argument('--json', help='append the figures to this file (bench/all.py)')


def ensure_database(args):
    ADDONS.mkdir(parents=True, exist_ok=True)
    link = ADDONS / 'l10n_pl_ksef'
    if not link.exists():
        link.symlink_to(REPO)
    import psycopg2
    conn = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user, dbname='postgres')
    with conn.cursor() as cr:
        cr.execute('SELECT 1 FROM pg_database WHERE datname = %s', [args.db])
        exists = cr.fetchone()
    conn.close()
    mode = '-u' if exists else '-i'
    print(f'{"Updating" if exists else "Creating"} the benchmark database {args.db} ...', flush=True)
    subprocess.run([sys.executable, f'{args.odoo_src}/odoo-bin', *odoo_args(args), mode, 'l10n_pl,l10n_pl_ksef',
                    '--without-demo=all', '--stop-after-init', '--log-level=warn', '--http-port=0'],
                   check=True, cwd=args.odoo_src)


def prepare(env, count):
    from odoo import Command
    company = env['res.company'].search([('name', '=', 'KSeF Benchmark sp. z o.o.')], limit=1)
    if not company:
        # the chart is loaded below; no automatic install of the country's other modules (account_peppol)
        company = env['res.company'].with_context(chart_template_load=True).create({
            'name': 'KSeF Benchmark sp. z o.o.', 'country_id': env.ref('base.pl').id, 'vat': 'PL5265877635',
            'street': 'ul. Marszałkowska 1', 'zip': '00-001', 'city': 'Warszawa'})
        env['account.chart.template'].try_loading('pl', company=company, install_demo=False)
    env = env(context=dict(env.context, allowed_company_ids=[company.id]))
    chart = env['account.chart.template'].with_company(company)
    taxes = [chart.ref(x) for x in ('vs_kraj_23', 'vs_kraj_8', 'vs_kraj_5')]
    partner = env['res.partner'].search([('vat', '=', 'PL6808208874'), ('name', '=', 'Bench Buyer')], limit=1) or \
        env['res.partner'].create({'name': 'Bench Buyer', 'vat': 'PL6808208874', 'country_id': env.ref('base.pl').id,
                                   'street': 'ul. Długa 5', 'zip': '31-147', 'city': 'Kraków'})
    product = env['product.product'].search([('default_code', '=', 'BENCH')], limit=1) or \
        env['product.product'].create({'name': 'Towar', 'default_code': 'BENCH'})
    domain = [('company_id', '=', company.id), ('move_type', '=', 'out_invoice'), ('state', '=', 'posted')]
    existing = env['account.move'].search_count(domain)
    missing = count - existing
    started = time.perf_counter()
    while missing > 0:
        batch = min(missing, 100)
        moves = env['account.move'].create([{
            'move_type': 'out_invoice', 'partner_id': partner.id, 'invoice_date': '2026-11-02',
            'invoice_line_ids': [Command.create({
                'product_id': product.id, 'name': f'Towar {n}', 'quantity': n + 1, 'price_unit': 10.5 + n,
                'tax_ids': [Command.set(taxes[n % 3].ids)]}) for n in range(10)],
        } for _ in range(batch)])
        moves.action_post()
        env.cr.commit()
        missing -= batch
        print(f'  posted {count - missing}/{count} invoices', flush=True)
    if existing < count:
        print(f'  ({time.perf_counter() - started:.0f} s to create and post them; not part of the figures)')
    return env['account.move'].search(domain, limit=count, order='id')


def measure(env, ids, schema_dir):
    from odoo.addons.l10n_pl_ksef.ksef import fa3
    moves = env['account.move'].browse(ids)
    moves._l10n_pl_ksef_get_fa3_invoices()   # warm registry caches (access rules, translations)
    env.invalidate_all()
    before, started = env.cr.sql_log_count, time.perf_counter()
    invoices = moves._l10n_pl_ksef_get_fa3_invoices()
    mapped = time.perf_counter()
    queries = env.cr.sql_log_count - before
    problems = 0
    for invoice in invoices.values():
        xml = fa3.build(invoice)
        problems += len(fa3.schema.xsd_problems(fa3.to_element(invoice), schema_dir))
        assert xml
    done = time.perf_counter()
    assert problems == 0, f'{problems} XSD problems in the benchmark invoices'
    return queries, mapped - started, done - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_odoo_arguments(parser, db='ksef_bench', counts='1,100,1000')
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(',')]
    ensure_database(args)
    sys.path.insert(0, args.odoo_src)
    import odoo
    odoo.tools.config.parse_config(odoo_args(args) + ['--log-level=warn'])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        moves = prepare(env, max(counts))
        schema_dir = env['account.move']._l10n_pl_ksef_schema_dir()
        print(f'\nOdoo {odoo.release.version}, posted ten-line invoices (23/8/5 %) -> FA(3):')
        print(f'{"invoices":>9} {"queries":>8} {"queries/inv":>12} {"map ms/inv":>11} {"map+build+XSD ms/inv":>21} '
              f'{"invoices/s":>11}')
        for count in counts:
            queries, map_time, total = measure(env, moves.ids[:count], schema_dir)
            results.record(args.json, 'Odoo: posted invoice -> validated FA(3)', count, total, queries=queries)
            print(f'{count:>9} {queries:>8} {queries / count:>12.2f} {map_time * 1000 / count:>11.2f} '
                  f'{total * 1000 / count:>21.2f} {count / total:>11.0f}')
        print('targets: >= 100 invoices/s, <= 10 queries per invoice; queries must not grow with the count')


if __name__ == '__main__':
    main()
