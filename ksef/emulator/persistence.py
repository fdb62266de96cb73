"""Keep the emulator's state in a file across restarts (`--state FILE`), so a demo survives a restart.

The state is pickled with cryptography's keys and certificates written as PEM/DER. Only the emulator writes
and reads this file: it is a trusted local file, never input from elsewhere."""
import copyreg
import os
import pickle
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def _load_key(pem):
    return serialization.load_pem_private_key(pem, password=None)


def _reduce_key(key):
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return _load_key, (pem,)


def _reduce_certificate(certificate):
    return x509.load_der_x509_certificate, (certificate.public_bytes(serialization.Encoding.DER),)


def _register(objects):
    for value in objects:
        if hasattr(value, 'private_bytes'):
            copyreg.pickle(type(value), _reduce_key)
        elif hasattr(value, 'tbs_certificate_bytes'):
            copyreg.pickle(type(value), _reduce_certificate)


def snapshot(service) -> bytes:
    state = service.state
    samples = [service._ca_key] + [k.private_key for k in state.keys] + [k.certificate for k in state.keys] + \
        [c.certificate for c in state.certificates.values()]
    _register(samples)
    return pickle.dumps({'state': state, 'ca_key': service._ca_key, 'jwt_secret': service._jwt_secret,
                         'now': service.clock.now()})


def restore(service, data: bytes):
    saved = pickle.loads(data)  # noqa: S301 - the emulator's own state file
    service.state = saved['state']
    service._ca_key = saved['ca_key']
    service._jwt_secret = saved['jwt_secret']
    service.clock.__init__(speed=service.clock.speed, start=saved['now'])


class StateFile:
    """Saves the state after changing requests (at most once a second) and when asked to."""

    def __init__(self, service, path):
        self.service, self.path = service, path
        self._last = 0.0
        self._lock = threading.Lock()

    def load(self):
        if os.path.exists(self.path):
            with open(self.path, 'rb') as handle:
                restore(self.service, handle.read())
            return True
        return False

    def save(self, force=False):
        with self._lock:
            if not force and time.monotonic() - self._last < 1.0:
                return
            with self.service.lock:
                data = snapshot(self.service)
            partial = f'{self.path}.part'
            with open(partial, 'wb') as handle:
                handle.write(data)
            os.replace(partial, self.path)
            self._last = time.monotonic()

    def wrap(self, app):
        def application(environ, start_response):
            result = app(environ, start_response)
            if environ.get('REQUEST_METHOD') in ('POST', 'PUT', 'DELETE'):
                self.save()
            return result
        return application
