import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SPEC = pathlib.Path(os.environ.get('KSEF_SPEC_DIR', REPO.parent / 'shared' / 'ksef-spec'))


@pytest.fixture(scope='session')
def spec_dir():
    if not (SPEC / 'fa3').is_dir():
        pytest.fail(f'the KSeF reference material is missing: {SPEC} (set KSEF_SPEC_DIR)')
    return SPEC


@pytest.fixture(scope='session', autouse=True)
def schema_dir(spec_dir):
    """Every test validates against ../shared/ksef-spec/fa3, offline."""
    os.environ['KSEF_SCHEMA_DIR'] = str(spec_dir / 'fa3')
    return spec_dir / 'fa3'


@pytest.fixture(scope='session', autouse=True)
def loopback_only():
    """Tests may talk to loopback (the emulator) only: any other connection fails loudly."""
    import ipaddress
    import socket
    original = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == 'localhost'
            if not loopback:
                raise ConnectionRefusedError(f'tests may only connect to loopback, not {host}')
        return original(sock, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original
