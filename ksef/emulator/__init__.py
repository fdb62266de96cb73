"""A local KSeF 2.0 emulator: real HTTP (Werkzeug WSGI), real crypto, the documented limits, faults on demand.

    python -m ksef emulator --host 127.0.0.1 --port 8765

See doc/emulator.md for what it implements.
"""
from .app import API_PREFIX, EmulatorApp, create_app
from .service import KsefService, Options
from .state import Clock
