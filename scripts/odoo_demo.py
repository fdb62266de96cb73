"""The Odoo demonstration behind ./scripts/run.sh: a working Odoo with KSeF invoices flowing, in minutes.

    ODOO_PYTHON scripts/odoo_demo.py --odoo-src SRC --ksef-python PY [--no-serve]

1. starts the local KSeF emulator (its state kept in the work folder, so the demo company's KSeF token, invoices
   and KSeF numbers survive a restart), on 127.0.0.1:8765 or a free port;
2. creates the database (l10n_pl, this addon, Polish) or updates the addon in it when its files changed;
3. makes the main company a Polish demo company connected to the emulator with a KSeF token, adds customers,
   suppliers and products, issues invoices and a credit note and sends them to KSeF (until accepted), and has
   the suppliers issue invoices to the company in KSeF, received and turned into draft vendor bills;
4. starts Odoo on 127.0.0.1 and prints the URL and the login (Ctrl+C stops Odoo and the emulator).

Idempotent: a second run reuses the database and the emulator's state, issues nothing twice (each step looks
for what it made before) and only re-points the company at the emulator when its port changed.
Environment: KSEF_DEMO_DB (ksef_demo), KSEF_DEMO_PORT (8069), KSEF_DEMO_EMULATOR_PORT (8765), ODOO_DB_HOST,
ODOO_DB_PORT, ODOO_DB_USER, ODOO_DB_PASSWORD, KSEF_WORK_DIR.
"""
import argparse
import datetime
import hashlib
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
WORK_ROOT = pathlib.Path(os.environ.get('KSEF_WORK_DIR') or
                         pathlib.Path(os.environ.get('XDG_CACHE_HOME', pathlib.Path.home() / '.cache')) / 'l10n_pl_ksef')
sys.path.insert(0, str(REPO))
from ksef.emulator.process import emulator_token, free_port  # noqa: E402 - the addon's pure package

WORK = WORK_ROOT / f'demo-{hashlib.sha256(str(REPO).encode()).hexdigest()[:12]}'   # outside the addon (Odoo scans it)

COMPANY = {'name': 'Demo KSeF sp. z o.o.', 'nip': '8291445129', 'street': 'ul. Marszałkowska 10', 'zip': '00-590',
           'city': 'Warszawa', 'email': 'biuro@demo-ksef.example', 'phone': '+48 22 123 45 67'}
CUSTOMERS = [
    ('6808208874', 'Nowak Handel S.A.', 'ul. Długa 5/7', '31-147', 'Kraków'),
    ('5137966391', 'Zielony Ogród sp. z o.o.', 'ul. Ogrodowa 3', '60-101', 'Poznań'),
    ('8594491252', 'Bałtyk Logistyka sp. j.', 'ul. Portowa 12', '80-001', 'Gdańsk'),
]
SUPPLIERS = [
    ('7740001454', 'Hurtownia Papiernicza Orlen-Biuro S.A.', 'ul. Chemików 7', '09-411', 'Płock'),
    ('1132191233', 'Serwis IT Kowalczyk sp. z o.o.', 'ul. Grochowska 21', '04-186', 'Warszawa'),
    ('5213017228', 'Energia Mazowsze S.A.', 'ul. Prosta 36', '00-838', 'Warszawa'),
]
DEMO_PERMISSIONS = ('InvoiceWrite', 'InvoiceRead', 'CredentialsManage', 'CredentialsRead')
PRODUCTS = [('DEMO-USL', 'Usługa wdrożeniowa', 950.0, 'vs_kraj_23'), ('DEMO-KSI', 'Podręcznik KSeF', 89.0, 'vs_kraj_5'),
            ('DEMO-KAW', 'Kawa ziarnista 1 kg', 79.0, 'vs_kraj_8')]


def database_args(args):
    return [f'--db_host={args.db_host}', f'--db_port={args.db_port}', f'--db_user={args.db_user}'] + (
        [f'--db_password={args.db_password}'] if args.db_password else [])


def odoo_command(args, *extra):
    addons = f'{args.odoo_src}/addons,{args.odoo_src}/odoo/addons,{WORK / "addons"}'
    return [sys.executable, f'{args.odoo_src}/odoo-bin', f'--addons-path={addons}', *database_args(args),
            '-d', args.db, *extra]


# --- 1. the emulator ------------------------------------------------------------------------------------

def start_emulator(args):
    import requests
    port = free_port(int(os.environ.get('KSEF_DEMO_EMULATOR_PORT', 8765)))
    log = open(WORK / 'emulator.log', 'ab')   # noqa: SIM115 - open for the emulator's lifetime
    process = subprocess.Popen([args.ksef_python, '-m', 'ksef', 'emulator', '--port', str(port),
                                '--state', str(WORK / 'emulator.state')], cwd=REPO, stdout=log, stderr=log)
    base = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f'{base}/latarnia/status', timeout=2)
            return process, base
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                sys.exit(f'The KSeF emulator did not start: see {WORK / "emulator.log"}')
            time.sleep(0.2)


# --- 2. the database ------------------------------------------------------------------------------------

def addon_stamp():
    """A digest of the addon's files: the addon is updated in the database when it changes."""
    digest = hashlib.sha256()
    for path in sorted(REPO.rglob('*')):
        if path.is_file() and '.git' not in path.parts and '__pycache__' not in path.parts:
            digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
    return digest.hexdigest()


def ensure_database(args):
    import psycopg2
    connection = psycopg2.connect(host=args.db_host, port=args.db_port, user=args.db_user,
                                  password=args.db_password or None, dbname='postgres')
    with connection.cursor() as cr:
        cr.execute('SELECT 1 FROM pg_database WHERE datname = %s', [args.db])
        exists = bool(cr.fetchone())
    connection.close()
    stamp_file, stamp = WORK / f'{args.db}.stamp', addon_stamp()
    if exists and stamp_file.exists() and stamp_file.read_text() == stamp:
        print(f'Database {args.db}: up to date.', flush=True)
        return
    print(f'Database {args.db}: {"updating the addon" if exists else "creating it (a few minutes)"} ...', flush=True)
    mode = ['-u', 'l10n_pl_ksef'] if exists else ['-i', 'l10n_pl,l10n_pl_ksef', '--without-demo=all']
    with open(WORK / 'odoo-install.log', 'wb') as log:
        done = subprocess.run(odoo_command(args, *mode, '--load-language=pl_PL', '--stop-after-init',
                                           '--http-port=0', '--max-cron-threads=0'), cwd=args.odoo_src,
                              stdout=log, stderr=log)
    if done.returncode:
        sys.exit(f'Odoo could not {"update" if exists else "create"} the database: see {WORK / "odoo-install.log"}')
    stamp_file.write_text(stamp)


# --- 3. the demo data -----------------------------------------------------------------------------------

def set_up(args, base):
    sys.path.insert(0, args.odoo_src)
    import odoo
    odoo.tools.config.parse_config(odoo_command(args)[2:] + ['--log-level=warn'])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = demo_company(env)
        env = env(context=dict(env.context, allowed_company_ids=[company.id], lang='pl_PL'))
        company = company.with_env(env)
        connect(env, company, base)
        cr.commit()
        partners = {nip: partner(env, nip, name, street, zip_code, city)
                    for nip, name, street, zip_code, city in CUSTOMERS + SUPPLIERS}
        cr.commit()
        sent = issue_invoices(env, company, partners)
        cr.commit()
        bills = receive_invoices(env, company, base)
        cr.commit()
        return sent, bills


def demo_company(env):
    company = env.ref('base.main_company')
    if company.vat != f'PL{COMPANY["nip"]}':
        company.write({'name': COMPANY['name'], 'vat': f'PL{COMPANY["nip"]}', 'country_id': env.ref('base.pl').id,
                       'street': COMPANY['street'], 'zip': COMPANY['zip'], 'city': COMPANY['city'],
                       'email': COMPANY['email'], 'phone': COMPANY['phone']})
    if not company.external_report_layout_id:   # else Odoo asks for a document layout before the first Send
        company.external_report_layout_id = env.ref('web.external_layout_standard')
    if company.chart_template != 'pl':   # a new database gives a company without a country the generic chart
        env['account.chart.template'].try_loading('pl', company=company, install_demo=False)
    env['res.lang']._activate_lang('pl_PL')
    admin = env.ref('base.user_admin')
    if admin.lang != 'pl_PL':
        admin.write({'lang': 'pl_PL', 'tz': 'Europe/Warsaw'})
    return company


def connect(env, company, base):
    """Connected to the emulator with a KSeF token; a new token only when the stored one is refused (the
    emulator's state was removed)."""
    from odoo.exceptions import UserError
    url = f'{base}/v2'
    values = {'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': url}
    if company.l10n_pl_ksef_custom_url != url or company.l10n_pl_ksef_environment != 'custom':
        company.write(values)
    if not company.l10n_pl_ksef_receive_from:
        company.l10n_pl_ksef_receive_from = datetime.date.today() - datetime.timedelta(days=7)
    if company.sudo().l10n_pl_ksef_token:
        try:
            company._l10n_pl_ksef_run(lambda client, tokens: tokens)
            return
        except UserError:
            pass
    company.write({'l10n_pl_ksef_token': emulator_token(base, COMPANY['nip'], DEMO_PERMISSIONS)['token']})
    company._l10n_pl_ksef_run(lambda client, tokens: tokens)   # raises, with KSeF's answer, if it still fails


def partner(env, nip, name, street, zip_code, city):
    found = env['res.partner'].search([('vat', '=', f'PL{nip}')], limit=1)
    return found or env['res.partner'].create({
        'name': name, 'is_company': True, 'vat': f'PL{nip}', 'country_id': env.ref('base.pl').id,
        'street': street, 'zip': zip_code, 'city': city, 'lang': 'pl_PL'})


def issue_invoices(env, company, partners):
    """Four invoices and a credit note to the customers, sent to KSeF and followed until accepted (the first
    run only: the demo's invoices carry the reference 'KSeF demo')."""
    from odoo import Command
    Move = env['account.move']
    done = Move.search([('company_id', '=', company.id), ('move_type', 'in', ('out_invoice', 'out_refund')),
                        ('ref', '=like', 'KSeF demo%')])
    if done:
        states = ', '.join(f'{m.name}: {m.l10n_pl_ksef_state or "-"}' for m in done)
        print(f'  invoices of earlier runs: {states}', flush=True)
        return done
    chart = env['account.chart.template'].with_company(company)
    products = [env['product.product'].search([('default_code', '=', code)], limit=1) or
                env['product.product'].create({'name': name, 'default_code': code, 'list_price': price,
                                               'taxes_id': [Command.set(chart.ref(tax).ids)]})
                for code, name, price, tax in PRODUCTS]
    customers = [partners[nip] for nip, *_rest in CUSTOMERS]
    invoices = Move.create([{
        'move_type': 'out_invoice', 'partner_id': customer.id, 'invoice_date': datetime.date.today(),
        'ref': f'KSeF demo {number}',
        'invoice_line_ids': [Command.create({'product_id': product.id, 'quantity': quantity})
                             for product, quantity in zip(products, (number, 2 * number, 3))],
    } for number, customer in enumerate(customers + customers[:1], start=1)])
    invoices.action_post()
    send_and_wait(env, invoices)
    credit_note = invoices[0]._reverse_moves([{'ref': 'KSeF demo credit note', 'invoice_date': datetime.date.today()}])
    credit_note.invoice_line_ids[1:].unlink()   # only the first line returned
    credit_note.action_post()
    send_and_wait(env, credit_note)
    return invoices | credit_note


def send_and_wait(env, moves, timeout=120):
    moves.action_l10n_pl_ksef_send()
    env.cr.commit()
    Document = env['l10n_pl_ksef.document']
    deadline = time.monotonic() + timeout
    while moves.filtered(lambda m: m.l10n_pl_ksef_state not in ('accepted', 'rejected')):
        if time.monotonic() > deadline:
            print('  (KSeF has not answered for every invoice yet: the scheduled actions will follow them)')
            return
        time.sleep(1)
        Document._cron_l10n_pl_ksef_update_status()
        env.cr.commit()
        env.invalidate_all()
    states = ', '.join(f'{m.name}: {m.l10n_pl_ksef_state} {m.l10n_pl_ksef_number or ""}'.strip() for m in moves)
    print(f'  sent to KSeF: {states}', flush=True)


def receive_invoices(env, company, base):
    """The suppliers issue invoices to the company in KSeF (the first run only), then the company's receiving
    and bill making run as their scheduled actions would."""
    Document = env['l10n_pl_ksef.document']
    received = [('company_id', '=', company.id), ('direction', '=', 'in')]
    if not Document.search_count(received):
        supply(base)
        deadline = time.monotonic() + 120
        while Document.search_count(received) < 2 * len(SUPPLIERS) and time.monotonic() < deadline:
            env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
            env.cr.commit()
            time.sleep(1)
        Document._cron_l10n_pl_ksef_create_bills()
        env.cr.commit()
    documents = Document.search(received)
    print(f'  received from KSeF: {len(documents)} invoices, {len(documents.move_id)} draft vendor bills', flush=True)
    return documents.move_id


def supply(base):
    """Two invoices from every supplier to the demo company, issued in an online session each."""
    import dataclasses
    from odoo.addons.l10n_pl_ksef.ksef import fa3
    from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient, Secret, custom_environment
    from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
    client = KsefClient(custom_environment(f'{base}/v2'))
    buyer = samples.polish_buyer(nip=COMPANY['nip'], name=COMPANY['name'])
    today = datetime.date.today()
    for number, (nip, name, *_address) in enumerate(SUPPLIERS, start=1):
        tokens = client.login_with_token('Nip', nip, Secret(emulator_token(base, nip)['token']))
        session = client.open_online_session(tokens)
        for index in (number, number + 10):
            invoice = samples.ten_line_invoice(index)
            invoice = dataclasses.replace(
                invoice, seller=samples.seller(nip=nip, name=name), buyer=buyer,
                body=dataclasses.replace(invoice.body, number=f'FV/{index}/{today:%m/%Y}', issue_date=today))
            client.send_invoice(tokens, session, fa3.build(invoice))
        client.close_online_session(tokens, session.reference_number)
    time.sleep(2)   # the emulator stores them after its processing delay


# --- 4. serving -----------------------------------------------------------------------------------------

def serve(args, emulator):
    port = free_port(int(os.environ.get('KSEF_DEMO_PORT', 8069)))
    print(f'\nOdoo with KSeF: http://127.0.0.1:{port}/odoo   login: admin   password: admin (database {args.db})\n'
          f'KSeF emulator:  {emulator}/v2 (state in {WORK / "emulator.state"})\n'
          f'Logs: {WORK / "odoo.log"}, {WORK / "emulator.log"}.  Ctrl+C stops Odoo and the emulator.', flush=True)
    with open(WORK / 'odoo.log', 'ab') as log:
        server = subprocess.Popen(odoo_command(args, '--http-interface=127.0.0.1', f'--http-port={port}',
                                               f'--db-filter=^{args.db}$'), cwd=args.odoo_src, stdout=log,
                                  stderr=log)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait(timeout=30)
            return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--odoo-src', required=True)
    parser.add_argument('--ksef-python', default=sys.executable, help='the Python that runs the emulator')
    parser.add_argument('--db', default=os.environ.get('KSEF_DEMO_DB', 'ksef_demo'))
    parser.add_argument('--db-host', default=os.environ.get('ODOO_DB_HOST', '127.0.0.1'))
    parser.add_argument('--db-port', default=os.environ.get('ODOO_DB_PORT', '5432'))
    parser.add_argument('--db-user', default=os.environ.get('ODOO_DB_USER', 'odoo_ksef'))
    parser.add_argument('--db-password', default=os.environ.get('ODOO_DB_PASSWORD', ''))
    parser.add_argument('--no-serve', action='store_true', help='prepare everything, then stop (no Odoo server)')
    args = parser.parse_args()
    (WORK / 'addons').mkdir(parents=True, exist_ok=True)
    link = WORK / 'addons' / 'l10n_pl_ksef'
    if not link.is_symlink() or link.resolve() != REPO:
        link.unlink(missing_ok=True)
        link.symlink_to(REPO)   # Odoo finds the addon by its folder name
    emulator, base = start_emulator(args)
    try:
        print(f'KSeF emulator: {base}/v2', flush=True)
        ensure_database(args)
        print('Demo company, customers, suppliers, invoices sent to and received from KSeF ...', flush=True)
        set_up(args, base)
        if args.no_serve:
            print(f'Ready (not serving: --no-serve). Database {args.db}; run without --no-serve to start Odoo.')
            return 0
        return serve(args, base)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == '__main__':
    sys.exit(main())
