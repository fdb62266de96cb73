#!/usr/bin/env bash
# The main job: a working Odoo with KSeF invoices flowing, against the local KSeF emulator.
#
# With an Odoo 18 (ODOO_SRC / ODOO_PYTHON, or found where scripts/_odoo.sh looks) and PostgreSQL: starts the
# emulator, creates or reuses the demo database (l10n_pl + this addon, in Polish) with a demo company connected to
# the emulator, customers, suppliers, invoices sent and received, then serves Odoo on 127.0.0.1 and prints the URL
# and the login (scripts/odoo_demo.py; `--no-serve` prepares everything and stops). Running it twice does no harm.
# Without an Odoo it says what it needs and runs the stand-alone demonstration of the FA(3) engine and the client
# layer against the emulator (`python -m ksef demo`; arguments go to it).
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$REPO"
source "$REPO/scripts/_odoo.sh"
find_odoo
if [ -z "$SRC" ]; then
    echo "The Odoo demonstration needs an Odoo 18: $ODOO_MISSING."
    echo "Give it ODOO_SRC (the Odoo 18.0 source folder with odoo-bin) and ODOO_PYTHON (a Python 3.10-3.12 that can"
    echo "import Odoo's requirements.txt), and PostgreSQL on 127.0.0.1:5432 (ODOO_DB_HOST, ODOO_DB_PORT, ODOO_DB_USER,"
    echo "ODOO_DB_PASSWORD). Meanwhile, the stand-alone demonstration of the client layer against the KSeF emulator:"
    echo
    exec "$PY" -m ksef demo "$@"
fi
ensure_db_role
exec "$ODOO_PY" "$REPO/scripts/odoo_demo.py" --odoo-src "$SRC" --ksef-python "$PY" \
    --db-host "$DB_HOST" --db-port "$DB_PORT" --db-user "$DB_USER" ${DB_PASSWORD:+--db-password "$DB_PASSWORD"} "$@"
