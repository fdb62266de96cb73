#!/usr/bin/env bash
# Every test: the pure tests of the ksef package (pytest), then the Odoo tests when an Odoo 18 is found
# (ODOO_SRC / ODOO_PYTHON, see scripts/odoo_tests.sh). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$REPO"

set +e
"$PY" -m pytest "$@"
pure_rc=$?
if [ "$pure_rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
fi
bash "$REPO/scripts/odoo_tests.sh"
odoo_rc=$?
set -e

echo
if [ "$pure_rc" -ne 0 ] || [ "$odoo_rc" -ne 0 ]; then
    echo "FAILED: pure tests exit code $pure_rc, Odoo tests exit code $odoo_rc"
    exit 1
fi
echo "All tests passed."
