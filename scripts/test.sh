#!/usr/bin/env bash
# Every test: the pure tests of the ksef package (pytest), then the Odoo tests when an Odoo 18 is found
# (ODOO_SRC / ODOO_PYTHON, see scripts/odoo_tests.sh). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$REPO"
RUN_DIR="$WORK_ROOT/test-run"
mkdir -p "$RUN_DIR"
counts="$RUN_DIR/counts"
rm -f "$counts"

set +e
"$PY" -m pytest "$@" 2>&1 | tee "$RUN_DIR/pytest.out"
pure_rc=${PIPESTATUS[0]}
[ "$pure_rc" -eq 5 ] && echo "error: pytest collected no tests" >&2
ODOO_COUNTS_FILE="$counts" bash "$REPO/scripts/odoo_tests.sh"
odoo_rc=$?

summary="$(grep -E '[0-9]+ (passed|failed|errors?|skipped).* in [0-9.]+s' "$RUN_DIR/pytest.out" | tail -1)"
pure_passed="$(echo "$summary" | sed -nE 's/(^|.*[^0-9])([0-9]+) passed.*/\2/p')"
pure_failed="$(echo "$summary" | sed -nE 's/(^|.*[^0-9])([0-9]+) failed.*/\2/p')"
pure_errors="$(echo "$summary" | sed -nE 's/(^|.*[^0-9])([0-9]+) errors?.*/\2/p')"
pure_skipped="$(echo "$summary" | sed -nE 's/(^|.*[^0-9])([0-9]+) skipped.*/\2/p')"
{ read -r odoo_passed odoo_failed odoo_skipped < "$counts"; } 2>/dev/null || { odoo_passed=0; odoo_failed=0; }
skipped=$(( ${pure_skipped:-0} + ${odoo_skipped:-0} ))
passed=$(( ${pure_passed:-0} + odoo_passed ))
failed=$(( ${pure_failed:-0} + ${pure_errors:-0} + odoo_failed ))

echo
if [ "$pure_rc" -ne 0 ] || [ "$odoo_rc" -ne 0 ]; then
    echo "FAILED: pure tests exit code $pure_rc, Odoo tests exit code $odoo_rc"
    echo "all: $passed passed, $((failed > 0 ? failed : 1)) failed, $skipped skipped"
    exit 1
fi
echo "all: $passed passed, $failed failed, $skipped skipped"
