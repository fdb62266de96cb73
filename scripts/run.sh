#!/usr/bin/env bash
# The main job. For now: a demonstration of the FA(3) engine (build, validate and parse one sample invoice
# of every kind, show how a broken one is refused), then a round trip through the local KSeF emulator with the
# client (token login, online and batch sending, the buyer's export, KOD I). Arguments go to `python -m ksef demo`.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$REPO"
exec "$PY" -m ksef demo "$@"
