"""bench/all.py: the table of figures it writes from the benchmarks' runs."""
import argparse
import importlib.util
import pathlib

from ksef import limits

REPO = pathlib.Path(__file__).resolve().parents[2]


def load():
    spec = importlib.util.spec_from_file_location('bench_all', REPO / 'bench' / 'all.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(bench, count, seconds, queries=None, calls=None, peak=100.0):
    return {'bench': bench, 'count': count, 'seconds': seconds, 'queries': queries, 'calls': calls or {},
            'peak_mb': peak, 'note': ''}


def test_budget_is_the_busiest_group_share_of_its_hourly_limit():
    bench = load()
    online = limits.GROUPS['invoiceSend'].per_hour
    hours = bench.budget_hours({'invoiceSend': online * 2, 'batchSession': 1, 'upload/download (no limit)': 500})
    assert hours == 2.0
    assert bench.budget_hours({}) == 0.0


def test_table_rows_per_run_and_growth_per_benchmark():
    bench = load()
    lines = [run('Odoo: send', 100, 2.0, queries=1800, calls={'batchSession': 2, 'upload/download (no limit)': 1}),
             run('Odoo: send', 1000, 10.0, queries=17000, calls={'batchSession': 2}),
             run('FA(3)', 100, 0.1)]
    text = bench.table(lines, argparse.Namespace(counts='100,1000', odoo_python=None))
    rows = [line for line in text.splitlines() if line.startswith('| Odoo: send |')]
    assert rows[0].split('|')[2:6] == [' 100 ', ' 2.00 ', ' 50.0 ', ' 18.0 ']
    assert 'batchSession 20.0' in rows[0] and 'upload' not in rows[0], "unlimited transfers are not API calls"
    assert 'batchSession 2.0' in rows[1]
    growth = next(line for line in text.splitlines() if line.startswith('| Odoo: send | 100 -> 1,000'))
    assert '| 0.50 | 0.94 |' in growth, "time per invoice halved, queries per invoice 17 / 18"
    assert not any(line.startswith('| FA(3) | 100 -> ') for line in text.splitlines()), "one count: no growth row"
    assert 'Odoo benchmarks were left out' in text
