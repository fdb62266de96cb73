"""Command line over the ksef package (no Odoo needed): ``python -m ksef --help``.

Exit codes: 0 success / valid, 1 invalid input found, 2 usage or environment error.
"""
import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import re
import sys
import time
from decimal import Decimal

from . import identifiers


def _json_default(value):
    if isinstance(value, Decimal):
        return format(value, 'f')
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise TypeError(f'cannot serialise {type(value).__name__}')


def to_json(invoice):
    return json.dumps(dataclasses.asdict(invoice), default=_json_default, ensure_ascii=False, indent=2)


def _read(path):
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(_fail(f'cannot read {path}: {exc.strerror}'))


def _fail(message):
    print(f'error: {message}', file=sys.stderr)
    return 2


def cmd_fa3_validate(args):
    from . import fa3
    invalid = 0
    for path in args.files:
        try:
            problems = fa3.validate(_read(path), args.schema_dir)
        except fa3.SchemaNotFound as exc:
            return _fail(str(exc))
        blocking = fa3.errors(problems) if not args.strict else problems
        for problem in problems:
            print(f'{path}:{problem.path}: {problem.severity}: [{problem.code}] {problem.message}')
        if blocking:
            invalid += 1
        elif not args.quiet:
            print(f'{path}: valid')
    return 1 if invalid else 0


def cmd_fa3_parse(args):
    from . import fa3
    from .errors import InvalidInvoiceError
    try:
        invoice = fa3.parse(_read(args.file))
    except InvalidInvoiceError as exc:
        for problem in exc.problems:
            print(f'{args.file}:{problem.path}: [{problem.code}] {problem.message}', file=sys.stderr)
        return 1
    print(to_json(invoice))
    return 0


def cmd_check_number(args):
    """Recognises KSeF numbers, NIPs (10 digits, PL prefix allowed) and internal IDs (NIP-NNNNN)."""
    value = args.number.strip()
    if len(value) >= 32 and value.count('-') >= 3:
        kind, reason = 'KSeF number', identifiers.check_ksef_number(value)
    elif re.fullmatch(r'[0-9]{10}-[0-9]{5}', value):
        kind, reason = 'internal ID', identifiers.check_internal_id(value)
    else:
        kind, value = 'NIP', identifiers.normalize_nip(value)
        reason = identifiers.check_nip(value)
    if reason:
        print(f'invalid {kind} {value}: {reason}')
        return 1
    print(f'valid {kind} {value}')
    return 0


def cmd_demo(args):
    """Build, validate and parse one sample invoice of every kind, and show what a bad one looks like."""
    from . import fa3
    from .fa3 import samples
    out = pathlib.Path(args.output) if args.output else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    try:
        fa3.load_schema(args.schema_dir)
    except fa3.SchemaNotFound as exc:
        return _fail(str(exc))
    print('FA(3) engine demonstration: build -> XSD + semantic validation -> parse -> compare')
    print(f'{"scenario":32} {"type":8} {"lines":>5} {"P_15":>12} {"bytes":>6}  result')
    failures = 0
    started = time.perf_counter()
    for name, invoice in samples.scenarios().items():
        xml = fa3.build(invoice)
        problems = fa3.validate(xml, args.schema_dir)
        same = fa3.parse(xml) == invoice
        ok = not fa3.errors(problems) and same and fa3.build(invoice) == xml
        failures += not ok
        result = 'valid, round trip identical' if ok else '; '.join(map(str, problems)) or 'round trip differs'
        print(f'{name:32} {invoice.body.invoice_type:8} {len(invoice.body.lines):>5} {invoice.body.total:>12} '
              f'{len(xml):>6}  {result}')
        if out:
            (out / f'{name}.xml').write_bytes(xml)
    elapsed = time.perf_counter() - started
    print(f'\n{len(samples.scenarios())} invoices built, validated and parsed in {elapsed:.2f} s'
          + (f'; XML written to {out}' if out else ''))
    broken = samples.scenarios()['vat_mixed_23_8_5']
    broken.seller.nip = '5265877636'
    broken.body.totals.net_basic += Decimal('1.00')
    print('\nA broken invoice (wrong NIP check digit, P_13_1 off by 1.00) is refused with:')
    for problem in fa3.validate(fa3.build(broken), args.schema_dir):
        print(f'  {problem}')
    if not args.no_emulator:
        failures += _demo_round_trip(args.schema_dir)
    return 1 if failures else 0


def _demo_round_trip(schema_dir):
    """Send invoices to the local emulator with the client (online and batch), read them back as the buyer."""
    import datetime
    from . import fa3, qr
    from .client import KsefClient, custom_environment
    from .emulator.process import emulator_thread
    from .fa3 import samples
    with emulator_thread(auth_delay=0, invoice_delay=0, schema_dir=schema_dir) as (app, base):
        print(f'\nKSeF round trip with the local emulator at {base}/v2 (real HTTP, real encryption):')
        service = app.service

        def token_for(nip):
            return service.admin_token(nip, ['InvoiceWrite', 'InvoiceRead'])
        client = KsefClient(custom_environment(f'{base}/v2'))
        seller = client.login_with_token('Nip', samples.SELLER_NIP, token_for(samples.SELLER_NIP))
        print(f'  logged in with a KSeF token in context Nip {samples.SELLER_NIP}')
        session = client.open_online_session(seller)
        scenarios = samples.scenarios()
        for index, name in enumerate(('vat_23', 'zero_wdt', 'kor_of_ksef_invoice')):
            scenarios[name].body.number = f'DEMO/{index + 1}/2026'
            xml = fa3.build(scenarios[name])
            sent = client.send_invoice(seller, session, xml)
            status = client.invoice_status(seller, session.reference_number, sent.reference_number)
            print(f'  online  {scenarios[name].body.number:14} {status["status"]["code"]} {status.get("ksefNumber")}')
        client.close_online_session(seller, session.reference_number)
        batch = [(f'{i}.xml', fa3.build(samples.ten_line_invoice(1000 + i))) for i in range(20)]
        reference = client.send_batch(seller, batch)
        accepted = sum(1 for s in client.session_invoices(seller, reference) if s['status']['code'] == 200)
        print(f'  batch   {len(batch)} invoices in one session: {accepted} accepted')
        service.clock.advance(5)
        buyer = client.login_with_token('Nip', samples.BUYER_NIP, token_for(samples.BUYER_NIP))
        start = service.clock.now() - datetime.timedelta(hours=1)
        found, _next = client.sync(buyer, 'Subject2', start)
        print(f'  the buyer {samples.BUYER_NIP} received {len(found)} invoices through an export')
        number, (metadata, xml) = next(iter(found.items()))
        link = qr.kod1_url('https://qr-test.ksef.mf.gov.pl', metadata['seller']['nip'],
                           datetime.date.fromisoformat(metadata['issueDate']), xml)
        print(f'  KOD I of {number}: {link}')
        return 0 if accepted == len(batch) and len(found) == len(batch) + 2 else 1


def operations_table(openapi_path):
    """Markdown table of every operation of open-api.json and whether the emulator implements it."""
    from .emulator import create_app
    with open(openapi_path, encoding='utf-8') as handle:
        document = json.load(handle)
    implemented = set(create_app().implemented_operations)
    rows = ['| operation | summary | emulator |', '|---|---|---|']
    for template, operations in document['paths'].items():
        for method, operation in operations.items():
            if method not in ('get', 'post', 'put', 'delete', 'patch'):
                continue
            summary = (operation.get('summary') or '').replace('|', '/').strip()
            done = 'yes' if (method.upper(), template) in implemented else 'not yet'
            rows.append(f'| `{method.upper()} {template}` | {summary} | {done} |')
    return '\n'.join(rows)


def cmd_emulator(args):
    """Run the local KSeF 2.0 emulator (loopback by default)."""
    from werkzeug.serving import run_simple
    from .emulator import create_app
    if args.list_operations:
        app = create_app(schema_dir=args.schema_dir)
        for method, template in app.implemented_operations:
            print(f'{method} {template}')
        return 0
    if args.operations_table:
        table = operations_table(args.operations_table)
        if args.write_doc:
            # the table is the end of the document, after the line that names this command
            path = pathlib.Path(args.write_doc)
            text = path.read_text(encoding='utf-8')
            marker = text.index('| operation | summary | emulator |')
            path.write_text(text[:marker] + table + '\n', encoding='utf-8')
        else:
            print(table)
        return 0
    base_url = f'http://{args.host}:{args.port}'
    app = create_app(base_url=base_url, schema_dir=args.schema_dir, auth_delay=args.auth_delay,
                     invoice_delay=args.invoice_delay)
    app.service.clock.speed = args.clock_speed
    app.enforce_limits = not args.no_rate_limits
    served = app
    if args.state:
        import atexit
        from .emulator.persistence import StateFile
        state_file = StateFile(app.service, args.state)
        restored = state_file.load()
        print(f'state {"restored from" if restored else "will be kept in"} {args.state}', flush=True)
        atexit.register(state_file.save, True)
        served = state_file.wrap(app)
    print(f'KSeF emulator on {base_url}/v2 (clock speed x{args.clock_speed}); Ctrl+C stops it', flush=True)
    from werkzeug.serving import WSGIRequestHandler
    WSGIRequestHandler.protocol_version = os.environ.get('KSEF_EMULATOR_HTTP', 'HTTP/1.1')
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # run the atexit save on a plain kill
    run_simple(args.host, args.port, served, threaded=True, use_reloader=False)
    return 0


# --- KSeF API commands (configured by flags or KSEF_* environment variables; secrets are never printed) ----

def _client(args):
    from .client import ENVIRONMENTS, KsefClient, custom_environment
    url = args.url or os.environ.get('KSEF_URL')
    environment = custom_environment(url) if url else ENVIRONMENTS[(args.env or os.environ.get('KSEF_ENV') or 'TEST').upper()]
    return KsefClient(environment)


def _login(args, client):
    from .client import Secret, load_signing_credentials
    context_type = args.context_type or os.environ.get('KSEF_CONTEXT_TYPE', 'Nip')
    context = args.context or os.environ.get('KSEF_CONTEXT')
    if not context:
        raise SystemExit(_fail('give the context (--context or KSEF_CONTEXT), e.g. the NIP'))
    token = os.environ.get('KSEF_TOKEN')   # only from the environment: command lines end up in shell histories
    credentials = args.credentials or os.environ.get('KSEF_CREDENTIALS')
    if token:
        return client.login_with_token(context_type, context, Secret(token))
    if credentials:
        key, certificate = load_signing_credentials(pathlib.Path(credentials).read_bytes(),
                                                    os.environ.get('KSEF_CREDENTIALS_PASSWORD'))
        return client.login_with_certificate(context_type, context, key, certificate)
    raise SystemExit(_fail('set KSEF_TOKEN, or KSEF_CREDENTIALS (PKCS#12 or PEM) with KSEF_CREDENTIALS_PASSWORD'))


def _api(function):
    """Run an API command; typed KSeF errors become one line on stderr and exit code 1."""
    def run(args):
        from .errors import KsefError
        try:
            return function(args)
        except KsefError as error:
            print(f'error: {error}', file=sys.stderr)
            return 1
    return run


@_api
def cmd_auth(args):
    client = _client(args)
    tokens = _login(args, client)
    print(f'authenticated in {tokens.context[0]} {tokens.context[1]}: access token valid until '
          f'{tokens.access.valid_until.isoformat()}, refresh token until {tokens.refresh.valid_until.isoformat()}')
    return 0


def _files(paths):
    found = []
    for path in map(pathlib.Path, paths):
        found += sorted(path.glob('*.xml')) if path.is_dir() else [path]
    return found


@_api
def cmd_send(args):
    client = _client(args)
    tokens = _login(args, client)
    files = _files(args.paths)
    if not files:
        return _fail('no XML files to send')
    failed = 0
    if args.batch or len(files) > args.batch_threshold:
        reference = client.send_batch(tokens, [(f.name, f.read_bytes()) for f in files], offline=args.offline)
        results = {s.get('invoiceFileName'): s for s in client.session_invoices(tokens, reference)}
        rows = [(f.name, results.get(f.name)) for f in files]
    else:
        session = client.open_online_session(tokens)
        sent = [(f.name, client.send_invoice(tokens, session, f.read_bytes(), offline=args.offline)) for f in files]
        client.close_online_session(tokens, session.reference_number)
        reference = session.reference_number
        rows = [(name, _final_status(client, tokens, reference, s.reference_number)) for name, s in sent]
    print(f'session {reference}')
    for name, status in rows:
        code = status['status']['code'] if status else None
        failed += code != 200
        outcome = status.get('ksefNumber') if code == 200 else f'{code} {status["status"]["description"]}' \
            + ''.join(f' | {d}' for d in status['status'].get('details', [])) if status else 'no status'
        print(f'{name}: {outcome}')
    return 1 if failed else 0


def _final_status(client, tokens, session, invoice, attempts=120):
    for _ in range(attempts):
        status = client.invoice_status(tokens, session, invoice)
        if status['status']['code'] not in (100, 150):
            return status
        client.sleep(client.poll_interval)
    return status


@_api
def cmd_status(args):
    client = _client(args)
    tokens = _login(args, client)
    data = client.invoice_status(tokens, args.session, args.invoice) if args.invoice \
        else client.session_status(tokens, args.session)
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


@_api
def cmd_upo(args):
    client = _client(args)
    tokens = _login(args, client)
    data = client.invoice_upo(tokens, args.session, args.invoice)
    pathlib.Path(args.output).write_bytes(data)
    print(f'UPO written to {args.output} ({len(data)} bytes)')
    return 0


@_api
def cmd_fetch(args):
    """Incremental download into a folder; the folder's .ksef-sync.json keeps the HWM and what is there."""
    client = _client(args)
    tokens = _login(args, client)
    folder = pathlib.Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / '.ksef-sync.json'
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    mark = state.get(args.subject, {}).get('next') or args.since
    if not mark:
        return _fail('give --since for the first fetch (ISO date-time)')
    known = set(state.get(args.subject, {}).get('known', []))
    found, following = client.sync(tokens, args.subject, mark, state=known)
    for number, (metadata, xml) in found.items():
        if xml:
            (folder / f'{number}.xml').write_bytes(xml)
        (folder / f'{number}.json').write_text(json.dumps(metadata, ensure_ascii=False, indent=2))
    # the mark moves in the same write as the list of what it covers
    state[args.subject] = {'next': following, 'known': sorted(known | set(found))}
    partial = state_file.with_suffix('.part')
    partial.write_text(json.dumps(state))
    os.replace(partial, state_file)
    print(f'{len(found)} new invoices in {folder}; next start {following}')
    return 0


def cmd_qr(args):
    from . import qr
    xml = _read(args.file)
    from .fa3 import codec
    invoice = codec.parse(xml)
    url = qr.kod1_url(args.qr_base, invoice.seller.nip, invoice.body.issue_date, xml)
    label = args.ksef_number or qr.LABEL_OFFLINE
    print(url)
    if args.output:
        pathlib.Path(args.output).write_bytes(qr.png(url, label) if args.output.endswith('.png') else
                                              qr.svg(url, label).encode())
    return 0


@_api
def cmd_tokens(args):
    client = _client(args)
    tokens = _login(args, client)
    if args.action == 'create':
        reference, secret = client.create_ksef_token(tokens, args.permissions.split(','), args.description)
        # the one place a secret is shown: the new token, once, on standard output only
        print(f'token {reference} (keep it secret, it is not shown again):\n{secret.reveal()}')
    elif args.action == 'revoke':
        client.revoke_ksef_token(tokens, args.reference)
        print(f'token {args.reference} revoked')
    else:
        for item in client.ksef_tokens(tokens):
            print(f'{item["referenceNumber"]}  {item["status"]:8}  {",".join(item["requestedPermissions"])}  '
                  f'{item["description"]}')
    return 0


@_api
def cmd_certificates(args):
    client = _client(args)
    tokens = _login(args, client)
    if args.action == 'enroll':
        from cryptography.hazmat.primitives import serialization
        key, certificate, serial = client.enroll_certificate(tokens, args.name, args.type, args.key_type)
        password = os.environ.get('KSEF_NEW_KEY_PASSWORD')
        if not password:
            return _fail('set KSEF_NEW_KEY_PASSWORD: the new private key is written encrypted')
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password.encode()))
        pathlib.Path(args.output).write_bytes(pem + certificate.public_bytes(serialization.Encoding.PEM))
        os.chmod(args.output, 0o600)
        print(f'certificate {serial} ({args.type}) and its encrypted key written to {args.output}')
    else:
        print(json.dumps(client.certificate_limits(tokens), indent=2))
    return 0


@_api
def cmd_permissions(args):
    """list KIND, grant (persons, by --subject-type/--subject and --permissions), revoke --id."""
    client = _client(args)
    tokens = _login(args, client)
    if args.action == 'grant':
        status = client.grant_permissions(tokens, 'persons', {
            'subjectIdentifier': {'type': args.subject_type, 'value': args.subject},
            'permissions': args.permissions.split(','), 'description': args.description,
            'subjectDetails': {'subjectDetailsType': 'PersonByIdentifier',
                               'personById': {'firstName': args.first_name, 'lastName': args.last_name}}})
        print(f'grant: {status["code"]} {status["description"]}')
        return 0 if status['code'] == 200 else 1
    if args.action == 'revoke':
        status = client.revoke_permission(tokens, args.id)
        print(f'revoke: {status["code"]} {status["description"]}')
        return 0 if status['code'] == 200 else 1
    body = {'queryType': 'PermissionsInCurrentContext'} if args.kind == 'persons' else {}
    print(json.dumps(client.query_permissions(tokens, args.kind, body), ensure_ascii=False, indent=2))
    return 0


@_api
def cmd_limits(args):
    client = _client(args)
    tokens = _login(args, client)
    print(json.dumps(client.rate_limits(tokens), indent=2))
    return 0


def _api_options(parser):
    parser.add_argument('--env', help='TEST, DEMO or PRD (or KSEF_ENV)')
    parser.add_argument('--url', help='another server, e.g. the emulator http://127.0.0.1:8765/v2 (or KSEF_URL)')
    parser.add_argument('--context-type', help='Nip, InternalId, NipVatUe or PeppolId (or KSEF_CONTEXT_TYPE)')
    parser.add_argument('--context', help='the context value, e.g. the NIP (or KSEF_CONTEXT)')
    parser.add_argument('--credentials', help='PKCS#12 or PEM file for a XAdES login (or KSEF_CREDENTIALS); '
                                              'the KSeF token comes from KSEF_TOKEN only')


def build_parser():
    parser = argparse.ArgumentParser(prog='python -m ksef', description='KSeF 2.0 tools of l10n_pl_ksef')
    sub = parser.add_subparsers(dest='command', required=True)

    fa3_parser = sub.add_parser('fa3', help='FA(3) invoices: validate, parse')
    fa3_sub = fa3_parser.add_subparsers(dest='fa3_command', required=True)
    validate = fa3_sub.add_parser('validate', help='validate FA(3) files (exit 0 only if all are valid)')
    validate.add_argument('files', nargs='+', metavar='FILE')
    validate.add_argument('--schema-dir', help='directory with the FA(3) XSD (default: $KSEF_SCHEMA_DIR)')
    validate.add_argument('--strict', action='store_true', help='treat warnings as errors')
    validate.add_argument('-q', '--quiet', action='store_true', help='print problems only')
    validate.set_defaults(func=cmd_fa3_validate)
    parse = fa3_sub.add_parser('parse', help='print an FA(3) file as JSON')
    parse.add_argument('file', metavar='FILE')
    parse.set_defaults(func=cmd_fa3_parse)

    check = sub.add_parser('check-number', help='check a KSeF number, NIP or internal ID')
    check.add_argument('number')
    check.set_defaults(func=cmd_check_number)

    emulator = sub.add_parser('emulator', help='run the local KSeF 2.0 emulator')
    emulator.add_argument('--host', default='127.0.0.1')
    emulator.add_argument('--port', type=int, default=8765)
    emulator.add_argument('--schema-dir')
    emulator.add_argument('--clock-speed', type=float, default=1.0, help='emulated seconds per real second')
    emulator.add_argument('--auth-delay', type=float, default=0.5, help='seconds until an authentication is final')
    emulator.add_argument('--invoice-delay', type=float, default=1.0, help='seconds until an invoice is processed')
    emulator.add_argument('--no-rate-limits', action='store_true', help='do not enforce the API rate limits')
    emulator.add_argument('--state', metavar='FILE', help='keep the state in FILE across restarts')
    emulator.add_argument('--list-operations', action='store_true', help='print the implemented operations and exit')
    emulator.add_argument('--operations-table', metavar='OPEN_API_JSON',
                          help='print the markdown coverage table of open-api.json and exit')
    emulator.add_argument('--write-doc', metavar='MARKDOWN', help='with --operations-table: replace the table in this file')
    emulator.set_defaults(func=cmd_emulator)

    auth = sub.add_parser('auth', help='log in and show how long the tokens last')
    _api_options(auth)
    auth.set_defaults(func=cmd_auth)
    send = sub.add_parser('send', help='send FA(3) files (a file or a folder): online, or batch for many')
    _api_options(send)
    send.add_argument('paths', nargs='+', metavar='FILE_OR_FOLDER')
    send.add_argument('--batch', action='store_true', help='always use a batch session')
    send.add_argument('--batch-threshold', type=int, default=20, help='batch above this many files (default 20)')
    send.add_argument('--offline', action='store_true', help='the invoices were issued in an offline mode')
    send.set_defaults(func=cmd_send)
    status = sub.add_parser('status', help='status of a session or of one invoice in it')
    _api_options(status)
    status.add_argument('session')
    status.add_argument('invoice', nargs='?')
    status.set_defaults(func=cmd_status)
    upo = sub.add_parser('upo', help='download the UPO of an invoice')
    _api_options(upo)
    upo.add_argument('session')
    upo.add_argument('invoice')
    upo.add_argument('--output', required=True)
    upo.set_defaults(func=cmd_upo)
    fetch = sub.add_parser('fetch', help='download new invoices incrementally into a folder')
    _api_options(fetch)
    fetch.add_argument('--subject', default='Subject2', choices=['Subject1', 'Subject2', 'Subject3', 'SubjectAuthorized'])
    fetch.add_argument('--since', help='where the first fetch starts (ISO date-time)')
    fetch.add_argument('--output', required=True)
    fetch.set_defaults(func=cmd_fetch)
    qr_parser = sub.add_parser('qr', help='KOD I link (and image) of an FA(3) file')
    qr_parser.add_argument('file')
    qr_parser.add_argument('--qr-base', default='https://qr.ksef.mf.gov.pl')
    qr_parser.add_argument('--ksef-number', help='label; OFFLINE when not given')
    qr_parser.add_argument('--output', help='.png or .svg')
    qr_parser.set_defaults(func=cmd_qr)
    tokens_parser = sub.add_parser('tokens', help='KSeF tokens: list, create, revoke')
    _api_options(tokens_parser)
    tokens_parser.add_argument('action', choices=['list', 'create', 'revoke'])
    tokens_parser.add_argument('--permissions', default='InvoiceRead,InvoiceWrite')
    tokens_parser.add_argument('--description', default='l10n_pl_ksef command line')
    tokens_parser.add_argument('--reference')
    tokens_parser.set_defaults(func=cmd_tokens)
    certificates = sub.add_parser('certificates', help='KSeF certificates: limits, enroll')
    _api_options(certificates)
    certificates.add_argument('action', choices=['limits', 'enroll'])
    certificates.add_argument('--name', default='l10n_pl_ksef')
    certificates.add_argument('--type', default='Authentication', choices=['Authentication', 'Offline'])
    certificates.add_argument('--key-type', default='ec', choices=['ec', 'rsa'])
    certificates.add_argument('--output', default='ksef-certificate.pem')
    certificates.set_defaults(func=cmd_certificates)
    permissions = sub.add_parser('permissions', help='permissions in the context: list, grant, revoke')
    _api_options(permissions)
    permissions.add_argument('action', choices=['list', 'grant', 'revoke'])
    permissions.add_argument('--kind', default='persons', choices=['persons', 'personal', 'entities', 'subunits',
                                                                   'authorizations', 'eu-entities', 'roles'])
    permissions.add_argument('--subject-type', default='Pesel', choices=['Nip', 'Pesel', 'Fingerprint'])
    permissions.add_argument('--subject')
    permissions.add_argument('--permissions', default='InvoiceRead')
    permissions.add_argument('--description', default='l10n_pl_ksef command line')
    permissions.add_argument('--first-name', default='')
    permissions.add_argument('--last-name', default='')
    permissions.add_argument('--id', help='the permission to revoke')
    permissions.set_defaults(func=cmd_permissions)
    limits_parser = sub.add_parser('limits', help='the API rate limits in force')
    _api_options(limits_parser)
    limits_parser.set_defaults(func=cmd_limits)

    demo = sub.add_parser('demo', help='demonstrate the FA(3) engine on sample invoices')
    demo.add_argument('--schema-dir')
    demo.add_argument('--output', help='write the sample XML files to this directory')
    demo.add_argument('--no-emulator', action='store_true', help='skip the round trip through the local emulator')
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)
