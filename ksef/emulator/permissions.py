"""Permissions in a context: grants to persons (NIP, PESEL, fingerprint) and to entities (e.g. an accounting
office), revocation, asynchronous operation statuses, and the queries. Mixed into KsefService."""
import datetime
import uuid

from .http import ApiError, bad_request, read_json, require
from .state import iso, reference_number

VALIDATION = 'Błąd walidacji danych wejściowych.'
PERSON_SCOPES = {'CredentialsManage', 'CredentialsRead', 'InvoiceWrite', 'InvoiceRead', 'Introspection',
                 'SubunitManage', 'EnforcementOperations', 'CollectiveIdentifierManage'}


class PermissionsMixin:

    def _operation(self, now, status=(200, 'Operacja zakończona sukcesem')):
        ref = reference_number(now, 'PO')
        self.state.permission_operations[ref] = {
            'ready_at': now + datetime.timedelta(seconds=self.options.auth_delay), 'status': status,
            'context': None}
        return ref

    def _granting_auth(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'CredentialsManage')
        return auth

    def _record(self, auth, kind, subject, scope, description, can_delegate, details=None):
        record = {'id': str(uuid.uuid4()), 'kind': kind,
                  'context': {'type': auth.context_type, 'value': auth.context_value},
                  'subject': dict(subject), 'scope': scope, 'description': description,
                  'start': iso(self.clock.now()), 'canDelegate': bool(can_delegate),
                  'author': dict(auth.subject) if auth.subject.get('type') in ('Nip', 'Pesel', 'Fingerprint')
                  else {'type': 'Nip', 'value': auth.context_value.split('-')[0]}, 'details': details}
        self.state.permission_records[record['id']] = record
        return record

    def grant_person_permissions(self, request):
        auth = self._granting_auth(request)
        data = read_json(request)
        require(data, 'subjectIdentifier', 'permissions', 'description', 'subjectDetails')
        subject, permissions = data['subjectIdentifier'], data['permissions']
        if not isinstance(subject, dict) or subject.get('type') not in ('Nip', 'Pesel', 'Fingerprint') \
                or not subject.get('value'):
            raise bad_request(21405, VALIDATION, 'subjectIdentifier: type Nip, Pesel or Fingerprint and a value')
        if not isinstance(permissions, list) or not permissions or set(permissions) - PERSON_SCOPES:
            raise bad_request(21405, VALIDATION, f'permissions must be some of {sorted(PERSON_SCOPES)}')
        if not 5 <= len(str(data['description'])) <= 256:
            raise bad_request(21405, VALIDATION, 'description must have 5 to 256 characters')
        _check_person_details(subject, data['subjectDetails'])
        if 'EnforcementOperations' in permissions and not self._is_enforcement_authority(auth):
            # accepted, then failed: the operation status says why (documented status 430)
            return 202, {'referenceNumber': self._operation(self.clock.now(), status=(
                430, 'Kontekst identyfikatora nie odpowiada wymaganej roli lub uprawnieniom'))}
        for scope in permissions:
            self._record(auth, 'person', subject, scope, data['description'], False, data['subjectDetails'])
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def grant_entity_permissions(self, request):
        auth = self._granting_auth(request)
        data = read_json(request)
        require(data, 'subjectIdentifier', 'permissions', 'description', 'subjectDetails')
        subject, permissions = data['subjectIdentifier'], data['permissions']
        if not isinstance(subject, dict) or subject.get('type') != 'Nip' or not subject.get('value'):
            raise bad_request(21405, VALIDATION, 'subjectIdentifier: an entity is identified by its NIP')
        if not isinstance(permissions, list) or not permissions or \
                any(not isinstance(p, dict) or p.get('type') not in ('InvoiceWrite', 'InvoiceRead') for p in permissions):
            raise bad_request(21405, VALIDATION, 'permissions: InvoiceWrite and/or InvoiceRead')
        for permission in permissions:
            self._record(auth, 'entity', subject, permission['type'], data['description'],
                         permission.get('canDelegate'), data['subjectDetails'])
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def _is_enforcement_authority(self, auth):
        """EnforcementOperations only in the context of an enforcement authority (a test subject of that type)."""
        subject = self.state.subjects.get(auth.context_value.split('-')[0]) or {}
        return subject.get('subjectType') == 'EnforcementAuthority'

    def revoke_permission(self, request, permissionId):
        """The common revoke; entity authorizations (self-billing ...) have their own endpoint."""
        auth = self._granting_auth(request)
        record = self.state.permission_records.get(permissionId)
        if record is None or record['kind'] == 'authorization' or \
                record['context'] != {'type': auth.context_type, 'value': auth.context_value}:
            raise bad_request(21405, VALIDATION, f'Nie znaleziono uprawnienia {permissionId}.')
        del self.state.permission_records[permissionId]
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def permission_operation_status(self, request, referenceNumber):
        self.context_of_request(request)
        operation = self.state.permission_operations.get(referenceNumber)
        if operation is None:
            raise ApiError(410, description='Status operacji nie jest już dostępny.')
        if self.clock.now() < operation['ready_at']:
            return 200, {'status': {'code': 100, 'description': 'Operacja przyjęta do realizacji'}}
        code, description = operation['status']
        return 200, {'status': {'code': code, 'description': description}}

    def granted_scopes(self, context, subject):
        """Scopes held through grants made with the permissions API (directly, as the person responsible for a
        subunit, or indirectly through an intermediary entity)."""
        direct = {r['scope'] for r in self.state.permission_records.values()
                  if r['kind'] in ('person', 'entity', 'eu') and r['context'] == context and r['subject'] == subject}
        subunit = {r['scope'] for r in self.state.permission_records.values()
                   if r['kind'] == 'subunit' and r['subunit'] == context and r['subject'] == subject}
        return direct | subunit | self.grant_scopes_from_indirect(context, subject)

    def _paged(self, request, items):
        return self.offset_page(request, items, largest=100)

    def query_person_permissions(self, request):
        """Persons and entities (e.g. an accounting office) holding permissions in the current context; an
        entity is told apart by its subjectEntityDetails."""
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'CredentialsManage', 'CredentialsRead')
        data = read_json(request)
        if data.get('queryType') not in ('PermissionsInCurrentContext', 'PermissionsGrantedInCurrentContext'):
            raise bad_request(21405, VALIDATION, 'queryType is required')
        context = {'type': auth.context_type, 'value': auth.context_value}
        records = [r for r in self.state.permission_records.values()
                   if r['kind'] in ('person', 'entity') and r['context'] == context]
        wanted = data.get('authorizedIdentifier')
        if wanted:
            records = [r for r in records if r['subject'] == {'type': wanted.get('type'), 'value': wanted.get('value')}]
        if data.get('permissionTypes'):
            records = [r for r in records if r['scope'] in data['permissionTypes']]
        if data.get('permissionState') == 'Inactive':
            records = []
        page, more = self._paged(request, records)
        return 200, {'permissions': [dict({
            'id': r['id'], 'authorizedIdentifier': r['subject'], 'contextIdentifier': r['context'],
            'authorIdentifier': r['author'], 'permissionScope': r['scope'], 'description': r['description'],
            'permissionState': 'Active', 'startDate': r['start'], 'canDelegate': r['canDelegate']},
            **_subject_details(r)) for r in page], 'hasMore': more}

    def query_personal_permissions(self, request):
        _context, auth = self.context_of_request(request)
        read_json(request) if request.get_data() else {}
        records = [r for r in self.state.permission_records.values() if r['subject'] == auth.subject]
        page, more = self._paged(request, records)
        return 200, {'permissions': [{
            'id': r['id'], 'contextIdentifier': r['context'], 'authorizedIdentifier': r['subject'],
            'permissionScope': r['scope'], 'description': r['description'], 'permissionState': 'Active',
            'startDate': r['start'], 'canDelegate': r['canDelegate']} for r in page], 'hasMore': more}

    def query_entity_permissions(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request) if request.get_data() else {}
        nip = auth.context_value.split('-')[0]
        records = [r for r in self.state.permission_records.values()
                   if r['kind'] == 'entity' and r['subject'] == {'type': 'Nip', 'value': nip}]
        wanted = data.get('contextIdentifier')
        if wanted:
            records = [r for r in records if r['context']['value'] == wanted.get('value')]
        page, more = self._paged(request, records)
        return 200, {'permissions': [{
            'id': r['id'], 'contextIdentifier': r['context'], 'permissionScope': r['scope'],
            'description': r['description'], 'startDate': r['start'], 'canDelegate': r['canDelegate']}
            for r in page], 'hasMore': more}

    # --- subunits, entity authorisations (self-billing, tax representative ...), indirect grants -----------

    def grant_subunit_permissions(self, request):
        """Give a person CredentialsManage in a subunit context (an internal ID or a subordinate NIP)."""
        auth = self._granting_auth(request)
        self._require_permission(auth, 'SubunitManage', 'CredentialsManage')
        data = read_json(request)
        require(data, 'subjectIdentifier', 'contextIdentifier', 'description', 'subjectDetails')
        subject, context = data['subjectIdentifier'], data['contextIdentifier']
        if subject.get('type') not in ('Nip', 'Pesel', 'Fingerprint') or context.get('type') not in ('InternalId', 'Nip'):
            raise bad_request(21405, VALIDATION, 'subjectIdentifier Nip/Pesel/Fingerprint, contextIdentifier InternalId/Nip')
        if context['type'] == 'InternalId' and not str(context.get('value', '')).startswith(auth.context_value.split('-')[0]):
            raise bad_request(21405, VALIDATION, 'an internal ID must start with the NIP of the context')
        record = self._record(auth, 'subunit', subject, 'CredentialsManage', data['description'], False,
                              data['subjectDetails'])
        record['subunit'] = {'type': context['type'], 'value': context['value']}
        record['subunitName'] = data.get('subunitName')
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def grant_authorization(self, request):
        auth = self._granting_auth(request)
        data = read_json(request)
        require(data, 'subjectIdentifier', 'permission', 'description', 'subjectDetails')
        if data['subjectIdentifier'].get('type') not in ('Nip', 'PeppolId') or data['permission'] not in (
                'SelfInvoicing', 'RRInvoicing', 'TaxRepresentative', 'PefInvoicing'):
            raise bad_request(21405, VALIDATION, 'subjectIdentifier Nip/PeppolId and a permission '
                                                 'SelfInvoicing, RRInvoicing, TaxRepresentative or PefInvoicing')
        self._record(auth, 'authorization', data['subjectIdentifier'], data['permission'], data['description'],
                     False, data['subjectDetails'])
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def revoke_authorization(self, request, permissionId):
        auth = self._granting_auth(request)
        record = self.state.permission_records.get(permissionId)
        if record is None or record['kind'] != 'authorization' or \
                record['context'] != {'type': auth.context_type, 'value': auth.context_value}:
            raise bad_request(21405, VALIDATION, f'Nie znaleziono uprawnienia {permissionId}.')
        del self.state.permission_records[permissionId]
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def grant_indirect_permissions(self, request):
        """An intermediary (e.g. an accounting office) passes on InvoiceRead/InvoiceWrite it holds to its people."""
        auth = self._granting_auth(request)
        data = read_json(request)
        require(data, 'subjectIdentifier', 'permissions', 'description', 'subjectDetails')
        if data['subjectIdentifier'].get('type') not in ('Nip', 'Pesel', 'Fingerprint') or \
                not data['permissions'] or set(data['permissions']) - {'InvoiceRead', 'InvoiceWrite'}:
            raise bad_request(21405, VALIDATION, 'subjectIdentifier Nip/Pesel/Fingerprint; permissions InvoiceRead/InvoiceWrite')
        target = data.get('targetIdentifier') or {'type': 'AllPartners'}
        for scope in data['permissions']:
            record = self._record(auth, 'indirect', data['subjectIdentifier'], scope, data['description'], False,
                                  data['subjectDetails'])
            record['target'] = target
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def query_subunit_permissions(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request) if request.get_data() else {}
        context = {'type': auth.context_type, 'value': auth.context_value}
        records = [r for r in self.state.permission_records.values() if r['kind'] == 'subunit' and r['context'] == context]
        wanted = data.get('subunitIdentifier')
        if wanted:
            records = [r for r in records if r['subunit'].get('value') == wanted.get('value')]
        page, more = self._paged(request, records)
        return 200, {'permissions': [dict({
            'id': r['id'], 'authorizedIdentifier': r['subject'], 'subunitIdentifier': r['subunit'],
            'authorIdentifier': r['author'], 'permissionScope': r['scope'], 'description': r['description'],
            'subunitName': r.get('subunitName'), 'startDate': r['start']}, **_subject_details(r))
            for r in page], 'hasMore': more}

    def query_authorizations(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request)
        if data.get('queryType') not in ('Granted', 'Received'):
            raise bad_request(21405, VALIDATION, 'queryType must be Granted or Received')
        nip = auth.context_value.split('-')[0]
        records = [r for r in self.state.permission_records.values() if r['kind'] == 'authorization' and (
            r['context']['value'] == auth.context_value if data['queryType'] == 'Granted'
            else r['subject'].get('value') == nip)]
        if data.get('permissionTypes'):
            records = [r for r in records if r['scope'] in data['permissionTypes']]
        page, more = self._paged(request, records)
        return 200, {'authorizationGrants': [{
            'id': r['id'], 'authorIdentifier': r['author'], 'authorizedEntityIdentifier': r['subject'],
            'authorizingEntityIdentifier': {'type': 'Nip', 'value': r['context']['value'].split('-')[0]},
            'authorizationScope': r['scope'], 'description': r['description'], 'startDate': r['start'],
            **_subject_details(r)} for r in page], 'hasMore': more}

    def query_entity_roles(self, request):
        _context, auth = self.context_of_request(request)
        subject = self.state.subjects.get(auth.context_value.split('-')[0])
        roles = []
        if subject:
            roles.append({'role': _ROLE_OF_SUBJECT.get(subject.get('subjectType'), 'EnforcementAuthority'),
                          'description': subject.get('description', 'Podmiot testowy'),
                          'startDate': iso(self.clock.now())})
        page, more = self._paged(request, roles)
        return 200, {'roles': page, 'hasMore': more}

    def query_subordinate_roles(self, request):
        self.context_of_request(request)
        page, more = self._paged(request, [])
        return 200, {'roles': page, 'hasMore': more}

    def grant_scopes_from_indirect(self, context, subject):
        """InvoiceRead/InvoiceWrite a person holds through an intermediary entity that holds them in `context`."""
        intermediaries = {r['subject']['value'] for r in self.state.permission_records.values()
                          if r['kind'] == 'entity' and r['context'] == context}
        return {r['scope'] for r in self.state.permission_records.values()
                if r['kind'] == 'indirect' and r['subject'] == subject
                and r['context']['value'].split('-')[0] in intermediaries
                and (r['target'].get('type') == 'AllPartners' or r['target'].get('value') == context['value'])}


class EuEntitiesMixin:
    """EU entities (context NipVatUe, NIP-VATUE): their administrators and representatives, known by the
    SHA-256 fingerprint of their certificate."""

    def grant_eu_administration(self, request):
        auth = self._granting_auth(request)
        data = read_json(request)
        require(data, 'subjectIdentifier', 'contextIdentifier', 'description', 'euEntityName', 'subjectDetails',
                'euEntityDetails')
        subject, context = data['subjectIdentifier'], data['contextIdentifier']
        if subject.get('type') != 'Fingerprint' or len(str(subject.get('value', ''))) != 64 or \
                context.get('type') != 'NipVatUe' or not str(context.get('value', '')).startswith(
                    auth.context_value.split('-')[0] + '-'):
            raise bad_request(21405, VALIDATION, 'a certificate fingerprint (64 hex) and a NipVatUe context '
                                                 'starting with the NIP of the current context')
        record = self._record(auth, 'eu', subject, 'VatUeManage', data['description'], True, data['subjectDetails'])
        record['context'] = {'type': 'NipVatUe', 'value': context['value']}
        record['euEntityName'] = data['euEntityName']
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def grant_eu_representative(self, request):
        _context, auth = self.context_of_request(request)
        if auth.context_type != 'NipVatUe':
            raise ApiError(403, description='Operacja dostępna w kontekście podmiotu unijnego.',
                           reason_code='context-type-not-allowed', extra={'contextIdentifierType': auth.context_type})
        self._require_permission(auth, 'VatUeManage')
        data = read_json(request)
        require(data, 'subjectIdentifier', 'permissions', 'description', 'subjectDetails')
        subject = data['subjectIdentifier']
        if subject.get('type') != 'Fingerprint' or not data['permissions'] or \
                set(data['permissions']) - {'InvoiceWrite', 'InvoiceRead'}:
            raise bad_request(21405, VALIDATION, 'a certificate fingerprint and InvoiceWrite/InvoiceRead')
        for scope in data['permissions']:
            record = self._record(auth, 'eu', subject, scope, data['description'], False, data['subjectDetails'])
            record['euEntityName'] = next((r.get('euEntityName') for r in self.state.permission_records.values()
                                           if r['kind'] == 'eu' and r['context'] == record['context']
                                           and r.get('euEntityName')), '')
        return 202, {'referenceNumber': self._operation(self.clock.now())}

    def query_eu_permissions(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request) if request.get_data() else {}
        nip = auth.context_value.split('-')[0]
        records = [r for r in self.state.permission_records.values() if r['kind'] == 'eu'
                   and r['context']['value'].split('-')[0] == nip]
        if data.get('permissionTypes'):
            records = [r for r in records if r['scope'] in data['permissionTypes']]
        if data.get('authorizedFingerprintIdentifier'):
            records = [r for r in records if r['subject']['value'] == data['authorizedFingerprintIdentifier']]
        page, more = self._paged(request, records)
        return 200, {'permissions': [{
            'id': r['id'], 'authorIdentifier': r['author'], 'vatUeIdentifier': r['context']['value'].split('-', 1)[1],
            'euEntityName': r.get('euEntityName') or '-', 'authorizedFingerprintIdentifier': r['subject']['value'],
            'permissionScope': r['scope'], 'description': r['description'], 'startDate': r['start']}
            for r in page], 'hasMore': more}


_DETAILS_OF_PERSON = {'PersonByIdentifier': 'personById', 'PersonByFingerprintWithIdentifier': 'personByFpWithId',
                      'PersonByFingerprintWithoutIdentifier': 'personByFpNoId'}


def _check_person_details(subject, details):
    """The subject details must fit the identifier: a certificate fingerprint goes with one of the
    PersonByFingerprint... types, a NIP or PESEL with PersonByIdentifier (inferred from the contract's
    descriptions of PersonPermissionSubjectDetailsType), and the details block of the type must be there."""
    kind = details.get('subjectDetailsType') if isinstance(details, dict) else None
    by_fingerprint = subject['type'] == 'Fingerprint'
    if kind not in _DETAILS_OF_PERSON or by_fingerprint != kind.startswith('PersonByFingerprint'):
        raise bad_request(21405, VALIDATION, f'subjectDetailsType {kind} does not fit a {subject["type"]} subject')
    if by_fingerprint and not isinstance(details.get(_DETAILS_OF_PERSON[kind]), dict):
        raise bad_request(21405, VALIDATION, f'{_DETAILS_OF_PERSON[kind]} is required for {kind}')


def _subject_details(record):
    """subjectEntityDetails of an entity grant, subjectPersonDetails of a person grant (when named)."""
    details = record.get('details') or {}
    if record['kind'] in ('entity', 'authorization'):
        return {'subjectEntityDetails': {'subjectDetailsType': 'EntityByIdentifier',
                                         'fullName': str(details.get('fullName', ''))[:100]}}
    kind = details.get('subjectDetailsType')
    person = details.get(_DETAILS_OF_PERSON.get(kind)) or {}
    if len(person.get('firstName') or '') < 2 or len(person.get('lastName') or '') < 2:
        return {}
    shown = {'subjectDetailsType': kind, 'firstName': person['firstName'], 'lastName': person['lastName']}
    if person.get('identifier'):
        shown['personIdentifier'] = person['identifier']
    if person.get('birthDate'):
        shown.update(birthDate=person['birthDate'], idDocument=person.get('idDocument'))
    return {'subjectPersonDetails': shown}


_ROLE_OF_SUBJECT = {'EnforcementAuthority': 'EnforcementAuthority', 'VatGroup': 'VatGroupUnit',
                    'JST': 'LocalGovernmentUnit'}
