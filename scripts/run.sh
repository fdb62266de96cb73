#!/usr/bin/env bash
# The main job. For now: a demonstration of the FA(3) engine (build, validate and parse one sample invoice
# of every kind, then show how a broken one is refused). Arguments go to `python -m ksef demo`.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$REPO"
exec "$PY" -m ksef demo "$@"
