#!/usr/bin/env bash
# Runs the addon's Odoo tests (tests/) in a real Odoo 18 with PostgreSQL: installs l10n_pl_ksef on fresh
# databases, once with demo data and the sale addon (down payments), once without either, and runs its tests.
#
# Odoo and PostgreSQL are found as on a user's server: ODOO_SRC, ODOO_PYTHON, ODOO_DB_* (see scripts/_odoo.sh).
#   ODOO_TEST_DEMO  "both" (default), "with" or "without" demo data
# Without an Odoo it says so plainly and exits 0.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

source "$REPO/scripts/_odoo.sh"
find_odoo
if [ -z "$SRC" ]; then
    echo "Odoo tests SKIPPED: $ODOO_MISSING; only the pure tests ran."
    exit 0
fi
# outside the repository (Odoo scans the addon folder, following symlinks), one folder per checkout
checkout_id="$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
WORK="${KSEF_WORK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/l10n_pl_ksef}/odoo-test-$checkout_id"
mkdir -p "$WORK/addons"
ln -sfn "$REPO" "$WORK/addons/l10n_pl_ksef"   # Odoo finds the addon by its folder name
ensure_db_role

drop_db() {
    "$ODOO_PY" - "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_PASSWORD" "$1" <<'PY'
import sys, psycopg2
host, port, user, password, db = sys.argv[1:6]
conn = psycopg2.connect(host=host, port=port, user=user, password=password or None, dbname='postgres')
conn.autocommit = True
conn.cursor().execute(f'DROP DATABASE IF EXISTS "{db}"')
PY
}

free_port() { "$ODOO_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

total_tests=0; total_failed=0; total_skipped=0; runs_failed=0
run_one() {
    local label="$1" db="$2"; shift 2
    local log="$WORK/$db.log"
    drop_db "$db" || { echo "Odoo tests ($label): cannot reach PostgreSQL at $DB_HOST:$DB_PORT as $DB_USER"; runs_failed=$((runs_failed+1)); return; }
    echo "Odoo tests ($label): installing l10n_pl_ksef with l10n_pl on a fresh database '$db' (log: $log)..."
    (cd "$SRC" && KSEF_SCHEMA_DIR="${KSEF_SCHEMA_DIR:-}" "$ODOO_PY" odoo-bin \
        --addons-path="$SRC/addons,$SRC/odoo/addons,$WORK/addons" \
        --db_host="$DB_HOST" --db_port="$DB_PORT" --db_user="$DB_USER" ${DB_PASSWORD:+--db_password="$DB_PASSWORD"} \
        -d "$db" -i "l10n_pl,l10n_pl_ksef${EXTRA_MODULES:+,$EXTRA_MODULES}" --test-enable --test-tags /l10n_pl_ksef \
        --http-interface=127.0.0.1 --http-port="$(free_port)" --stop-after-init --log-level=test \
        --max-cron-threads=0 "$@") > "$log" 2>&1
    local rc=$?
    local summary tests failed errors
    summary="$(grep -E '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$log" | tail -1 | sed -E 's/.*: ([0-9]+ failed.*)/\1/')"
    tests="$(echo "$summary" | sed -nE 's/.* of ([0-9]+) tests.*/\1/p')"; tests="${tests:-0}"
    failed="$(echo "$summary" | sed -nE 's/^([0-9]+) failed.*/\1/p')"; failed="${failed:-0}"
    errors="$(echo "$summary" | sed -nE 's/.*failed, ([0-9]+) error.*/\1/p')"; errors="${errors:-0}"
    local error_lines
    error_lines="$(grep -cE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$log")"
    # Odoo counts a skipped test as run: said apart, with its reason (e.g. no Chromium for the browser tour)
    local skipped
    skipped="$(grep -cE ' odoo\.addons\.l10n_pl_ksef\.tests\.[a-z0-9_]+: skipped ' "$log")"
    total_tests=$((total_tests + tests)); total_failed=$((total_failed + failed + errors))
    total_skipped=$((total_skipped + skipped))
    if [ "$rc" -ne 0 ] || [ "$tests" -eq 0 ] || [ "$failed" -ne 0 ] || [ "$errors" -ne 0 ] || [ "$error_lines" -ne 0 ]; then
        runs_failed=$((runs_failed + 1))
        echo "Odoo tests ($label): FAILED (exit $rc, ${summary:-no test summary}, $error_lines error lines). Last lines:"
        grep -E ' (ERROR|CRITICAL|FAIL) ' "$log" | head -40
        tail -20 "$log"
    else
        echo "Odoo tests ($label): $((tests - skipped)) passed, 0 failed, $skipped skipped."
        grep -E ' odoo\.addons\.l10n_pl_ksef\.tests\.[a-z0-9_]+: skipped ' "$log" | sed -E 's/.*: skipped /  skipped: /'
        # the reliability suite's figures (issue 12): faults injected, invoices, recoveries
        grep -E 'KSeF (fault run( \(receiving\))?: seed [0-9]+, [0-9]+ invoices all|kill test:)' "$log" | sed -E 's/.*(KSeF (fault run|kill test))/  \1/'
    fi
}

echo "Odoo 18: $SRC (Python: $ODOO_PY)"
# Odoo gives a browser 10 s to start; the very first Chromium start on a machine builds its font cache and can
# take longer, which would skip the browser tour: start it once beforehand
for browser in chromium chromium-browser google-chrome; do
    if command -v "$browser" >/dev/null 2>&1; then
        timeout 120 "$browser" --headless --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1
        break
    fi
done
case "${ODOO_TEST_DEMO:-both}" in
    with) EXTRA_MODULES=sale run_one "with demo data and sale" ksef_test_demo ;;
    without) EXTRA_MODULES= run_one "without demo data" ksef_test_nodemo --without-demo=all ;;
    *) EXTRA_MODULES=sale run_one "with demo data and sale" ksef_test_demo
       EXTRA_MODULES= run_one "without demo data" ksef_test_nodemo --without-demo=all ;;
esac
echo "Odoo: $((total_tests - total_failed - total_skipped)) passed, $total_failed failed, $total_skipped skipped"
[ -n "${ODOO_COUNTS_FILE:-}" ] && echo "$((total_tests - total_failed - total_skipped)) $total_failed $total_skipped" > "$ODOO_COUNTS_FILE"
[ "$runs_failed" -eq 0 ]
