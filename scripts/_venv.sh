# Sourced by run.sh and test.sh: a project virtualenv (~/.cache/l10n_pl_ksef/venv) with the libraries pinned to Odoo 18's own
# versions for Python 3.11 (requirements.txt), rebuilt only when the requirement files change.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Working files live outside the repository: Odoo scans an addon's whole folder (translations follow
# symlinks), so a virtualenv or an addons-path symlink inside it would be scanned too.
WORK_ROOT="${KSEF_WORK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/l10n_pl_ksef}"
VENV="${KSEF_VENV:-$WORK_ROOT/venv}"

find_python() {
    if [ -n "${KSEF_PYTHON:-}" ]; then echo "$KSEF_PYTHON"; return; fi
    for candidate in python3.11 python3.12 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 13))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    echo "error: Python 3.10 to 3.12 is needed (Odoo 18 runs on them); set KSEF_PYTHON" >&2
    exit 2
}

requirements_stamp() {
    cat "$REPO/requirements.txt" "$REPO/requirements-test.txt" | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    local stamp
    stamp="$(requirements_stamp)"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    echo "Setting up $VENV (pinned to Odoo 18's library versions)..."
    mkdir -p "$(dirname "$VENV")"
    "$(find_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REPO/requirements-test.txt"
    echo "$stamp" > "$VENV/.requirements"
}

# The FA(3) schemas are not copied into the repository: next to a checkout they are in ../shared.
default_spec_dir() {
    if [ -n "${KSEF_SPEC_DIR:-}" ]; then echo "$KSEF_SPEC_DIR"; return; fi
    echo "$(cd "$REPO/.." && pwd)/shared/ksef-spec"
}

ensure_venv
export KSEF_SPEC_DIR="$(default_spec_dir)"
if [ -z "${KSEF_SCHEMA_DIR:-}" ] && [ -d "$KSEF_SPEC_DIR/fa3" ]; then
    export KSEF_SCHEMA_DIR="$KSEF_SPEC_DIR/fa3"
fi
PY="$VENV/bin/python"
