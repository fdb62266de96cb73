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
