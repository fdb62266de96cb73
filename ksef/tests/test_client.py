"""KsefClient against the emulator over real loopback HTTP."""
import datetime
import threading

import pytest
import requests
from werkzeug.serving import make_server

from ksef import crypto, fa3, xades
from ksef.client import KsefClient, Secret, custom_environment, retry_after_seconds
from ksef.emulator import create_app
from ksef.errors import AuthenticationError, KsefApiError, UnknownOutcomeError
from ksef.fa3 import samples

SELLER = samples.SELLER_NIP


@pytest.fixture()
def emulator(schema_dir):
    server = make_server('127.0.0.1', 0, lambda environ, start: [], threaded=True)
    base = f'http://127.0.0.1:{server.server_port}'
    app = create_app(base_url=base, auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, base
    server.shutdown()


def admin(base, path, body):
    response = requests.post(f'{base}/_emulator/{path}', json=body, timeout=5)
    assert response.status_code in (200, 201), response.text
    return response.json()


def token_for(base, nip=SELLER, permissions=('InvoiceWrite', 'InvoiceRead', 'CredentialsManage')):
    return admin(base, 'tokens', {'contextIdentifier': {'type': 'Nip', 'value': nip},
                                  'permissions': list(permissions)})['token']


class FakeSleep:
    """Records every wait and moves the emulator's clock (and the client's) instead of sleeping."""

    def __init__(self, app):
        self.app, self.waits, self.slept = app, [], 0.0

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.slept += seconds
        self.app.service.clock.advance(seconds)

    def monotonic(self):
        import time
        return time.monotonic() + self.slept


def client_for(app, base, **options):
    sleep = FakeSleep(app)
    return KsefClient(custom_environment(f'{base}/v2'), sleep=sleep, monotonic=sleep.monotonic, **options)


def test_token_login_online_session_statuses_and_upo(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    session = client.open_online_session(tokens)
    scenarios = samples.scenarios()
    sent = []
    for index, name in enumerate(('vat_23', 'vat_mixed_23_8_5', 'zero_wdt')):
        scenarios[name].body.number = f'FV/C/{index}'
        sent.append(client.send_invoice(tokens, session, fa3.build(scenarios[name])))
    statuses = [client.invoice_status(tokens, session.reference_number, s.reference_number) for s in sent]
    assert [s['status']['code'] for s in statuses] == [200, 200, 200]
    assert [s['invoiceHash'] for s in statuses] == [s.invoice_hash for s in sent]
    upo = client.invoice_upo(tokens, session.reference_number, sent[0].reference_number)
    assert statuses[0]['ksefNumber'].encode() in upo
    assert client.download_link(statuses[0]['upoDownloadUrl']) == upo, "the storage link gives the same UPO"
    client.close_online_session(tokens, session.reference_number)
    assert client.session_status(tokens, session.reference_number)['successfulInvoiceCount'] == 3


def test_certificate_login_refresh_and_external_signing(emulator):
    from .test_xades import certificate_for
    app, base = emulator
    client = client_for(app, base)
    key = crypto.generate_ec_key()
    certificate = certificate_for(key, organization_identifier=f'VATPL-{SELLER}')
    tokens = client.login_with_certificate('Nip', SELLER, key, certificate)
    old_access = tokens.access.value
    client.refresh(tokens)
    assert tokens.access.value != old_access
    challenge, unsigned, expires = client.auth_token_request('Nip', SELLER)
    assert challenge.encode() in unsigned and expires > tokens.access.valid_until - __import__('datetime').timedelta(days=1)
    signed_elsewhere = xades.sign(unsigned, key, certificate)
    assert client.login_with_signed_request(signed_elsewhere, ('Nip', SELLER)).access.value.reveal()


def test_failed_login_is_a_typed_error(emulator):
    app, base = emulator
    with pytest.raises(AuthenticationError) as caught:
        client_for(app, base).login_with_token('Nip', SELLER, 'not-a-token')
    assert caught.value.code == 450


def test_secrets_never_show(emulator):
    app, base = emulator
    secret = token_for(base)
    tokens = client_for(app, base).login_with_token('Nip', SELLER, Secret(secret))
    shown = repr(tokens) + str(tokens)
    assert tokens.access.value.reveal() not in shown and tokens.refresh.value.reveal() not in shown
    assert '<secret>' in shown


def test_429_waits_exactly_retry_after_then_succeeds(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    from ksef import limits
    tight = {name: limit.as_dict() for name, limit in limits.GROUPS.items()}
    tight['sessionMisc'] = {'perSecond': 1, 'perMinute': 100, 'perHour': 1000}
    client.call('POST', '/testdata/rate-limits', json_body={'rateLimits': tight}, token=tokens.access.value)
    session = client.open_online_session(tokens)
    for _ in range(3):
        client.session_status(tokens, session.reference_number)
    assert client.sleep.waits == [1.0, 1.0], 'Retry-After honoured exactly, not earlier and not longer'


def test_withdrawn_key_is_refetched_once(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    before = client.public_keys()['SymmetricKeyEncryption'][1]
    admin(base, 'keys/rotate', {})
    session = client.open_online_session(tokens)   # 21470 with the cached key, then the new one
    assert client.public_keys()['SymmetricKeyEncryption'][1] != before
    assert client.send_invoice(tokens, session, fa3.build(samples.scenarios()['vat_23'])).reference_number


def test_dropped_send_is_an_unknown_outcome_reconciled_by_hash(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    session = client.open_online_session(tokens)
    xml = fa3.build(samples.scenarios()['vat_23'])
    admin(base, 'faults', {'drop': 1, 'dropAfter': True, 'pathPrefix': '/sessions/online'})
    with pytest.raises(UnknownOutcomeError) as caught:
        client.send_invoice(tokens, session, xml)
    assert caught.value.invoice_hash == crypto.sha256_b64(xml)
    known = [i for i in client.session_invoices(tokens, session.reference_number)
             if i['invoiceHash'] == caught.value.invoice_hash]
    assert len(known) == 1 and known[0]['status']['code'] == 200, 'it did arrive: no second submission needed'


def test_5xx_on_a_read_is_retried(emulator):
    app, base = emulator
    client = client_for(app, base)
    admin(base, 'faults', {'status': 503, 'count': 2})
    assert client.challenge()['challenge']
    assert client.sleep.waits == [2, 4]


def test_batch_send_and_reading_back(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    files = [(f'{i}.xml', fa3.build(samples.ten_line_invoice(i))) for i in range(25)]
    opened = []
    reference = client.send_batch(tokens, files, part_size=20_000, on_open=opened.append)
    assert opened == [reference], "the reference is known before the parts are uploaded"
    statuses = client.session_invoices(tokens, reference, page_size=10)
    assert len(statuses) == 25 and {s['status']['code'] for s in statuses} == {200}
    buyer = client_for(app, base).login_with_token('Nip', samples.BUYER_NIP, token_for(base, samples.BUYER_NIP))
    app.service.clock.advance(5)
    start = (app.service.clock.now() - __import__('datetime').timedelta(hours=1)).isoformat()
    metadata = client.query_metadata(buyer, {'subjectType': 'Subject2',
                                             'dateRange': {'dateType': 'PermanentStorage', 'from': start}}, page_size=10)
    assert sorted(m['invoiceNumber'] for m in metadata) == sorted(f'FV/{i}/11/2026' for i in range(25))
    downloaded = client.download_invoice(buyer, metadata[0]['ksefNumber'])
    assert crypto.sha256_b64(downloaded) == metadata[0]['invoiceHash']


def test_retry_after_formats():
    assert retry_after_seconds('7') == 7.0
    import datetime
    now = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.timezone.utc)
    assert retry_after_seconds('Sun, 22 Nov 2026 12:00:30 GMT', now=now) == 30.0


def test_real_hosts_always_verify_tls():
    client = KsefClient('TEST', verify=False)
    assert client.http.verify is True
    assert client.environment.api_url == 'https://api-test.ksef.mf.gov.pl/v2'


def test_incremental_sync_with_the_high_water_mark(schema_dir):
    """Exports capped at 7 invoices: the sync continues from the last storage date, dedupes, and picks up
    invoices that arrive between the steps."""
    server = make_server('127.0.0.1', 0, lambda environ, start: [], threaded=True)
    base = f'http://127.0.0.1:{server.server_port}'
    app = create_app(base_url=base, auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir), export_cap=7)
    server.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = client_for(app, base)
        seller = client.login_with_token('Nip', SELLER, token_for(base))

        def issue(first, count):
            session = client.open_online_session(seller)
            numbers = []
            for index in range(first, first + count):
                invoice = samples.ten_line_invoice(index)
                app.service.clock.advance(1)
                sent = client.send_invoice(seller, session, fa3.build(invoice))
                numbers.append(client.invoice_status(seller, session.reference_number, sent.reference_number)['ksefNumber'])
            app.service.clock.advance(5)
            return numbers

        issued = issue(0, 10)
        buyer = client_for(app, base).login_with_token('Nip', samples.BUYER_NIP, token_for(base, samples.BUYER_NIP))
        start = (app.service.clock.now() - __import__('datetime').timedelta(hours=1)).isoformat()
        received, mark = {}, start
        for _ in range(3):
            found, mark = client.sync(buyer, 'Subject2', mark, state=received)
            received.update(found)
        issued += issue(10, 4)
        for _ in range(2):
            found, mark = client.sync(buyer, 'Subject2', mark, state=received)
            received.update(found)
        assert sorted(received) == sorted(issued)
        assert all(xml and crypto.sha256_b64(xml) == meta['invoiceHash'] for meta, xml in received.values())
    finally:
        server.shutdown()


def test_sync_back_fill_windows_end_where_the_next_one_starts(emulator):
    """A back-fill longer than KSeF's 3-month span goes in adjacent windows: a window that ends before the
    high-water mark says so (not complete) and the next one starts at its end, never beyond it."""
    app, base = emulator
    clock = app.service.clock
    start = clock.now() - datetime.timedelta(minutes=1)

    def issue(number):
        client = client_for(app, base)
        seller = client.login_with_token('Nip', SELLER, Secret(token_for(base)))
        invoice = samples.ten_line_invoice(number)
        return client.send_batch(seller, [(f'{number}.xml', fa3.build(invoice))])

    issue(1)
    clock.advance(100 * 24 * 3600)   # the second invoice 100 days later: the two do not fit in one filter
    issue(2)
    clock.advance(5)
    client = client_for(app, base)
    buyer = client.login_with_token('Nip', samples.BUYER_NIP, Secret(token_for(base, samples.BUYER_NIP)))
    with pytest.raises(KsefApiError):
        client.sync_step(buyer, 'Subject2', start)   # one filter may span at most 3 months
    end = start + datetime.timedelta(days=90)
    first = client.sync_step(buyer, 'Subject2', start, end=end)
    assert [meta['invoiceNumber'] for meta, _xml in first.found.values()] == ['FV/1/11/2026']
    assert (first.complete, first.next_start) == (False, end.isoformat())
    second = client.sync_step(buyer, 'Subject2', first.next_start, state=first.found)
    assert [meta['invoiceNumber'] for meta, _xml in second.found.values()] == ['FV/2/11/2026']
    assert second.complete and second.next_start == second.high_water_mark
    # the two-value form keeps its meaning: a window's end is the next start
    found, following = client.sync(buyer, 'Subject2', start, end=end)
    assert (list(found), following) == (list(first.found), end.isoformat())


def test_expired_access_token_is_refreshed_before_the_call(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    first = tokens.access.value
    client.sleep(20 * 60)   # the access token (15 min) has expired meanwhile; the refresh token (7 days) has not
    session = client.open_online_session(tokens)
    assert tokens.access.value != first and session.reference_number


def test_management_tokens_certificates_permissions_limits_availability(emulator):
    from .test_xades import certificate_for
    app, base = emulator
    client = client_for(app, base)
    seal = crypto.generate_rsa_key()
    owner = client.login_with_certificate('Nip', SELLER, seal, certificate_for(seal, organization_identifier=f'VATPL-{SELLER}'))
    reference, secret = client.create_ksef_token(owner, ['InvoiceWrite', 'InvoiceRead'], 'Odoo integration')
    assert [t['referenceNumber'] for t in client.ksef_tokens(owner, ['Active'])] == [reference]
    assert client_for(app, base).login_with_token('Nip', SELLER, secret).access.value.reveal()
    client.revoke_ksef_token(owner, reference)
    with pytest.raises(AuthenticationError):
        client_for(app, base).login_with_token('Nip', SELLER, secret)
    for kind, key_type in (('Authentication', 'ec'), ('Offline', 'rsa')):
        key, certificate, serial = client.enroll_certificate(owner, f'Odoo {kind}', kind, key_type)
        assert f'{certificate.serial_number:016X}' == serial
    # log in with the KSeF Authentication certificate just enrolled
    auth_key, auth_certificate, _serial = client.enroll_certificate(owner, 'Odoo login two', 'Authentication')
    assert client_for(app, base).login_with_certificate('Nip', SELLER, auth_key, auth_certificate)
    assert client.certificate_limits(owner)['certificate']['remaining'] == 97
    assert client.grant_person_permissions(owner, 'Pesel', '80010112345', ['InvoiceRead'], 'Księgowa')['code'] == 200
    limits_now = client.rate_limits(owner)
    assert client.live_limits['invoiceSend'].per_hour == limits_now['invoiceSend']['perHour']
    assert client.availability()['status'] == 'AVAILABLE'
    assert len(client.auth_sessions(owner)) >= 1
    client.end_auth_session(owner)
    with pytest.raises(AuthenticationError):
        client.refresh(owner)


def test_batch_as_tar_gz_with_offline_mode(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    files = [(f'{i}.xml', fa3.build(samples.ten_line_invoice(i))) for i in range(12)]
    reference = client.send_batch(tokens, files, part_size=9_000, offline=True, compression='TarGz')
    statuses = client.session_invoices(tokens, reference)
    assert {(s['status']['code'], s['invoicingMode']) for s in statuses} == {(200, 'Offline')}


@pytest.mark.parametrize('form', ['pkcs12', 'pem'])
def test_signing_credentials_from_pkcs12_and_pem(emulator, form):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from ksef.client import load_signing_credentials
    from .test_xades import certificate_for
    app, base = emulator
    key = crypto.generate_rsa_key()
    certificate = certificate_for(key, organization_identifier=f'VATPL-{SELLER}')
    if form == 'pkcs12':
        data = pkcs12.serialize_key_and_certificates(b'seal', key, certificate, None,
                                                      serialization.BestAvailableEncryption(b'haslo'))
    else:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b'haslo')) + \
            certificate.public_bytes(serialization.Encoding.PEM)
    loaded_key, loaded_certificate = load_signing_credentials(data, 'haslo')
    assert loaded_certificate == certificate
    assert client_for(app, base).login_with_certificate('Nip', SELLER, loaded_key, loaded_certificate)


def test_internal_id_and_eu_entity_contexts(emulator):
    from ksef import identifiers
    from .test_xades import certificate_for
    app, base = emulator
    client = client_for(app, base)
    key = crypto.generate_ec_key()
    seal = certificate_for(key, organization_identifier=f'VATPL-{SELLER}')
    internal_id = f'{SELLER}-0001{identifiers.internal_id_check_digit(SELLER + "0001")}'
    assert client.login_with_certificate('InternalId', internal_id, key, seal).context == ('InternalId', internal_id)
    owner = client.login_with_certificate('Nip', SELLER, key, seal)
    admin_key = crypto.generate_ec_key()
    admin_certificate = certificate_for(admin_key, cn='EU admin')
    eu_context = f'{SELLER}-DE811907980'
    client.call('POST', '/permissions/eu-entities/administration/grants', token=owner.access.value, json_body={
        'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(admin_certificate)},
        'contextIdentifier': {'type': 'NipVatUe', 'value': eu_context}, 'description': 'Administrator UE',
        'euEntityName': 'Müller GmbH', 'subjectDetails': {'subjectDetailsType': 'PersonByFingerprintWithoutIdentifier'},
        'euEntityDetails': {'fullName': 'Müller GmbH', 'address': 'Berlin'}}, idempotent=False)
    tokens = client.login_with_certificate('NipVatUe', eu_context, admin_key, admin_certificate,
                                           subject_identifier_type='certificateFingerprint')
    assert tokens.context == ('NipVatUe', eu_context)


def test_expired_upload_window_is_reported(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    files = [('a.xml', fa3.build(samples.scenarios()['vat_23']))]
    original = client.call

    def slow_call(method, template, **kwargs):
        if method == 'POST' and template == '/sessions/batch/{referenceNumber}/close':
            client.sleep(25 * 60)   # the upload window (parts x 20 min) is over before the close
            kwargs['token'] = client.fresh_access(tokens)
        return original(method, template, **kwargs)
    client.call = slow_call
    from ksef.errors import KsefApiError
    with pytest.raises(KsefApiError) as caught:
        client.send_batch(tokens, files)
    assert caught.value.code == 21208


def test_every_client_call_uses_an_open_api_template(spec_dir):
    """The rate-limit group of a call is looked up by its template: they must be the documented ones."""
    import re
    import json as json_module
    import pathlib
    document = json_module.loads((spec_dir / 'openapi' / 'open-api.json').read_text(encoding='utf-8'))
    source = pathlib.Path(__file__).resolve().parents[1].joinpath('client.py').read_text(encoding='utf-8')
    used = set(re.findall(r"self\.call\('(GET|POST|PUT|DELETE)', '(/[^']*)'", source))
    assert used, 'no call found'
    for method, template in used:
        assert template in document['paths'] and method.lower() in document['paths'][template], (method, template)


def test_duplicates_collective_upo_permissions_and_limits(emulator):
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    session = client.open_online_session(tokens)
    xml = fa3.build(samples.scenarios()['vat_23'])
    first = client.send_invoice(tokens, session, xml)
    second = client.send_invoice(tokens, session, xml)
    original = client.invoice_status(tokens, session.reference_number, first.reference_number)
    duplicate = client.invoice_status(tokens, session.reference_number, second.reference_number)
    assert duplicate['status']['code'] == 440
    assert duplicate['status']['extensions']['originalKsefNumber'] == original['ksefNumber']
    client.close_online_session(tokens, session.reference_number)
    pages = client.session_upo(tokens, session.reference_number)
    assert len(pages) == 1 and original['ksefNumber'].encode() in pages[0]
    status = client.grant_permissions(tokens, 'entities', {
        'subjectIdentifier': {'type': 'Nip', 'value': '7740001454'}, 'permissions': [{'type': 'InvoiceRead'}],
        'description': 'Biuro rachunkowe', 'subjectDetails': {'fullName': 'Biuro'}})
    assert status['code'] == 200
    office = client_for(app, base).login_with_token('Nip', '7740001454', token_for(base, '7740001454'))
    held = client.query_permissions(office, 'entities', {})
    assert [p['permissionScope'] for p in held] == ['InvoiceRead']
    assert client.context_limits(tokens)['batchSession']['maxInvoices'] == 10000
    assert client.availability_messages() == []


def test_peppol_provider_context(emulator):
    """A Peppol service provider logs in in its PeppolId context with its certificate (fingerprint grant)."""
    from .test_xades import certificate_for
    app, base = emulator
    key = crypto.generate_ec_key()
    certificate = certificate_for(key, cn='Peppol Access Point')
    admin(base, 'grants', {'contextIdentifier': {'type': 'PeppolId', 'value': 'PPL123456'},
                           'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(certificate)},
                           'permissions': ['InvoiceWrite']})
    tokens = client_for(app, base).login_with_certificate('PeppolId', 'PPL123456', key, certificate,
                                                          subject_identifier_type='certificateFingerprint')
    assert tokens.context == ('PeppolId', 'PPL123456')


def test_timeouts_read_retried_then_unavailable_send_unknown(emulator):
    from ksef.errors import UnavailableError
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    session = client.open_online_session(tokens)
    slow = client_for(app, base, timeout=(2, 0.3), retries=1)
    admin(base, 'faults', {'latency': 1.0})
    try:
        with pytest.raises(UnavailableError):
            slow.session_status(tokens, session.reference_number)
        assert slow.sleep.waits == [2], 'one retry of the read, then a typed error'
        with pytest.raises(UnknownOutcomeError) as caught:
            slow.send_invoice(tokens, session, fa3.build(samples.scenarios()['vat_23']))
        assert caught.value.invoice_hash
    finally:
        admin(base, 'faults', {'latency': 0})


def test_ended_access_tokens_are_refused_and_a_refresh_gives_a_working_one(emulator):
    """KSeF ends access tokens early when permissions change: 401 until the client refreshes (the refresh token
    stays valid), the new access token works."""
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    assert client.auth_sessions(tokens)
    response = requests.post(f'{base}/_emulator/access/end', json={}, timeout=5)
    assert response.status_code == 200
    with pytest.raises(AuthenticationError):
        client.auth_sessions(tokens)
    client.refresh(tokens)
    assert client.auth_sessions(tokens), "the refreshed access works"


def test_a_batch_whose_upload_window_is_over_is_refused_and_processes_nothing(emulator):
    """An upload that comes too late (a stalled connection): KSeF refuses the part, the session processes none of
    the invoices, and the same files go through in a new session."""
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    admin(base, 'faults', {'expiredUploads': 1})
    files = [(f'{i}.xml', fa3.build(samples.ten_line_invoice(i))) for i in range(3)]
    opened = []
    with pytest.raises(KsefApiError) as caught:
        client.send_batch(tokens, files, on_open=opened.append)
    assert caught.value.status == 403 and caught.value.reason_code == 'upload-expired'
    assert client.session_invoices(tokens, opened[0]) == []
    reference = client.send_batch(tokens, files)
    assert {s['status']['code'] for s in client.session_invoices(tokens, reference)} == {200}
