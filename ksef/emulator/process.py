"""Run the emulator in its own process on a free loopback port (benchmarks, demos, tests of the CLI)."""
import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port(preferred=None):
    """A free loopback port: ``preferred`` when it is free (a port closed a moment ago counts as free, as for the
    servers, which reuse addresses), else one the system picks."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(('127.0.0.1', preferred or 0))
        except OSError:
            probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def emulator_token(base, value, permissions=('InvoiceWrite', 'InvoiceRead'), context_type='Nip', description=None):
    """A KSeF token minted by the emulator at ``base`` (http://127.0.0.1:PORT) through its set-up endpoint
    (POST /_emulator/tokens): the emulator's answer, ``token`` and ``referenceNumber``."""
    import requests
    body = {'contextIdentifier': {'type': context_type, 'value': value}, 'permissions': list(permissions)}
    if description:
        body['description'] = description
    response = requests.post(f'{base}/_emulator/tokens', timeout=10, json=body)
    response.raise_for_status()
    return response.json()


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
