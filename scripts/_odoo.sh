# Sourced by odoo_tests.sh and run.sh: finding an existing Odoo 18 the way a user's server has it, and the
# PostgreSQL role. Odoo is taken from the environment:
#   ODOO_SRC     Odoo 18 source tree (the folder with odoo-bin); default: the first of /opt/odoo/src,
#                /opt/odoo, /srv/odoo, ~/odoo, ../odoo, ../odoo-18.0 that holds Odoo 18
#   ODOO_PYTHON  an interpreter that can import Odoo's requirements; default: a venv beside or inside
#                ODOO_SRC (venv, .venv, ../venv), else python3
#   ODOO_DB_HOST, ODOO_DB_PORT, ODOO_DB_USER, ODOO_DB_PASSWORD  (default 127.0.0.1, 5432, odoo_ksef, none)
# After `find_odoo`: SRC and ODOO_PY are set, or empty with ODOO_MISSING saying what is needed.
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

is_odoo18() { [ -f "$1/odoo-bin" ] && grep -qE "^version_info = \(18, 0" "$1/odoo/release.py" 2>/dev/null; }

find_odoo_src() {
    if [ -n "${ODOO_SRC:-}" ]; then
        is_odoo18 "$ODOO_SRC" && echo "$ODOO_SRC"
        return
    fi
    for candidate in /opt/odoo/src /opt/odoo /srv/odoo "$HOME/odoo" "$REPO/../odoo" "$REPO/../odoo-18.0"; do
        if is_odoo18 "$candidate"; then (cd "$candidate" && pwd); return; fi
    done
}

can_run_odoo() {
    (cd "$1" && "$2" -c 'import odoo.release, psycopg2, werkzeug, lxml, babel, PyPDF2, reportlab' >/dev/null 2>&1)
}

find_odoo_python() {
    local src="$1"
    if [ -n "${ODOO_PYTHON:-}" ]; then
        can_run_odoo "$src" "$ODOO_PYTHON" && echo "$ODOO_PYTHON"
        return
    fi
    for candidate in "$src/venv/bin/python" "$src/.venv/bin/python" "$src/../venv/bin/python" python3; do
        if can_run_odoo "$src" "$candidate"; then echo "$candidate"; return; fi
    done
}

DB_HOST="${ODOO_DB_HOST:-127.0.0.1}"
DB_PORT="${ODOO_DB_PORT:-5432}"
DB_USER="${ODOO_DB_USER:-odoo_ksef}"
DB_PASSWORD="${ODOO_DB_PASSWORD:-}"

find_odoo() {
    SRC="$(find_odoo_src)" || SRC=""; ODOO_PY=""; ODOO_MISSING=""
    if [ -z "$SRC" ]; then
        ODOO_MISSING="no Odoo 18 source tree found (set ODOO_SRC to the folder with odoo-bin${ODOO_SRC:+; $ODOO_SRC is not Odoo 18})"
        return
    fi
    ODOO_PY="$(find_odoo_python "$SRC")" || ODOO_PY=""
    if [ -z "$ODOO_PY" ]; then
        ODOO_MISSING="Odoo 18 found in $SRC, but no Python that can import its requirements (set ODOO_PYTHON)"
        SRC=""
    fi
}

# Odoo refuses to run as 'postgres', so use our own role, created if we are allowed to.
ensure_db_role() {
    "$ODOO_PY" - "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_PASSWORD" <<'PY'
import sys, psycopg2
host, port, user, password = sys.argv[1:5]
try:
    psycopg2.connect(host=host, port=port, user=user, password=password or None, dbname='postgres').close()
    sys.exit(0)
except psycopg2.OperationalError:
    pass
try:
    conn = psycopg2.connect(host=host, port=port, user='postgres', dbname='postgres')
    conn.autocommit = True
    conn.cursor().execute(f'CREATE ROLE "{user}" LOGIN CREATEDB' + (" PASSWORD %s" if password else ""),
                          (password,) if password else None)
    print(f"Created the PostgreSQL role {user}.")
except psycopg2.Error as exc:
    print(f"warning: cannot create the PostgreSQL role {user}: {exc}".strip())
PY
}
