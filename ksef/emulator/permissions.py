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

    def revoke_permission(self, request, permissionId):
        auth = self._granting_auth(request)
        record = self.state.permission_records.get(permissionId)
        if record is None or record['context'] != {'type': auth.context_type, 'value': auth.context_value}:
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
        """Scopes held through grants made with the permissions API."""
        return {r['scope'] for r in self.state.permission_records.values()
                if r['context'] == context and r['subject'] == subject}

    def _paged(self, request, items):
        try:
            page_size = int(request.args.get('pageSize', 10))
            offset = int(request.args.get('pageOffset', 0))
        except ValueError:
            raise bad_request(21405, VALIDATION, 'pageSize and pageOffset must be integers') from None
        if not 10 <= page_size <= 100 or offset < 0:
            raise bad_request(21405, VALIDATION, 'pageSize must be 10..100')
        return items[offset * page_size:(offset + 1) * page_size], (offset + 1) * page_size < len(items)

    def query_person_permissions(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'CredentialsManage', 'CredentialsRead')
        data = read_json(request)
        if data.get('queryType') not in ('PermissionsInCurrentContext', 'PermissionsGrantedInCurrentContext'):
            raise bad_request(21405, VALIDATION, 'queryType is required')
        context = {'type': auth.context_type, 'value': auth.context_value}
        records = [r for r in self.state.permission_records.values() if r['kind'] == 'person' and r['context'] == context]
        wanted = data.get('authorizedIdentifier')
        if wanted:
            records = [r for r in records if r['subject'] == {'type': wanted.get('type'), 'value': wanted.get('value')}]
        if data.get('permissionTypes'):
            records = [r for r in records if r['scope'] in data['permissionTypes']]
        if data.get('permissionState') == 'Inactive':
            records = []
        page, more = self._paged(request, records)
        return 200, {'permissions': [{
            'id': r['id'], 'authorizedIdentifier': r['subject'], 'contextIdentifier': r['context'],
            'authorIdentifier': r['author'], 'permissionScope': r['scope'], 'description': r['description'],
            'permissionState': 'Active', 'startDate': r['start'], 'canDelegate': r['canDelegate']} for r in page],
            'hasMore': more}

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
