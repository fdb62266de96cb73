"""FA(3) engine benchmark: build, validate and parse N ten-line invoices on one core.

    ~/.cache/l10n_pl_ksef/venv/bin/python bench/fa3.py [--count 10000]   (the venv ./scripts/test.sh makes)

Prints invoices per second for each phase and the peak memory of the process. Target (issue 2): build +
XSD validation of at least 300 invoices per second on one core.
"""
import argparse
import os
import pathlib
import platform
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from ksef import fa3  # noqa: E402
from ksef.fa3 import safe, samples, schema  # noqa: E402

import results  # noqa: E402 - bench/results.py


def timed(label, count, function, items):
    started = time.perf_counter()
    results = [function(item) for item in items]
    elapsed = time.perf_counter() - started
    print(f'{label:42} {count / elapsed:10,.0f} invoices/s   ({elapsed:6.2f} s)')
    return results, elapsed


def xsd_only(data):
    root, problems = safe.load(data)
    assert root is not None and not problems
    return schema.xsd_problems(root)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=10_000)
    parser.add_argument('--json', help='append the figures to this file (bench/all.py)')
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one core, as the target says
    fa3.load_schema()  # fail early when the schema directory is missing

    print(f'FA(3) benchmark: {args.count} ten-line invoices, Python {platform.python_version()}, '
          f'lxml {__import__("lxml").__version__}, one core of {platform.processor() or platform.machine()}')
    invoices = [samples.ten_line_invoice(i) for i in range(args.count)]
    built, t_build = timed('build (dataclasses -> XML bytes)', args.count, fa3.build, invoices)
    xsd, t_xsd = timed('XSD validation (bytes -> checked tree)', args.count, xsd_only, built)
    full, _ = timed('full validation (file + XSD + semantic)', args.count, fa3.validate, built)
    parsed, _ = timed('parse (XML bytes -> dataclasses)', args.count, fa3.parse, built)
    assert not any(xsd) and not any(full), 'a benchmark invoice is invalid'
    assert parsed[-1] == invoices[-1]
    print(f'{"build + XSD validation":42} {args.count / (t_build + t_xsd):10,.0f} invoices/s   (target >= 300)')
    results.record(args.json, 'FA(3) build + XSD validation (one core)', args.count, t_build + t_xsd)
    print(f'average invoice size: {sum(map(len, built)) / len(built):,.0f} bytes')
    print(f'peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB '
          f'(holding all {args.count} invoices as dataclasses, XML and parsed copies)')


if __name__ == '__main__':
    main()
