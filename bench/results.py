"""Machine-readable figures of the benchmarks (`--json FILE`): one JSON line per measured run, read by
bench/all.py to write the table. Standard library only (the pure and the Odoo benchmarks both use it)."""
import json
import resource


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record(path, bench, count, seconds, *, queries=None, calls=None, peak=None, note='', extra=None):
    """Append one run: ``bench`` (its name in the table), ``count`` invoices in ``seconds``, SQL ``queries``
    (total, or None without a database), KSeF API ``calls`` {rate-limit group: number}, ``peak`` MB, and
    ``extra`` figures a target needs (e.g. the Odoo time of each click)."""
    if not path:
        return
    line = {'bench': bench, 'count': count, 'seconds': seconds, 'queries': queries, 'calls': dict(calls or {}),
            'peak_mb': peak_mb() if peak is None else peak, 'note': note, **(extra or {})}
    with open(path, 'a', encoding='utf-8') as out:
        out.write(json.dumps(line) + '\n')
