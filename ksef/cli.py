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
    elif re.fullmatch(r'\d{10}-\d{5}', value):
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
    return 1 if failures else 0


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

    demo = sub.add_parser('demo', help='demonstrate the FA(3) engine on sample invoices')
    demo.add_argument('--schema-dir')
    demo.add_argument('--output', help='write the sample XML files to this directory')
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)
