"""The emulator, driven over its WSGI interface; every response is checked against open-api.json."""
import json

import pytest
from lxml import etree
from werkzeug.test import Client

from ksef import crypto, fa3, identifiers, limits
from ksef.emulator import API_PREFIX, create_app
from ksef.fa3 import samples

from .openapi import OpenApi

SELLER = samples.SELLER_NIP


@pytest.fixture(scope='module')
def api(spec_dir):
    return OpenApi(spec_dir / 'openapi' / 'open-api.json')


class ContractClient:
    """A werkzeug test client that validates every request and response against the OpenAPI contract."""

    def __init__(self, app, api):
        self.client, self.api, self.app = Client(app), api, app
        self.checked = []

    def call(self, method, path, body=None, token=None, headers=None, expect=None, raw=None, content_type=None):
        """``raw`` sends bytes as they are (not validated as a request: for signed XML and broken bodies)."""
        headers = dict(headers or {})
        if token:
            headers['Authorization'] = f'Bearer {token}'
        template = self.api.template_of(path.split('?')[0])
        assert template, f'{path} is not an operation of open-api.json'
        if body is not None:
            schema = self.api.request_schema(method, template)
            if schema and expect in (None, 200, 201, 202, 204):
                assert self.api.validate(schema, body) == [], f'request to {method} {template}'
        if raw is not None:
            data, content_type = raw, content_type
        else:
            data = None if body is None else json.dumps(body)
            content_type = 'application/json' if body is not None else None
        response = self.client.open(API_PREFIX + path, method=method, headers=headers, data=data,
                                    content_type=content_type)
        if expect is not None:
            assert response.status_code == expect, response.get_data(as_text=True)
        schema, problem = self.api.response_schema(method, template, response.status_code,
                                                   response.content_type or 'application/json')
        assert problem is None, problem
        data = response.get_data()
        if schema is not None and response.mimetype.endswith('json'):
            errors = self.api.validate(schema, json.loads(data))
            assert errors == [], f'{method} {template} {response.status_code}: {errors}'
        self.checked.append((method, template, response.status_code))
        return response

    def json(self, *args, **kwargs):
        return json.loads(self.call(*args, **kwargs).get_data())


@pytest.fixture()
def emulator(api, schema_dir):
    app = create_app(auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir))
    return ContractClient(app, api)


def mint_token(emulator, nip=SELLER, permissions=('InvoiceWrite', 'InvoiceRead')):
    response = emulator.client.post('/_emulator/tokens', json={
        'contextIdentifier': {'type': 'Nip', 'value': nip}, 'permissions': list(permissions)})
    assert response.status_code == 201
    return response.json['token']


def public_keys(emulator):
    keys = emulator.json('GET', '/security/public-key-certificates', expect=200)
    by_usage = {}
    for key in keys:
        certificate = crypto.load_der_certificate(crypto.unb64(key['certificate']))
        assert crypto.public_key_id(certificate.public_key()) == key['publicKeyId']
        by_usage[key['usage'][0]] = (certificate.public_key(), key['publicKeyId'])
    return by_usage


def authenticate(emulator, token, nip=SELLER):
    keys = public_keys(emulator)
    challenge = emulator.json('POST', '/auth/challenge', expect=200)
    public_key, key_id = keys['KsefTokenEncryption']
    encrypted = crypto.rsa_oaep_encrypt(public_key, f'{token}|{challenge["timestampMs"]}'.encode())
    init = emulator.json('POST', '/auth/ksef-token', {
        'challenge': challenge['challenge'], 'contextIdentifier': {'type': 'Nip', 'value': nip},
        'encryptedToken': crypto.b64(encrypted), 'publicKeyId': key_id}, expect=202)
    operation = init['authenticationToken']['token']
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=operation, expect=200)
    return init, operation, status, keys


def login(emulator, nip=SELLER, permissions=('InvoiceWrite', 'InvoiceRead')):
    token = mint_token(emulator, nip, permissions)
    init, operation, status, keys = authenticate(emulator, token, nip)
    assert status['status']['code'] == 200
    tokens = emulator.json('POST', '/auth/token/redeem', token=operation, expect=200)
    return tokens, keys


def open_session(emulator, access, keys):
    key, iv = crypto.new_session_key()
    public_key, key_id = keys['SymmetricKeyEncryption']
    session = emulator.json('POST', '/sessions/online', {
        'formCode': fa3.FORM_CODE,
        'encryption': {'encryptedSymmetricKey': crypto.b64(crypto.rsa_oaep_encrypt(public_key, key)),
                       'initializationVector': crypto.b64(iv), 'publicKeyId': key_id}}, token=access, expect=201)
    return session['referenceNumber'], key, iv


def send(emulator, access, session, key, iv, xml, **extra):
    encrypted = crypto.aes_encrypt(key, iv, xml)
    body = {'invoiceHash': crypto.sha256_b64(xml), 'invoiceSize': len(xml),
            'encryptedInvoiceHash': crypto.sha256_b64(encrypted), 'encryptedInvoiceSize': len(encrypted),
            'encryptedInvoiceContent': crypto.b64(encrypted), **extra}
    return emulator.call('POST', f'/sessions/online/{session}/invoices', body, token=access)


def test_token_authentication_online_session_and_upo(emulator, spec_dir):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    xml = fa3.build(samples.scenarios()['vat_mixed_23_8_5'])
    reference = json.loads(send(emulator, access, session, key, iv, xml).get_data())['referenceNumber']
    status = emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access, expect=200)
    assert status['status']['code'] == 200
    assert identifiers.is_valid_ksef_number(status['ksefNumber'])
    assert status['ksefNumber'].startswith(SELLER + '-')
    assert status['invoiceHash'] == crypto.sha256_b64(xml)
    assert status['invoicingMode'] == 'Offline', 'P_1 is before the sending day: KSeF marks it offline itself'
    upo = emulator.call('GET', f'/sessions/{session}/invoices/{reference}/upo', token=access, expect=200)
    upo_root = etree.fromstring(upo.get_data())
    upo_schema = etree.XMLSchema(etree.parse(str(spec_dir / 'upo' / 'upo-v4-3.xsd')))
    assert upo_schema.validate(upo_root), upo_schema.error_log
    ns = {'u': 'http://upo.schematy.mf.gov.pl/KSeF/v4-3'}
    assert upo_root.findtext('u:Dokument/u:NumerKSeFDokumentu', namespaces=ns) == status['ksefNumber']
    assert upo.headers['x-ms-meta-hash'] == crypto.sha256_b64(upo.get_data())
    emulator.call('POST', f'/sessions/online/{session}/close', token=access, expect=204)
    session_status = emulator.json('GET', f'/sessions/{session}', token=access, expect=200)
    assert session_status['status']['code'] == 200
    assert session_status['successfulInvoiceCount'] == 1
    page = session_status['upo']['pages'][0]
    collective = emulator.call('GET', f'/sessions/{session}/upo/{page["referenceNumber"]}', token=access, expect=200)
    assert upo_schema.validate(etree.fromstring(collective.get_data()))


def test_invoice_processing_progresses_with_the_clock(api, schema_dir):
    emulator = ContractClient(create_app(auth_delay=2, invoice_delay=4, schema_dir=str(schema_dir)), api)
    token = mint_token(emulator)
    init, operation, status, keys = authenticate(emulator, token)
    assert status['status']['code'] == 100
    emulator.app.service.clock.advance(3)
    tokens = emulator.json('POST', '/auth/token/redeem', token=operation, expect=200)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    reference = json.loads(send(emulator, access, session, key, iv,
                                fa3.build(samples.scenarios()['vat_23'])).get_data())['referenceNumber']
    seen = []
    for _ in range(4):
        seen.append(emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)['status']['code'])
        emulator.app.service.clock.advance(1.5)
    assert seen[0] == 100 and seen[-1] == 200 and 150 in seen


def test_duplicate_is_440_with_the_original_ksef_number(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    xml = fa3.build(samples.scenarios()['vat_23'])
    first = json.loads(send(emulator, access, session, key, iv, xml).get_data())['referenceNumber']
    second = json.loads(send(emulator, access, session, key, iv, xml).get_data())['referenceNumber']
    original = emulator.json('GET', f'/sessions/{session}/invoices/{first}', token=access)
    duplicate = emulator.json('GET', f'/sessions/{session}/invoices/{second}', token=access)
    assert duplicate['status']['code'] == 440
    assert duplicate['status']['extensions']['originalKsefNumber'] == original['ksefNumber']
    failed = emulator.json('GET', f'/sessions/{session}/invoices/failed', token=access, expect=200)
    assert [i['referenceNumber'] for i in failed['invoices']] == [second]


def test_invalid_invoice_is_450_with_the_validator_details(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    xml = fa3.build(samples.scenarios()['vat_23']).replace(b'<KodWaluty>PLN</KodWaluty>', b'<KodWaluty>QQQ</KodWaluty>')
    reference = json.loads(send(emulator, access, session, key, iv, xml).get_data())['referenceNumber']
    status = emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)
    assert status['status']['code'] == 450
    assert any('KodWaluty' in detail for detail in status['status']['details'])


def test_other_sellers_invoice_is_refused_for_permission_scope(emulator):
    tokens, keys = login(emulator, nip='7740001454')
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    reference = json.loads(send(emulator, access, session, key, iv,
                                fa3.build(samples.scenarios()['vat_23'])).get_data())['referenceNumber']
    assert emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)['status']['code'] == 410


def test_hash_and_size_mismatches_are_21403_and_21402(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    xml = fa3.build(samples.scenarios()['vat_23'])
    response = send(emulator, access, session, key, iv, xml, invoiceHash=crypto.sha256_b64(b'other'))
    assert response.status_code == 400
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21403
    response = send(emulator, access, session, key, iv, xml, invoiceSize=len(xml) + 1)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21402


def test_bad_token_and_reused_challenge(emulator):
    keys = public_keys(emulator)
    challenge = emulator.json('POST', '/auth/challenge', expect=200)
    public_key, key_id = keys['KsefTokenEncryption']
    body = {'challenge': challenge['challenge'], 'contextIdentifier': {'type': 'Nip', 'value': SELLER},
            'encryptedToken': crypto.b64(crypto.rsa_oaep_encrypt(public_key, f'nope|{challenge["timestampMs"]}'.encode())),
            'publicKeyId': key_id}
    init = emulator.json('POST', '/auth/ksef-token', body, expect=202)
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 450
    response = emulator.call('POST', '/auth/ksef-token', body, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21111
    redeem = emulator.call('POST', '/auth/token/redeem', token=init['authenticationToken']['token'], expect=400)
    assert json.loads(redeem.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21301


def test_redeem_is_one_shot_and_refresh_works(emulator):
    token = mint_token(emulator)
    init, operation, status, keys = authenticate(emulator, token)
    emulator.call('POST', '/auth/token/redeem', token=operation, expect=200)
    again = emulator.call('POST', '/auth/token/redeem', token=operation, expect=400)
    assert json.loads(again.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21301


def test_withdrawn_key_is_21470(emulator):
    keys = public_keys(emulator)
    emulator.client.post('/_emulator/keys/rotate', json={})
    tokens_before = mint_token(emulator)
    challenge = emulator.json('POST', '/auth/challenge', expect=200)
    public_key, old_id = keys['KsefTokenEncryption']
    response = emulator.call('POST', '/auth/ksef-token', {
        'challenge': challenge['challenge'], 'contextIdentifier': {'type': 'Nip', 'value': SELLER},
        'encryptedToken': crypto.b64(crypto.rsa_oaep_encrypt(public_key, f'{tokens_before}|1'.encode())),
        'publicKeyId': old_id}, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21470


def test_missing_or_bad_bearer_is_401_problem(emulator):
    response = emulator.call('POST', '/sessions/online', {'formCode': fa3.FORM_CODE, 'encryption': {
        'encryptedSymmetricKey': 'AA==', 'initializationVector': 'AA=='}}, expect=401)
    assert response.mimetype == 'application/problem+json'
    emulator.call('GET', '/rate-limits', token='not-a-token', expect=401)


def test_missing_permission_is_403(emulator):
    tokens, keys = login(emulator, permissions=('InvoiceRead',))
    response = emulator.call('POST', '/sessions/online', {'formCode': fa3.FORM_CODE, 'encryption': {
        'encryptedSymmetricKey': 'AA==', 'initializationVector': 'AA=='}}, token=tokens['accessToken']['token'],
        expect=403)
    assert json.loads(response.get_data())['reasonCode'] == 'missing-permissions'


def test_rate_limit_429_with_retry_after(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    codes = [emulator.call('POST', '/sessions/online', {'formCode': {'systemCode': 'x', 'schemaVersion': 'x', 'value': 'x'},
                                                        'encryption': {'encryptedSymmetricKey': 'AA==',
                                                                       'initializationVector': 'AA=='}},
                           token=access).status_code for _ in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429
    response = emulator.call('GET', '/rate-limits', token=access, expect=200)
    assert json.loads(response.get_data())['onlineSession'] == limits.GROUPS['onlineSession'].as_dict()
    emulator.app.service.clock.advance(1.1)
    last = emulator.call('POST', '/sessions/online', {'formCode': fa3.FORM_CODE, 'encryption': {
        'encryptedSymmetricKey': 'AA==', 'initializationVector': 'AA=='}}, token=access)
    assert last.status_code == 400


def test_rate_limit_sets_retry_after_header(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    for _ in range(10):
        emulator.call('GET', '/sessions/20250901-SO-0000000000-0000000000-00', token=access)
    response = emulator.call('GET', '/sessions/20250901-SO-0000000000-0000000000-00', token=access, expect=429)
    assert 1 <= int(response.headers['Retry-After']) <= 1


def test_injected_5xx_fault(emulator):
    emulator.client.post('/_emulator/faults', json={'status': 503, 'count': 1})
    response = emulator.client.post(API_PREFIX + '/auth/challenge')
    assert response.status_code == 503
    assert emulator.client.post(API_PREFIX + '/auth/challenge').status_code == 200


def test_rate_limit_table_matches_open_api(api):
    for template, operations in api.document['paths'].items():
        for method, operation in operations.items():
            documented = operation.get('x-rate-limits')
            if not documented:
                continue
            group = limits.group_of(method.upper(), template)
            if documented == {'perSecond': 60}:
                assert group is None, f'{method.upper()} {template} is limited per IP only'
                continue
            assert limits.GROUPS[group].as_dict() == documented, f'{method.upper()} {template}'
            described = limits.group_from_openapi_description(operation['responses']['429']['description'])
            if described:
                assert described == group, f'{method.upper()} {template}'


def test_malformed_requests_never_crash(emulator):
    for body in (b'{not json', b'[]', b'"text"'):
        response = emulator.call('POST', '/auth/ksef-token', raw=body, content_type='application/json')
        assert response.status_code == 400
    response = emulator.call('POST', '/auth/ksef-token', raw=b'x', content_type='text/plain')
    assert response.status_code == 400
    assert emulator.client.get(API_PREFIX + '/nope').status_code == 404


def test_emulator_serves_real_http_on_loopback(schema_dir):
    """`python -m ksef emulator` answers over a real socket (what the client, Odoo and the demo use)."""
    import requests
    from ksef.emulator.process import emulator_process
    with emulator_process('--schema-dir', str(schema_dir)) as root:
        base = f'{root}/v2'
        response = requests.post(f'{base}/auth/challenge', timeout=2)
        assert response.status_code == 200
        assert response.json()['clientIp'] == '127.0.0.1'
        keys = requests.get(f'{base}/security/public-key-certificates', timeout=2).json()
        assert {key['usage'][0] for key in keys} == {'KsefTokenEncryption', 'SymmetricKeyEncryption'}
        # a dropped connection after the call took effect: the client gets no answer at all
        requests.post(f'{root}/_emulator/faults', json={'drop': 1, 'dropAfter': True}, timeout=2)
        with pytest.raises(requests.ConnectionError):
            requests.post(f'{base}/auth/challenge', timeout=2)
        assert requests.post(f'{base}/auth/challenge', timeout=2).status_code == 200


def test_received_invoice_can_be_downloaded_by_the_buyer_once_stored(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    xml = fa3.build(samples.scenarios()['vat_23'])
    reference = json.loads(send(emulator, access, session, key, iv, xml).get_data())['referenceNumber']
    number = emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)['ksefNumber']
    buyer_tokens, _keys = login(emulator, nip=samples.BUYER_NIP, permissions=('InvoiceRead',))
    buyer = buyer_tokens['accessToken']['token']
    downloaded = emulator.call('GET', f'/invoices/ksef/{number}', token=buyer, expect=200)
    assert downloaded.get_data() == xml
    assert downloaded.headers['x-ms-meta-hash'] == crypto.sha256_b64(xml)
    stranger, _keys = login(emulator, nip='7740001454', permissions=('InvoiceRead',))
    refused = emulator.call('GET', f'/invoices/ksef/{number}', token=stranger['accessToken']['token'], expect=400)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21164


def test_refresh_gives_a_new_access_token(emulator):
    tokens, keys = login(emulator)
    refreshed = emulator.json('POST', '/auth/token/refresh', token=tokens['refreshToken']['token'], expect=200)
    assert refreshed['accessToken']['token'] != tokens['accessToken']['token']
    emulator.call('GET', '/rate-limits', token=refreshed['accessToken']['token'], expect=200)
    emulator.app.service.clock.advance(16 * 60)
    emulator.call('GET', '/rate-limits', token=refreshed['accessToken']['token'], expect=401)
    emulator.call('POST', '/auth/token/refresh', token=tokens['refreshToken']['token'], expect=200)


def build_archive(files, compression='Zip'):
    import io
    import tarfile
    import zipfile
    buffer = io.BytesIO()
    if compression == 'Zip':
        with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
            for name, data in files:
                archive.writestr(name, data)
    else:
        with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def send_batch(emulator, access, keys, archive, compression='Zip', parts=2, corrupt_part=None, skip_part=None):
    key, iv = crypto.new_session_key()
    public_key, key_id = keys['SymmetricKeyEncryption']
    size = -(-len(archive) // parts)
    chunks = [archive[i:i + size] for i in range(0, len(archive), size)]
    encrypted = [crypto.aes_encrypt(key, iv, chunk) for chunk in chunks]
    body = {'formCode': fa3.FORM_CODE, 'batchFile': {
        'fileSize': len(archive), 'fileHash': crypto.sha256_b64(archive), 'compressionType': compression,
        'fileParts': [{'ordinalNumber': n, 'fileSize': len(part), 'fileHash': crypto.sha256_b64(part)}
                      for n, part in enumerate(encrypted, 1)]},
        'encryption': {'encryptedSymmetricKey': crypto.b64(crypto.rsa_oaep_encrypt(public_key, key)),
                       'initializationVector': crypto.b64(iv), 'publicKeyId': key_id}}
    opened = emulator.json('POST', '/sessions/batch', body, token=access, expect=201)
    for request, part in zip(opened['partUploadRequests'], encrypted):
        if request['ordinalNumber'] == skip_part:
            continue
        if request['ordinalNumber'] == corrupt_part:
            part = part[:-16]
        assert 'Authorization' not in request['headers']
        path = request['url'].split('127.0.0.1', 1)[1]
        response = emulator.client.open(path, method=request['method'], headers=request['headers'], data=part)
        assert response.status_code == 201
    return opened['referenceNumber']


@pytest.mark.parametrize('compression', ['Zip', 'TarGz'])
def test_batch_session_with_parts(emulator, compression):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    emulator.call('POST', '/testdata/attachment', {'nip': SELLER}, expect=200)
    assert emulator.json('GET', '/permissions/attachments/status', token=access)['isAttachmentAllowed'] is True
    scenarios = samples.scenarios()
    for index, name in enumerate(('vat_23', 'vat_mixed_23_8_5', 'attachment')):
        scenarios[name].body.number = f'FV/{index}/B/2026'   # one number each: the samples share FV/1/11/2026
    files = [(f'{name}.xml', fa3.build(scenarios[name])) for name in ('vat_23', 'vat_mixed_23_8_5', 'attachment')]
    files.append(('broken.xml', b'<Faktura/>'))
    session = send_batch(emulator, access, keys, build_archive(files, compression), compression, parts=3)
    emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=204)
    status = emulator.json('GET', f'/sessions/{session}', token=access, expect=200)
    assert status['status']['code'] == 200
    assert (status['invoiceCount'], status['successfulInvoiceCount'], status['failedInvoiceCount']) == (4, 3, 1)
    listed = emulator.json('GET', f'/sessions/{session}/invoices', token=access, expect=200)
    by_name = {i['invoiceFileName']: i for i in listed['invoices']}
    assert by_name['broken.xml']['status']['code'] == 450
    assert by_name['attachment.xml']['status']['code'] == 200, 'attachments are accepted in batch sessions'
    assert by_name['vat_23.xml']['invoiceHash'] == crypto.sha256_b64(files[0][1])


def test_batch_list_pages_with_continuation_tokens(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    files = []
    for index in range(25):
        files.append((f'{index}.xml', fa3.build(samples.ten_line_invoice(index))))
    session = send_batch(emulator, access, keys, build_archive(files), parts=1)
    emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=204)
    seen, token = [], None
    while True:
        page = emulator.json('GET', f'/sessions/{session}/invoices?pageSize=10', token=access, expect=200,
                             headers={'x-continuation-token': token} if token else None)
        seen += [i['invoiceFileName'] for i in page['invoices']]
        token = page.get('continuationToken')
        if not token:
            break
    assert sorted(seen) == sorted(name for name, _ in files)


def test_batch_with_missing_or_corrupt_part(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    archive = build_archive([('a.xml', fa3.build(samples.scenarios()['vat_23']))])
    session = send_batch(emulator, access, keys, archive, parts=2, skip_part=2)
    response = emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21205
    session = send_batch(emulator, access, keys, archive, parts=2, corrupt_part=1)
    response = emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21157


def test_batch_upload_window_expires(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    archive = build_archive([('a.xml', fa3.build(samples.scenarios()['vat_23']))])
    session = send_batch(emulator, access, keys, archive, parts=1)
    emulator.app.service.clock.advance(21 * 60)
    access = emulator.json('POST', '/auth/token/refresh', token=tokens['refreshToken']['token'])['accessToken']['token']
    response = emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21208
    assert emulator.json('GET', f'/sessions/{session}', token=access)['status']['code'] == 440


@pytest.mark.parametrize('name, content', [
    ('../evil.xml', b'<a/>'), ('/abs.xml', b'<a/>'), ('notes.txt', b'x'),
])
def test_hostile_archives_end_the_session_with_430(emulator, name, content):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session = send_batch(emulator, access, keys, build_archive([(name, content)]), parts=1)
    emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=204)
    status = emulator.json('GET', f'/sessions/{session}', token=access)
    assert status['status']['code'] == 430


def test_zip_bomb_is_refused(emulator):
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('bomb.xml', b'0' * 50_000_000)
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session = send_batch(emulator, access, keys, buffer.getvalue(), parts=1)
    emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=204)
    status = emulator.json('GET', f'/sessions/{session}', token=access)
    assert status['status']['code'] == 430 and 'larger than' in status['status']['details'][0]


def _issue(emulator, count, buyer=samples.BUYER_NIP, kind='vat_23'):
    """Send `count` distinct invoices from SELLER to `buyer`; returns their KSeF numbers in order."""
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    numbers = []
    for index in range(count):
        invoice = samples.scenarios()[kind]
        invoice.body.number = f'FV/{kind}/{index}'
        invoice.buyer.nip = buyer
        reference = json.loads(send(emulator, access, session, key, iv, fa3.build(invoice)).get_data())['referenceNumber']
        emulator.app.service.clock.advance(1)
        numbers.append(emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)['ksefNumber'])
    emulator.app.service.clock.advance(5)
    return numbers


def _range(emulator, minutes=60):
    start = emulator.app.service.clock.now() - __import__('datetime').timedelta(minutes=minutes)
    return {'dateType': 'PermanentStorage', 'from': start.isoformat()}


def test_metadata_query_for_buyer_and_seller_with_paging(emulator):
    numbers = _issue(emulator, 12)
    buyer, _keys = login(emulator, nip=samples.BUYER_NIP, permissions=('InvoiceRead',))
    access = buyer['accessToken']['token']
    body = {'subjectType': 'Subject2', 'dateRange': _range(emulator)}
    first = emulator.json('POST', '/invoices/query/metadata?pageSize=10&pageOffset=0', body, token=access, expect=200)
    second = emulator.json('POST', '/invoices/query/metadata?pageSize=10&pageOffset=1', body, token=access, expect=200)
    assert (first['hasMore'], second['hasMore'], first['isTruncated']) == (True, False, False)
    assert [m['ksefNumber'] for m in first['invoices'] + second['invoices']] == numbers
    meta = first['invoices'][0]
    assert meta['buyer']['identifier'] == {'type': 'Nip', 'value': samples.BUYER_NIP}
    assert meta['invoiceType'] == 'Vat' and meta['grossAmount'] == 1845.0 and meta['vatAmount'] == 345.0
    assert 'permanentStorageHwmDate' in first
    as_seller = emulator.json('POST', '/invoices/query/metadata', {**body, 'subjectType': 'Subject2'},
                              token=login(emulator)[0]['accessToken']['token'], expect=200)
    assert as_seller['invoices'] == [], 'the seller is not the buyer of its own invoices'
    filtered = emulator.json('POST', '/invoices/query/metadata', {**body, 'invoiceTypes': ['Kor']}, token=access)
    assert filtered['invoices'] == []


def test_metadata_query_rejects_spans_over_three_months(emulator):
    tokens, keys = login(emulator, permissions=('InvoiceRead',))
    response = emulator.call('POST', '/invoices/query/metadata', {
        'subjectType': 'Subject1', 'dateRange': {'dateType': 'Issue', 'from': '2026-01-01T00:00:00Z',
                                                 'to': '2026-06-01T00:00:00Z'}},
        token=tokens['accessToken']['token'], expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21405


def _read_export(emulator, access, keys, filters, only_metadata=False):
    import io
    import zipfile
    key, iv = crypto.new_session_key()
    public_key, key_id = keys['SymmetricKeyEncryption']
    created = emulator.json('POST', '/invoices/exports', {
        'encryption': {'encryptedSymmetricKey': crypto.b64(crypto.rsa_oaep_encrypt(public_key, key)),
                       'initializationVector': crypto.b64(iv), 'publicKeyId': key_id},
        'filters': filters, 'onlyMetadata': only_metadata}, token=access, expect=201)
    status = emulator.json('GET', f'/invoices/exports/{created["referenceNumber"]}', token=access, expect=200)
    if status['status']['code'] == 100:
        emulator.app.service.clock.advance(2)
        status = emulator.json('GET', f'/invoices/exports/{created["referenceNumber"]}', token=access, expect=200)
    package = status['package']
    data = b''
    for part in package['parts']:
        encrypted = emulator.client.get(part['url'].split('127.0.0.1', 1)[1]).get_data()
        assert crypto.sha256_b64(encrypted) == part['encryptedPartHash']
        plain = crypto.aes_decrypt(key, iv, encrypted)
        assert (len(plain), crypto.sha256_b64(plain)) == (part['partSize'], part['partHash'])
        data += plain
    archive = zipfile.ZipFile(io.BytesIO(data))
    return package, {name: archive.read(name) for name in archive.namelist()}


def test_export_package_with_metadata_and_truncation(api, schema_dir):
    emulator = ContractClient(create_app(auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir),
                                         export_cap=7, export_part_size=4000), api)
    numbers = _issue(emulator, 10)
    tokens, keys = login(emulator, nip=samples.BUYER_NIP, permissions=('InvoiceRead',))
    access = tokens['accessToken']['token']
    filters = {'subjectType': 'Subject2', 'dateRange': {**_range(emulator), 'restrictToPermanentStorageHwmDate': True}}
    package, files = _read_export(emulator, access, keys, filters)
    assert package['isTruncated'] and package['invoiceCount'] == 7 and len(package['parts']) > 1
    metadata = json.loads(files['_metadata.json'])['invoices']
    assert [m['ksefNumber'] for m in metadata] == numbers[:7]
    assert sorted(files) == sorted([f'{n}.xml' for n in numbers[:7]] + ['_metadata.json'])
    assert crypto.sha256_b64(files[f'{numbers[0]}.xml']) == metadata[0]['invoiceHash']
    # the next window starts at the last permanent-storage date of the truncated package
    filters['dateRange']['from'] = package['lastPermanentStorageDate']
    rest, files = _read_export(emulator, access, keys, filters)
    later = [m['ksefNumber'] for m in json.loads(files['_metadata.json'])['invoices']]
    assert set(later) >= set(numbers[7:]) and not rest['isTruncated']


def _xades_login(emulator, key, certificate, context=('Nip', SELLER), subject_type='certificateSubject'):
    from ksef import xades
    challenge = emulator.json('POST', '/auth/challenge', expect=200)
    document = xades.auth_token_request(challenge['challenge'], context[0], context[1], subject_type)
    response = emulator.call('POST', '/auth/xades-signature', raw=xades.sign(document, key, certificate),
                             content_type='application/xml')
    return response


@pytest.mark.parametrize('kind', ['rsa', 'ec'])
def test_xades_login_with_a_company_seal_gives_owner_permissions(emulator, kind):
    from .test_xades import certificate_for
    key = crypto.generate_rsa_key() if kind == 'rsa' else crypto.generate_ec_key()
    certificate = certificate_for(key, organization_identifier=f'VATPL-{SELLER}')
    response = _xades_login(emulator, key, certificate)
    assert response.status_code == 202, response.get_data(as_text=True)
    init = response.json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 200
    assert status['authenticationMethodInfo']['category'] == 'XadesSignature'
    tokens = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'], expect=200)
    open_session(emulator, tokens['accessToken']['token'], public_keys(emulator))


def test_xades_person_without_permission_then_granted(emulator):
    from .test_xades import certificate_for
    key = crypto.generate_ec_key()
    certificate = certificate_for(key, cn='Jan Kowalski', serial='PNOPL-80010112345')
    init = _xades_login(emulator, key, certificate).json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 415
    emulator.client.post('/_emulator/grants', json={'contextIdentifier': {'type': 'Nip', 'value': SELLER},
                                                    'subjectIdentifier': {'type': 'Pesel', 'value': '80010112345'},
                                                    'permissions': ['InvoiceRead']})
    init = _xades_login(emulator, key, certificate).json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 200


def test_xades_fingerprint_subject_and_certificate_without_identifier(emulator):
    from ksef import xades
    from .test_xades import certificate_for
    key = crypto.generate_rsa_key()
    certificate = certificate_for(key, cn='Bez identyfikatora')
    response = _xades_login(emulator, key, certificate)
    assert response.status_code == 400
    assert response.json['exception']['exceptionDetailList'][0]['exceptionCode'] == 21115
    emulator.client.post('/_emulator/grants', json={
        'contextIdentifier': {'type': 'Nip', 'value': SELLER},
        'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(certificate)},
        'permissions': ['InvoiceWrite']})
    init = _xades_login(emulator, key, certificate, subject_type='certificateFingerprint').json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 200


def test_xades_tampered_or_unsigned_document(emulator):
    from ksef import xades
    from .test_xades import certificate_for
    key = crypto.generate_rsa_key()
    certificate = certificate_for(key, organization_identifier=f'VATPL-{SELLER}')
    challenge = emulator.json('POST', '/auth/challenge', expect=200)
    document = xades.auth_token_request(challenge['challenge'], 'Nip', SELLER)
    response = emulator.call('POST', '/auth/xades-signature', raw=document, content_type='application/xml')
    assert response.json['exception']['exceptionDetailList'][0]['exceptionCode'] == 9102
    signed = xades.sign(document, key, certificate).replace(SELLER.encode(), b'7740001454')
    response = emulator.call('POST', '/auth/xades-signature', raw=signed, content_type='application/xml')
    assert response.json['exception']['exceptionDetailList'][0]['exceptionCode'] == 9105


def test_tokens_api_create_list_use_and_revoke(emulator):
    from .test_xades import certificate_for
    key = crypto.generate_ec_key()
    init = _xades_login(emulator, key, certificate_for(key, organization_identifier=f'VATPL-{SELLER}')).json
    owner = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'])
    access = owner['accessToken']['token']
    created = emulator.json('POST', '/tokens', {'permissions': ['InvoiceWrite', 'InvoiceRead'],
                                                'description': 'Odoo l10n_pl_ksef'}, token=access, expect=202)
    listed = emulator.json('GET', '/tokens', token=access, expect=200)
    assert [(t['referenceNumber'], t['status']) for t in listed['tokens']] == [(created['referenceNumber'], 'Active')]
    token_init, operation, status, _keys = authenticate(emulator, created['token'])
    assert status['status']['code'] == 200
    emulator.call('DELETE', f'/tokens/{created["referenceNumber"]}', token=access, expect=204)
    assert emulator.json('GET', f'/tokens/{created["referenceNumber"]}', token=access)['status'] == 'Revoked'
    _init, _operation, status, _keys = authenticate(emulator, created['token'])
    assert status['status']['code'] == 450
    refused = emulator.call('POST', '/tokens', {'permissions': ['EnforcementOperations'], 'description': 'za dużo'},
                            token=access, expect=400)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 26001


def test_auth_sessions_are_listed_and_terminated(emulator):
    tokens, keys = login(emulator)
    other, _keys = login(emulator)
    listed = emulator.json('GET', '/auth/sessions', token=tokens['accessToken']['token'], expect=200)
    assert len(listed['items']) == 2 and sum(i['isCurrent'] for i in listed['items']) == 1
    other_reference = [i['referenceNumber'] for i in listed['items'] if not i['isCurrent']][0]
    emulator.call('DELETE', f'/auth/sessions/{other_reference}', token=tokens['accessToken']['token'], expect=204)
    emulator.call('POST', '/auth/token/refresh', token=other['refreshToken']['token'], expect=401)
    emulator.call('DELETE', '/auth/sessions/current', token=tokens['refreshToken']['token'], expect=204)
    emulator.call('POST', '/auth/token/refresh', token=tokens['refreshToken']['token'], expect=401)


def test_context_and_subject_limits(emulator):
    tokens, keys = login(emulator)
    limits_body = emulator.json('GET', '/limits/context', token=tokens['accessToken']['token'], expect=200)
    assert limits_body['onlineSession'] == {'maxInvoiceSizeInMB': 1, 'maxInvoiceWithAttachmentSizeInMB': 3,
                                            'maxInvoices': 10000}
    emulator.call('GET', '/limits/subject', token=tokens['accessToken']['token'], expect=200)


def test_availability_announcements_and_latarnia_status(emulator):
    assert emulator.client.get('/latarnia/status').json == {'status': 'AVAILABLE', 'messages': []}
    emulator.client.post('/_emulator/availability', json={'category': 'FAILURE', 'title': 'Awaria KSeF'})
    status = emulator.client.get('/latarnia/status').json
    assert status['status'] == 'FAILURE' and status['messages'][0]['type'] == 'FAILURE_START'
    assert emulator.client.post(API_PREFIX + '/auth/challenge').status_code == 503
    emulator.client.post('/_emulator/availability', json={'endAll': True})
    assert emulator.client.get('/latarnia/status').json['status'] == 'AVAILABLE'
    assert emulator.client.get('/latarnia/messages').json[0]['type'] == 'FAILURE_END'
    assert emulator.client.post(API_PREFIX + '/auth/challenge').status_code == 200
    start = emulator.app.service.clock.now() + __import__('datetime').timedelta(hours=1)
    emulator.client.post('/_emulator/availability', json={
        'category': 'MAINTENANCE', 'start': start.isoformat(), 'end': (start + __import__('datetime').timedelta(hours=2)).isoformat()})
    assert emulator.client.get('/latarnia/status').json['status'] == 'AVAILABLE', 'announced, not started yet'
    emulator.app.service.clock.advance(3600 + 60)
    assert emulator.client.get('/latarnia/status').json['status'] == 'MAINTENANCE'


def test_attachment_needs_the_taxpayers_consent(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    files = [('attachment.xml', fa3.build(samples.scenarios()['attachment']))]
    session = send_batch(emulator, access, keys, build_archive(files), parts=1)
    emulator.call('POST', f'/sessions/batch/{session}/close', token=access, expect=204)
    listed = emulator.json('GET', f'/sessions/{session}/invoices', token=access)
    assert listed['invoices'][0]['status']['code'] == 415
    sessions = emulator.json('GET', '/sessions?sessionType=Batch', token=access, expect=200)
    assert [s['referenceNumber'] for s in sessions['sessions']] == [session]
    assert sessions['sessions'][0]['failedInvoiceCount'] == 1


def test_testdata_person_and_permissions(emulator):
    from .test_xades import certificate_for
    emulator.call('POST', '/testdata/subject', {'subjectNip': SELLER, 'subjectType': 'EnforcementAuthority',
                                               'description': 'Podmiot testowy'}, expect=200)
    again = emulator.call('POST', '/testdata/subject', {'subjectNip': SELLER, 'subjectType': 'EnforcementAuthority',
                                                       'description': 'Podmiot testowy'}, expect=400)
    assert json.loads(again.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 30001
    key = crypto.generate_ec_key()
    person = certificate_for(key, cn='Anna Nowak', serial='PNOPL-90010154321')
    grant = {'contextIdentifier': {'type': 'Nip', 'value': SELLER},
             'authorizedIdentifier': {'type': 'Pesel', 'value': '90010154321'},
             'permissions': [{'permissionType': 'InvoiceRead', 'description': 'odczyt'}]}

    def login_status():
        init = _xades_login(emulator, key, person).json
        return emulator.json('GET', f'/auth/{init["referenceNumber"]}',
                             token=init['authenticationToken']['token'])['status']['code']

    emulator.call('POST', '/testdata/permissions', grant, expect=200)
    assert login_status() == 200
    emulator.call('POST', '/testdata/permissions/revoke', grant, expect=200)
    assert login_status() == 415


def _csr(key, fields):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from ksef.emulator.certificates import DN_FIELDS
    name = x509.Name([x509.NameAttribute(DN_FIELDS[k], v) for k, v in fields.items() if v is not None])
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization
    return crypto.b64(request.public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize('kind', ['rsa', 'ec'])
def test_certificate_enrollment_then_login_with_the_ksef_certificate(emulator, kind):
    from .test_xades import certificate_for
    seal_key = crypto.generate_rsa_key()
    init = _xades_login(emulator, seal_key, certificate_for(seal_key, organization_identifier=f'VATPL-{SELLER}')).json
    access = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'])['accessToken']['token']
    limits_before = emulator.json('GET', '/certificates/limits', token=access, expect=200)
    fields = emulator.json('GET', '/certificates/enrollments/data', token=access, expect=200)
    assert fields['organizationIdentifier'] == f'VATPL-{SELLER}'
    key = crypto.generate_rsa_key() if kind == 'rsa' else crypto.generate_ec_key()
    enrolled = emulator.json('POST', '/certificates/enrollments', {
        'certificateName': 'Odoo KSeF login', 'certificateType': 'Authentication', 'csr': _csr(key, fields)},
        token=access, expect=202)
    status = emulator.json('GET', f'/certificates/enrollments/{enrolled["referenceNumber"]}', token=access, expect=200)
    serial = status['certificateSerialNumber']
    retrieved = emulator.json('POST', '/certificates/retrieve', {'certificateSerialNumbers': [serial]}, token=access)
    certificate = crypto.load_der_certificate(crypto.unb64(retrieved['certificates'][0]['certificate']))
    limits_after = emulator.json('GET', '/certificates/limits', token=access)
    assert limits_after['certificate']['remaining'] == limits_before['certificate']['remaining'] - 1
    login_init = _xades_login(emulator, key, certificate).json
    login_status = emulator.json('GET', f'/auth/{login_init["referenceNumber"]}',
                                 token=login_init['authenticationToken']['token'])
    assert login_status['status']['code'] == 200
    assert login_status['authenticationMethod'] == 'InternalCertificate'
    listed = emulator.json('POST', '/certificates/query', {}, token=access, expect=200)
    assert [c['certificateSerialNumber'] for c in listed['certificates']] == [serial]
    emulator.call('POST', f'/certificates/{serial}/revoke', {'revocationReason': 'Superseded'}, token=access, expect=204)
    revoked = _xades_login(emulator, key, certificate).json
    assert emulator.json('GET', f'/auth/{revoked["referenceNumber"]}',
                         token=revoked['authenticationToken']['token'])['status']['code'] == 460


def test_certificate_enrollment_refusals(emulator):
    from .test_xades import certificate_for
    tokens, _keys = login(emulator)
    refused = emulator.call('GET', '/certificates/enrollments/data', token=tokens['accessToken']['token'], expect=400)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 25001
    seal_key = crypto.generate_rsa_key()
    init = _xades_login(emulator, seal_key, certificate_for(seal_key, organization_identifier=f'VATPL-{SELLER}')).json
    access = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'])['accessToken']['token']
    fields = emulator.json('GET', '/certificates/enrollments/data', token=access)
    other = dict(fields, organizationIdentifier='VATPL-7740001454')
    response = emulator.call('POST', '/certificates/enrollments', {
        'certificateName': 'Cudzy certyfikat', 'certificateType': 'Offline', 'csr': _csr(crypto.generate_ec_key(), other)},
        token=access, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 25003
    weak = crypto.generate_rsa_key(bits=3072)
    response = emulator.call('POST', '/certificates/enrollments', {
        'certificateName': 'Za duzy klucz', 'certificateType': 'Offline', 'csr': _csr(weak, fields)},
        token=access, expect=400)
    assert json.loads(response.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 25010


def test_technical_correction_of_a_rejected_offline_invoice(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(emulator, access, keys)
    good = fa3.build(samples.scenarios()['vat_23'])
    bad = good.replace(b'<KodWaluty>PLN</KodWaluty>', b'<KodWaluty>QQQ</KodWaluty>')
    rejected = json.loads(send(emulator, access, session, key, iv, bad, offlineMode=True).get_data())['referenceNumber']
    assert emulator.json('GET', f'/sessions/{session}/invoices/{rejected}', token=access)['status']['code'] == 450
    correction = send(emulator, access, session, key, iv, good, offlineMode=True,
                      hashOfCorrectedInvoice=crypto.sha256_b64(bad))
    assert correction.status_code == 202
    reference = json.loads(correction.get_data())['referenceNumber']
    status = emulator.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)
    assert status['status']['code'] == 200 and status['invoicingMode'] == 'Offline'
    again = send(emulator, access, session, key, iv, good, offlineMode=True, hashOfCorrectedInvoice=crypto.sha256_b64(bad))
    assert json.loads(again.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21166
    accepted_hash = crypto.sha256_b64(good)
    refused = send(emulator, access, session, key, iv, good, offlineMode=True, hashOfCorrectedInvoice=accepted_hash)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21167


def test_documented_coverage_table_is_current(spec_dir):
    import pathlib
    from ksef.cli import operations_table
    doc = (pathlib.Path(__file__).resolve().parents[2] / 'doc' / 'emulator.md').read_text(encoding='utf-8')
    assert operations_table(spec_dir / 'openapi' / 'open-api.json') in doc, \
        'regenerate: python -m ksef emulator --operations-table OPEN_API_JSON --write-doc doc/emulator.md'


def test_state_survives_a_restart(tmp_path, api, schema_dir):
    from ksef.emulator.persistence import StateFile
    first = ContractClient(create_app(auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir)), api)
    tokens, keys = login(first)
    access = tokens['accessToken']['token']
    session, key, iv = open_session(first, access, keys)
    reference = json.loads(send(first, access, session, key, iv, fa3.build(samples.scenarios()['vat_23'])).get_data())[
        'referenceNumber']
    number = first.json('GET', f'/sessions/{session}/invoices/{reference}', token=access)['ksefNumber']
    path = tmp_path / 'emulator.state'
    StateFile(first.app.service, str(path)).save(force=True)

    second = ContractClient(create_app(auth_delay=0, invoice_delay=0, schema_dir=str(schema_dir)), api)
    assert StateFile(second.app.service, str(path)).load()
    status = second.json('GET', f'/sessions/{session}/invoices/{reference}', token=access, expect=200)
    assert status['ksefNumber'] == number, 'tokens, sessions and invoices are back'
    assert [k['publicKeyId'] for k in second.json('GET', '/security/public-key-certificates')] == \
        [k['publicKeyId'] for k in first.json('GET', '/security/public-key-certificates')]
    duplicate = json.loads(send(second, access, session, key, iv, fa3.build(samples.scenarios()['vat_23'])).get_data())
    assert second.json('GET', f'/sessions/{session}/invoices/{duplicate["referenceNumber"]}',
                       token=access)['status']['code'] == 440


def test_permissions_grant_query_use_and_revoke(emulator):
    from .test_xades import certificate_for
    owner, _keys = login(emulator, permissions=('CredentialsManage', 'InvoiceWrite', 'InvoiceRead'))
    access = owner['accessToken']['token']
    operation = emulator.json('POST', '/permissions/persons/grants', {
        'subjectIdentifier': {'type': 'Pesel', 'value': '80010112345'}, 'permissions': ['InvoiceRead', 'InvoiceWrite'],
        'description': 'Księgowa Anna',
        'subjectDetails': {'subjectDetailsType': 'PersonByIdentifier',
                           'personById': {'firstName': 'Anna', 'lastName': 'Nowak'}}}, token=access, expect=202)
    assert emulator.json('GET', f'/permissions/operations/{operation["referenceNumber"]}',
                         token=access, expect=200)['status']['code'] == 200
    granted = emulator.json('POST', '/permissions/query/persons/grants', {'queryType': 'PermissionsInCurrentContext'},
                            token=access, expect=200)
    assert sorted(p['permissionScope'] for p in granted['permissions']) == ['InvoiceRead', 'InvoiceWrite']
    key = crypto.generate_ec_key()
    person = certificate_for(key, cn='Anna Nowak', serial='PNOPL-80010112345')
    init = _xades_login(emulator, key, person).json
    assert emulator.json('GET', f'/auth/{init["referenceNumber"]}',
                         token=init['authenticationToken']['token'])['status']['code'] == 200
    personal = emulator.json('POST', '/permissions/query/personal/grants', {},
                             token=emulator.json('POST', '/auth/token/redeem',
                                                 token=init['authenticationToken']['token'])['accessToken']['token'],
                             expect=200)
    assert {p['contextIdentifier']['value'] for p in personal['permissions']} == {SELLER}
    for permission in granted['permissions']:
        emulator.call('DELETE', f'/permissions/common/grants/{permission["id"]}', token=access, expect=202)
    init = _xades_login(emulator, key, person).json
    assert emulator.json('GET', f'/auth/{init["referenceNumber"]}',
                         token=init['authenticationToken']['token'])['status']['code'] == 415


def test_entity_permission_for_an_accounting_office(emulator):
    owner, _keys = login(emulator, permissions=('CredentialsManage',))
    emulator.call('POST', '/permissions/entities/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': '7740001454'},
        'permissions': [{'type': 'InvoiceRead', 'canDelegate': True}], 'description': 'Biuro rachunkowe',
        'subjectDetails': {'fullName': 'Biuro Rachunkowe Sp. z o.o.'}}, token=owner['accessToken']['token'], expect=202)
    office, _keys = login(emulator, nip='7740001454', permissions=('InvoiceRead',))
    held = emulator.json('POST', '/permissions/query/entities/grants', {}, token=office['accessToken']['token'],
                         expect=200)
    assert [(p['contextIdentifier']['value'], p['permissionScope'], p['canDelegate']) for p in held['permissions']] == \
        [(SELLER, 'InvoiceRead', True)]


def test_testdata_rate_limit_override_and_context_block(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    tight = {name: limit.as_dict() for name, limit in limits.GROUPS.items()}
    tight['sessionMisc'] = {'perSecond': 2, 'perMinute': 2, 'perHour': 2}
    emulator.call('POST', '/testdata/rate-limits', {'rateLimits': tight}, token=access, expect=200)
    assert emulator.json('GET', '/rate-limits', token=access)['sessionMisc'] == tight['sessionMisc']
    codes = [emulator.call('GET', '/sessions/20250901-SO-0000000000-0000000000-00', token=access).status_code
             for _ in range(3)]
    assert codes == [400, 400, 429]
    emulator.call('POST', '/testdata/rate-limits/production', token=access, expect=200)
    assert emulator.json('GET', '/rate-limits', token=access)['sessionMisc'] == limits.GROUPS['sessionMisc'].as_dict()
    emulator.call('POST', '/testdata/context/block', {'contextIdentifier': {'type': 'Nip', 'value': SELLER}}, expect=200)
    init, operation, status, _keys = authenticate(emulator, mint_token(emulator))
    assert status['status']['code'] == 480
    emulator.call('POST', '/testdata/context/unblock', {'contextIdentifier': {'type': 'Nip', 'value': SELLER}}, expect=200)
    init, operation, status, _keys = authenticate(emulator, mint_token(emulator))
    assert status['status']['code'] == 200


def _grant_body(subject, **extra):
    return {'subjectIdentifier': subject, 'description': 'Uprawnienie testowe',
            'subjectDetails': {'subjectDetailsType': 'PersonByIdentifier',
                               'personById': {'firstName': 'Jan', 'lastName': 'Kowalski'}}, **extra}


def test_subunit_manager_logs_in_to_the_internal_id(emulator):
    from .test_xades import certificate_for
    owner, _keys = login(emulator, permissions=('CredentialsManage', 'SubunitManage'))
    access = owner['accessToken']['token']
    internal_id = f'{SELLER}-0001{identifiers.internal_id_check_digit(SELLER + "0001")}'
    emulator.call('POST', '/permissions/subunits/grants', _grant_body(
        {'type': 'Pesel', 'value': '80010112345'}, contextIdentifier={'type': 'InternalId', 'value': internal_id},
        subunitName='Oddział Kraków'), token=access, expect=202)
    listed = emulator.json('POST', '/permissions/query/subunits/grants', {}, token=access, expect=200)
    assert [p['subunitIdentifier']['value'] for p in listed['permissions']] == [internal_id]
    key = crypto.generate_ec_key()
    init = _xades_login(emulator, key, certificate_for(key, cn='Jan', serial='PNOPL-80010112345'),
                        context=('InternalId', internal_id)).json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 200


def test_self_billing_authorisation_lets_the_buyer_invoice_for_the_seller(emulator):
    buyer = samples.BUYER_NIP
    seller_tokens, _keys = login(emulator, permissions=('CredentialsManage',))
    buyer_tokens, keys = login(emulator, nip=buyer)
    access = buyer_tokens['accessToken']['token']
    invoice = samples.scenarios()['self_billing']
    session, key, iv = open_session(emulator, access, keys)
    first = json.loads(send(emulator, access, session, key, iv, fa3.build(invoice)).get_data())['referenceNumber']
    assert emulator.json('GET', f'/sessions/{session}/invoices/{first}', token=access)['status']['code'] == 410
    emulator.call('POST', '/permissions/authorizations/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': buyer}, 'permission': 'SelfInvoicing',
        'description': 'Samofakturowanie mleka', 'subjectDetails': {'fullName': 'Nowak Handel S.A.'}},
        token=seller_tokens['accessToken']['token'], expect=202)
    received = emulator.json('POST', '/permissions/query/authorizations/grants', {'queryType': 'Received'},
                             token=access, expect=200)
    assert [g['authorizationScope'] for g in received['authorizationGrants']] == ['SelfInvoicing']
    invoice.body.number = 'FV/SF/2'
    second = json.loads(send(emulator, access, session, key, iv, fa3.build(invoice)).get_data())['referenceNumber']
    assert emulator.json('GET', f'/sessions/{session}/invoices/{second}', token=access)['status']['code'] == 200


def test_indirect_permission_through_an_accounting_office(emulator):
    from .test_xades import certificate_for
    office = '7740001454'
    owner, _keys = login(emulator, permissions=('CredentialsManage',))
    emulator.call('POST', '/permissions/entities/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': office}, 'permissions': [{'type': 'InvoiceRead', 'canDelegate': True}],
        'description': 'Biuro rachunkowe', 'subjectDetails': {'fullName': 'Biuro'}},
        token=owner['accessToken']['token'], expect=202)
    office_tokens, _keys = login(emulator, nip=office, permissions=('CredentialsManage',))
    emulator.call('POST', '/permissions/indirect/grants', _grant_body(
        {'type': 'Pesel', 'value': '85020254321'}, permissions=['InvoiceRead'],
        targetIdentifier={'type': 'Nip', 'value': SELLER}), token=office_tokens['accessToken']['token'], expect=202)
    key = crypto.generate_ec_key()
    init = _xades_login(emulator, key, certificate_for(key, cn='Ewa', serial='PNOPL-85020254321')).json
    status = emulator.json('GET', f'/auth/{init["referenceNumber"]}', token=init['authenticationToken']['token'])
    assert status['status']['code'] == 200
    emulator.json('GET', '/permissions/query/entities/roles', token=owner['accessToken']['token'], expect=200)
    emulator.json('POST', '/permissions/query/subordinate-entities/roles', {}, token=owner['accessToken']['token'],
                  expect=200)


def test_testdata_session_limits_are_enforced(emulator):
    tokens, keys = login(emulator)
    access = tokens['accessToken']['token']
    small = {'maxInvoiceSizeInMB': 0, 'maxInvoiceWithAttachmentSizeInMB': 1, 'maxInvoices': 1}
    emulator.call('POST', '/testdata/limits/context/session', {'onlineSession': small, 'batchSession': small},
                  token=access, expect=200)
    assert emulator.json('GET', '/limits/context', token=access)['onlineSession'] == small
    session, key, iv = open_session(emulator, access, keys)
    first = json.loads(send(emulator, access, session, key, iv, fa3.build(samples.scenarios()['vat_23'])).get_data())
    status = emulator.json('GET', f'/sessions/{session}/invoices/{first["referenceNumber"]}', token=access)
    assert status['status']['code'] == 450 and 'rozmiar' in status['status']['details'][0]
    second = send(emulator, access, session, key, iv, fa3.build(samples.scenarios()['vat_mixed_23_8_5']))
    assert json.loads(second.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 21155
    emulator.call('DELETE', '/testdata/limits/context/session', token=access, expect=200)
    assert emulator.json('GET', '/limits/context', token=access)['onlineSession']['maxInvoices'] == 10000


def test_testdata_certificate_limits_and_validity(emulator):
    from .test_xades import certificate_for
    seal_key = crypto.generate_rsa_key()
    init = _xades_login(emulator, seal_key, certificate_for(seal_key, organization_identifier=f'VATPL-{SELLER}')).json
    access = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'])['accessToken']['token']
    emulator.call('POST', '/testdata/limits/subject/certificate', {'certificate': {'maxCertificates': 1}},
                  token=access, expect=200)
    fields = emulator.json('GET', '/certificates/enrollments/data', token=access)
    emulator.call('POST', '/certificates/enrollments', {'certificateName': 'Pierwszy cert', 'certificateType': 'Offline',
                                                        'csr': _csr(crypto.generate_ec_key(), fields)}, token=access, expect=202)
    refused = emulator.call('POST', '/certificates/enrollments', {
        'certificateName': 'Drugi cert', 'certificateType': 'Offline', 'csr': _csr(crypto.generate_ec_key(), fields)},
        token=access, expect=400)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 25007
    serial = emulator.json('POST', '/certificates/query', {}, token=access)['certificates'][0]['certificateSerialNumber']
    emulator.call('PUT', f'/testdata/certificates/{serial}', {'validTo': '2026-12-01T00:00:00+00:00'}, token=access,
                  expect=200)
    listed = emulator.json('POST', '/certificates/query', {}, token=access)
    assert listed['certificates'][0]['validTo'].startswith('2026-12-01')
    assert emulator.json('GET', '/peppol/query', expect=200) == {'peppolProviders': [], 'hasMore': False}


def test_testdata_person_links_pesel_to_nip_and_can_be_removed(emulator):
    from .test_xades import certificate_for
    emulator.call('POST', '/testdata/person', {'nip': SELLER, 'pesel': '70010112345', 'isBailiff': False,
                                              'description': 'Właściciel firmy'}, expect=200)
    key = crypto.generate_ec_key()
    person = certificate_for(key, cn='Właściciel', serial='PNOPL-70010112345')
    init = _xades_login(emulator, key, person).json
    assert emulator.json('GET', f'/auth/{init["referenceNumber"]}',
                         token=init['authenticationToken']['token'])['status']['code'] == 200
    emulator.call('POST', '/testdata/person/remove', {'nip': SELLER}, expect=200)
    init = _xades_login(emulator, key, person).json
    assert emulator.json('GET', f'/auth/{init["referenceNumber"]}',
                         token=init['authenticationToken']['token'])['status']['code'] == 415


def test_eu_entity_administrator_and_representative(emulator):
    from ksef import xades
    from .test_xades import certificate_for
    owner, _keys = login(emulator, permissions=('CredentialsManage',))
    admin_key = crypto.generate_ec_key()
    admin_certificate = certificate_for(admin_key, cn='EU admin')
    context = f'{SELLER}-DE811907980'
    emulator.call('POST', '/permissions/eu-entities/administration/grants', {
        'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(admin_certificate)},
        'contextIdentifier': {'type': 'NipVatUe', 'value': context}, 'description': 'Administrator UE',
        'euEntityName': 'Müller GmbH', 'subjectDetails': {'subjectDetailsType': 'PersonByFingerprintWithoutIdentifier'},
        'euEntityDetails': {'fullName': 'Müller GmbH', 'address': 'Hauptstraße 12, Berlin'}},
        token=owner['accessToken']['token'], expect=202)
    init = _xades_login(emulator, admin_key, admin_certificate, context=('NipVatUe', context),
                        subject_type='certificateFingerprint').json
    admin = emulator.json('POST', '/auth/token/redeem', token=init['authenticationToken']['token'], expect=200)
    representative = certificate_for(crypto.generate_ec_key(), cn='EU rep')
    emulator.call('POST', '/permissions/eu-entities/grants', {
        'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(representative)},
        'permissions': ['InvoiceRead'], 'description': 'Reprezentant UE',
        'subjectDetails': {'subjectDetailsType': 'PersonByFingerprintWithoutIdentifier'}},
        token=admin['accessToken']['token'], expect=202)
    listed = emulator.json('POST', '/permissions/query/eu-entities/grants', {}, token=owner['accessToken']['token'],
                           expect=200)
    assert sorted(p['permissionScope'] for p in listed['permissions']) == ['InvoiceRead', 'VatUeManage']
    assert {p['vatUeIdentifier'] for p in listed['permissions']} == {'DE811907980'}


def test_collective_identifier_for_paying_invoices_together(emulator):
    numbers = _issue(emulator, 3)
    buyer, _keys = login(emulator, nip=samples.BUYER_NIP, permissions=('InvoiceRead', 'InvoiceWrite'))
    access = buyer['accessToken']['token']
    created = emulator.json('POST', '/collective-identifiers', {'invoices': [
        {'ksefNumber': n, 'description': f'Faktura {i}'} for i, n in enumerate(numbers[:2])]}, token=access, expect=201)
    identifier = created['collectiveIdentifierNumber']
    assert len(identifier) == 35
    again = emulator.call('POST', '/collective-identifiers', {'invoices': [{'ksefNumber': numbers[0]}]}, token=access,
                          expect=400)
    assert json.loads(again.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 71002
    invoices = emulator.json('GET', f'/collective-identifiers/{identifier}/invoices', token=access, expect=200)
    assert [i['ksefNumber'] for i in invoices['invoices']] == numbers[:2]
    by_number = emulator.json('GET', f'/collective-identifiers/ksef/{numbers[0]}', token=access, expect=200)
    assert [c['collectiveIdentifierNumber'] for c in by_number['collectiveIdentifiers']] == [identifier]
    now = emulator.app.service.clock.now()
    found = emulator.json('POST', '/collective-identifiers/query', {
        'dateCreatedFrom': (now - __import__('datetime').timedelta(hours=1)).isoformat(),
        'dateCreatedTo': (now + __import__('datetime').timedelta(hours=1)).isoformat()}, token=access, expect=200)
    assert [(c['collectiveIdentifierNumber'], c['invoiceCount']) for c in found['collectiveIdentifiers']] == [(identifier, 2)]
    stranger, _keys = login(emulator, nip='7740001454', permissions=('InvoiceWrite',))
    refused = emulator.call('POST', '/collective-identifiers', {'invoices': [{'ksefNumber': numbers[2]}]},
                            token=stranger['accessToken']['token'], expect=400)
    assert json.loads(refused.get_data())['exception']['exceptionDetailList'][0]['exceptionCode'] == 71001
