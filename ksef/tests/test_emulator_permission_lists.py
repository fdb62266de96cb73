"""The permission lists of a context as the contract describes them: persons and entities (an accounting office)
in one list told apart by their subject details, authorizations and subunit administrators with names; subject
details that fit the identifier (a certificate fingerprint needs the PersonByFingerprint... details)."""
from ksef import identifiers

from .test_emulator import SELLER, api, emulator, login  # noqa: F401  (pytest fixtures)

FINGERPRINT = 'AB' * 32
PERSON = {'subjectDetailsType': 'PersonByIdentifier', 'personById': {'firstName': 'Anna', 'lastName': 'Nowak'}}


def _owner(emulator):
    tokens, _keys = login(emulator, permissions=('CredentialsManage', 'SubunitManage'))
    return tokens['accessToken']['token']


def test_persons_list_holds_persons_and_entities_with_their_details(emulator):
    access = _owner(emulator)
    emulator.call('POST', '/permissions/persons/grants', {
        'subjectIdentifier': {'type': 'Pesel', 'value': '44051401359'}, 'permissions': ['InvoiceRead'],
        'description': 'Księgowa Anna', 'subjectDetails': PERSON}, token=access, expect=202)
    emulator.call('POST', '/permissions/persons/grants', {
        'subjectIdentifier': {'type': 'Fingerprint', 'value': FINGERPRINT}, 'permissions': ['InvoiceWrite'],
        'description': 'Jan z certyfikatem', 'subjectDetails': {
            'subjectDetailsType': 'PersonByFingerprintWithoutIdentifier', 'personByFpNoId': {
                'firstName': 'Jan', 'lastName': 'Müller', 'birthDate': '1980-01-01',
                'idDocument': {'type': 'Paszport', 'number': 'C01X00T47', 'country': 'DE'}}}}, token=access, expect=202)
    emulator.call('POST', '/permissions/entities/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': '7740001454'},
        'permissions': [{'type': 'InvoiceWrite', 'canDelegate': True}], 'description': 'Biuro rachunkowe',
        'subjectDetails': {'fullName': 'Biuro Rachunkowe Sp. z o.o.'}}, token=access, expect=202)
    listed = emulator.json('POST', '/permissions/query/persons/grants', {'queryType': 'PermissionsInCurrentContext'},
                           token=access, expect=200)['permissions']
    by_subject = {p['authorizedIdentifier']['value']: p for p in listed}
    assert by_subject['44051401359']['subjectPersonDetails']['lastName'] == 'Nowak'
    assert 'subjectEntityDetails' not in by_subject['44051401359']
    assert by_subject[FINGERPRINT]['subjectPersonDetails']['idDocument']['country'] == 'DE'
    office = by_subject['7740001454']
    assert (office['subjectEntityDetails']['fullName'], office['permissionScope'], office['canDelegate']) == \
        ('Biuro Rachunkowe Sp. z o.o.', 'InvoiceWrite', True)
    emulator.call('DELETE', f'/permissions/common/grants/{office["id"]}', token=access, expect=202)
    listed = emulator.json('POST', '/permissions/query/persons/grants', {'queryType': 'PermissionsInCurrentContext'},
                           token=access, expect=200)['permissions']
    assert sorted(p['authorizedIdentifier']['value'] for p in listed) == ['44051401359', FINGERPRINT]


def test_subject_details_must_fit_the_identifier(emulator):
    access = _owner(emulator)
    for subject, details in (({'type': 'Fingerprint', 'value': FINGERPRINT}, PERSON),
                             ({'type': 'Pesel', 'value': '44051401359'},
                              {'subjectDetailsType': 'PersonByFingerprintWithIdentifier'}),
                             ({'type': 'Fingerprint', 'value': FINGERPRINT},
                              {'subjectDetailsType': 'PersonByFingerprintWithIdentifier'})):
        response = emulator.call('POST', '/permissions/persons/grants', {
            'subjectIdentifier': subject, 'permissions': ['InvoiceRead'], 'description': 'Niepasujące dane',
            'subjectDetails': details}, token=access)
        assert response.status_code == 400, (subject, details)
    assert emulator.json('POST', '/permissions/query/persons/grants', {'queryType': 'PermissionsInCurrentContext'},
                         token=access)['permissions'] == []


def test_authorizations_and_subunits_carry_names(emulator):
    access = _owner(emulator)
    emulator.call('POST', '/permissions/authorizations/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': '6808208874'}, 'permission': 'SelfInvoicing',
        'description': 'Samofakturowanie', 'subjectDetails': {'fullName': 'Nowak Handel S.A.'}}, token=access, expect=202)
    granted = emulator.json('POST', '/permissions/query/authorizations/grants', {'queryType': 'Granted'},
                            token=access, expect=200)['authorizationGrants']
    assert [(g['authorizationScope'], g['subjectEntityDetails']['fullName']) for g in granted] == \
        [('SelfInvoicing', 'Nowak Handel S.A.')]
    internal_id = f'{SELLER}-0002{identifiers.internal_id_check_digit(SELLER + "0002")}'
    emulator.call('POST', '/permissions/subunits/grants', {
        'subjectIdentifier': {'type': 'Pesel', 'value': '44051401359'}, 'subjectDetails': PERSON,
        'contextIdentifier': {'type': 'InternalId', 'value': internal_id}, 'subunitName': 'Oddział Gdańsk',
        'description': 'Administrator oddziału'}, token=access, expect=202)
    subunits = emulator.json('POST', '/permissions/query/subunits/grants', {}, token=access, expect=200)['permissions']
    assert [(s['subunitIdentifier']['value'], s['subunitName'], s['subjectPersonDetails']['firstName'])
            for s in subunits] == [(internal_id, 'Oddział Gdańsk', 'Anna')]


def test_authorization_is_revoked_through_its_own_endpoint_only(emulator):
    access = _owner(emulator)
    emulator.call('POST', '/permissions/authorizations/grants', {
        'subjectIdentifier': {'type': 'Nip', 'value': '6808208874'}, 'permission': 'TaxRepresentative',
        'description': 'Przedstawiciel podatkowy', 'subjectDetails': {'fullName': 'Nowak Handel S.A.'}},
        token=access, expect=202)
    grant = emulator.json('POST', '/permissions/query/authorizations/grants', {'queryType': 'Granted'},
                          token=access)['authorizationGrants'][0]
    assert emulator.call('DELETE', f'/permissions/common/grants/{grant["id"]}', token=access).status_code == 400
    emulator.call('DELETE', f'/permissions/authorizations/grants/{grant["id"]}', token=access, expect=202)
    assert emulator.json('POST', '/permissions/query/authorizations/grants', {'queryType': 'Granted'},
                         token=access)['authorizationGrants'] == []


def test_enforcement_operations_outside_an_enforcement_authority_fail_with_430(emulator):
    access = _owner(emulator)
    operation = emulator.json('POST', '/permissions/persons/grants', {
        'subjectIdentifier': {'type': 'Pesel', 'value': '44051401359'}, 'description': 'Egzekucja',
        'permissions': ['InvoiceRead', 'EnforcementOperations'], 'subjectDetails': PERSON}, token=access, expect=202)
    status = emulator.json('GET', f'/permissions/operations/{operation["referenceNumber"]}', token=access)['status']
    assert status['code'] == 430
    assert emulator.json('POST', '/permissions/query/persons/grants', {'queryType': 'PermissionsInCurrentContext'},
                         token=access)['permissions'] == [], 'nothing granted'
