"""Run the emulator in its own process on a free loopback port (benchmarks, demos, tests of the CLI)."""
import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def emulator_process(*options, timeout=20):
    """Yields the emulator's base URL (http://127.0.0.1:PORT; the API is under /v2); stops it afterwards."""
    import requests
    port = free_port()
    process = subprocess.Popen([sys.executable, '-m', 'ksef', 'emulator', '--port', str(port), *options],
                               cwd=REPO, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(f'{base}/latarnia/status', timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError('the emulator did not start') from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def emulator_thread(**options):
    """The emulator in a thread of this process on a free loopback port, without request logging.
    Yields (app, base URL); options go to create_app (auth_delay, invoice_delay, schema_dir ...)."""
    import threading
    from werkzeug.serving import WSGIRequestHandler, make_server
    from .app import create_app

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server('127.0.0.1', 0, lambda environ, start: [], threaded=True, request_handler=QuietHandler)
    base = f'http://127.0.0.1:{server.server_port}'
    app = create_app(base_url=base, **options)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
