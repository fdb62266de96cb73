"""The emulator as a Werkzeug WSGI application: routes, rate limits, faults on demand."""
import datetime
import time

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from ..limits import UNAUTHENTICATED, SlidingWindowCounter, group_of
from .http import ApiError, Router, error_response, json_response
from .service import KsefService
from .state import iso

API_PREFIX = '/v2'


class Faults:
    """Faults injected on demand through POST /_emulator/faults."""

    def __init__(self):
        self.status = None          # e.g. 503 or 550 for the next `count` API requests
        self.count = 0
        self.path_prefix = ''
        self.latency = 0.0          # seconds added to every API request
        self.drop = 0               # close the next `drop` connections without an answer
        self.drop_after = False     # ... after the request took effect (the "unknown outcome" case)

    def configure(self, data):
        self.status = data.get('status')
        self.count = int(data.get('count', 1 if self.status else 0))
        self.path_prefix = data.get('pathPrefix', '')
        self.latency = float(data.get('latency', 0))
        self.drop = int(data.get('drop', 0))
        self.drop_after = bool(data.get('dropAfter', False))


class Availability:
    """Latarnia-like availability: announcements with a window; during MAINTENANCE, FAILURE or TOTAL_FAILURE
    the API answers 503 (the status endpoints keep answering)."""

    def __init__(self, clock):
        self.clock = clock
        self.messages = []

    def announce(self, data):
        category = data.get('category')
        if category not in ('MAINTENANCE', 'FAILURE', 'TOTAL_FAILURE'):
            raise ApiError(400, 21405, 'category must be MAINTENANCE, FAILURE or TOTAL_FAILURE')
        now = self.clock.now()
        start = datetime.datetime.fromisoformat(data['start']) if data.get('start') else now
        end = datetime.datetime.fromisoformat(data['end']) if data.get('end') else None
        message = {'id': len(self.messages) + 1, 'eventId': len(self.messages) + 1, 'category': category,
                   'type': 'MAINTENANCE_ANNOUNCEMENT' if category == 'MAINTENANCE' else 'FAILURE_START',
                   'title': data.get('title', category), 'text': data.get('text', ''), 'start': iso(start),
                   'end': iso(end) if end else None, 'version': 1, 'published': iso(now)}
        self.messages.append(message)
        return message

    def end(self):
        """Every event still going on (open-ended or announced to last longer) ends now."""
        moment = self.clock.now()
        now = iso(moment)
        for message in self.messages:
            if message['end'] is None or moment < datetime.datetime.fromisoformat(message['end']):
                message['end'] = now
                if message['type'] == 'FAILURE_START':
                    message['type'] = 'FAILURE_END'

    def current(self):
        now = self.clock.now()
        active = [m for m in self.messages
                  if datetime.datetime.fromisoformat(m['start']) <= now
                  and (m['end'] is None or now < datetime.datetime.fromisoformat(m['end']))]
        order = ['MAINTENANCE', 'FAILURE', 'TOTAL_FAILURE']
        status = max((m['category'] for m in active), key=order.index) if active else 'AVAILABLE'
        return status, active


class EmulatorApp:
    def __init__(self, service=None, enforce_limits=True, base_url='http://127.0.0.1'):
        self.service = service or KsefService(base_url=base_url + API_PREFIX)
        self.enforce_limits = enforce_limits
        self.counter = SlidingWindowCounter()
        self.faults = Faults()
        self.availability = Availability(self.service.clock)
        self.router = Router()
        self._routes()

    def _routes(self):
        s = self.service
        api = [
            ('GET', '/security/public-key-certificates', s.public_key_certificates),
            ('POST', '/auth/challenge', s.challenge),
            ('POST', '/auth/ksef-token', s.ksef_token),
            ('POST', '/auth/xades-signature', s.xades_signature),
            ('GET', '/auth/{referenceNumber}', s.auth_status),
            ('POST', '/auth/token/redeem', s.redeem),
            ('POST', '/auth/token/refresh', s.refresh),
            ('POST', '/sessions/online', s.open_online_session),
            ('POST', '/sessions/online/{referenceNumber}/invoices', s.send_invoice),
            ('POST', '/sessions/online/{referenceNumber}/close', s.close_online_session),
            ('POST', '/sessions/batch', s.open_batch_session),
            ('POST', '/sessions/batch/{referenceNumber}/close', s.close_batch_session),
            ('GET', '/sessions/{referenceNumber}', s.session_status),
            ('GET', '/sessions/{referenceNumber}/invoices', s.session_invoices),
            ('GET', '/sessions/{referenceNumber}/invoices/failed', s.session_failed_invoices),
            ('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', s.invoice_status),
            ('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', s.upo_of_invoice),
            ('GET', '/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo', s.upo_of_ksef_number),
            ('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', s.session_upo),
            ('GET', '/invoices/ksef/{ksefNumber}', s.download_invoice),
            ('POST', '/invoices/query/metadata', s.query_metadata),
            ('POST', '/invoices/exports', s.create_export),
            ('GET', '/invoices/exports/{referenceNumber}', s.export_status),
            ('GET', '/rate-limits', s.rate_limits),
            ('GET', '/limits/context', s.context_limits),
            ('GET', '/certificates/limits', s.certificate_limits),
            ('GET', '/certificates/enrollments/data', s.enrollment_data),
            ('POST', '/certificates/enrollments', s.enroll_certificate),
            ('GET', '/certificates/enrollments/{referenceNumber}', s.enrollment_status),
            ('POST', '/certificates/retrieve', s.retrieve_certificates),
            ('POST', '/certificates/query', s.query_certificates),
            ('POST', '/certificates/{certificateSerialNumber}/revoke', s.revoke_certificate),
            ('GET', '/sessions', s.list_sessions),
            ('GET', '/permissions/attachments/status', s.attachment_status),
            ('POST', '/permissions/persons/grants', s.grant_person_permissions),
            ('POST', '/permissions/entities/grants', s.grant_entity_permissions),
            ('DELETE', '/permissions/common/grants/{permissionId}', s.revoke_permission),
            ('GET', '/permissions/operations/{referenceNumber}', s.permission_operation_status),
            ('POST', '/permissions/query/persons/grants', s.query_person_permissions),
            ('POST', '/permissions/query/personal/grants', s.query_personal_permissions),
            ('POST', '/permissions/query/entities/grants', s.query_entity_permissions),
            ('POST', '/permissions/subunits/grants', s.grant_subunit_permissions),
            ('POST', '/permissions/eu-entities/administration/grants', s.grant_eu_administration),
            ('POST', '/permissions/eu-entities/grants', s.grant_eu_representative),
            ('POST', '/permissions/query/eu-entities/grants', s.query_eu_permissions),
            ('POST', '/collective-identifiers', s.create_collective_identifier),
            ('POST', '/collective-identifiers/query', s.query_collective_identifiers),
            ('GET', '/collective-identifiers/{collectiveIdentifierNumber}/invoices', s.collective_invoices),
            ('GET', '/collective-identifiers/ksef/{ksefNumber}', s.collective_of_invoice),
            ('POST', '/permissions/authorizations/grants', s.grant_authorization),
            ('DELETE', '/permissions/authorizations/grants/{permissionId}', s.revoke_authorization),
            ('POST', '/permissions/indirect/grants', s.grant_indirect_permissions),
            ('POST', '/permissions/query/subunits/grants', s.query_subunit_permissions),
            ('POST', '/permissions/query/authorizations/grants', s.query_authorizations),
            ('GET', '/permissions/query/entities/roles', s.query_entity_roles),
            ('POST', '/permissions/query/subordinate-entities/roles', s.query_subordinate_roles),
            ('POST', '/testdata/subject', s.testdata_subject),
            ('POST', '/testdata/subject/remove', s.testdata_subject_remove),
            ('POST', '/testdata/person', s.testdata_person),
            ('POST', '/testdata/person/remove', s.testdata_person_remove),
            ('POST', '/testdata/permissions', s.testdata_permissions),
            ('POST', '/testdata/permissions/revoke', s.testdata_permissions_revoke),
            ('POST', '/testdata/attachment', s.testdata_attachment),
            ('POST', '/testdata/attachment/revoke', s.testdata_attachment_revoke),
            ('POST', '/testdata/rate-limits', s.testdata_set_rate_limits),
            ('DELETE', '/testdata/rate-limits', s.testdata_reset_rate_limits),
            ('POST', '/testdata/rate-limits/production', s.testdata_reset_rate_limits),
            ('POST', '/testdata/context/block', s.testdata_block_context),
            ('POST', '/testdata/limits/context/session', s.testdata_set_session_limits),
            ('DELETE', '/testdata/limits/context/session', s.testdata_reset_session_limits),
            ('POST', '/testdata/limits/subject/certificate', s.testdata_set_certificate_limits),
            ('DELETE', '/testdata/limits/subject/certificate', s.testdata_reset_certificate_limits),
            ('PUT', '/testdata/certificates/{serialNumber}', s.testdata_update_certificate),
            ('GET', '/peppol/query', s.peppol_providers),
            ('POST', '/testdata/context/unblock', s.testdata_unblock_context),
            ('GET', '/limits/subject', s.subject_limits),
            ('POST', '/tokens', s.create_token),
            ('GET', '/tokens', s.list_tokens),
            ('GET', '/tokens/{referenceNumber}', s.get_token),
            ('DELETE', '/tokens/{referenceNumber}', s.revoke_token),
            ('GET', '/auth/sessions', s.list_auth_sessions),
            ('DELETE', '/auth/sessions/current', s.terminate_current_auth_session),
            ('DELETE', '/auth/sessions/{referenceNumber}', s.terminate_auth_session),
        ]
        for method, template, handler in api:
            self.router.add(method, API_PREFIX + template, handler)
        admin = [
            ('POST', '/_emulator/tokens', s.admin_create_token),
            ('POST', '/_emulator/clock', s.admin_clock),
            ('POST', '/_emulator/keys/rotate', s.admin_rotate_keys),
            ('POST', '/_emulator/access/end', s.admin_end_access),
            ('POST', '/_emulator/faults', self.admin_faults),
            ('POST', '/_emulator/grants', s.admin_grant),
            ('POST', '/_emulator/availability', self.admin_availability),
            ('GET', '/latarnia/status', self.latarnia_status),
            ('GET', '/latarnia/messages', self.latarnia_messages),
            ('PUT', API_PREFIX + '/_emulator/upload/{sessionReference}/{ordinal}', s.upload_part),
            ('GET', API_PREFIX + '/_emulator/export/{reference}/{ordinal}', s.export_part),
            ('GET', API_PREFIX + '/_emulator/upo/{invoiceReference}',
             lambda request, invoiceReference: s.upo_by_url(invoice_reference=invoiceReference)),
            ('GET', API_PREFIX + '/_emulator/session-upo/{sessionReference}',
             lambda request, sessionReference: s.upo_by_url(session_reference=sessionReference)),
        ]
        for method, template, handler in admin:
            self.router.add(method, template, handler)

    @property
    def implemented_operations(self):
        return sorted((method, template[len(API_PREFIX):]) for method, template, _h in self.router.handlers.values()
                      if template.startswith(API_PREFIX) and '/_emulator/' not in template)

    def admin_faults(self, request):
        from .http import read_json
        data = read_json(request)
        self.faults.configure(data)
        with self.service.lock:
            self.service.options.expired_uploads = int(data.get('expiredUploads', 0))
        return 200, {'status': self.faults.status, 'count': self.faults.count}

    def admin_availability(self, request):
        from .http import read_json
        data = read_json(request)
        if data.get('endAll'):   # the announced events are over
            self.availability.end()
            return 200, {'status': self.availability.current()[0]}
        return 200, self.availability.announce(data)

    def latarnia_status(self, request):
        status, active = self.availability.current()
        return 200, {'status': status, 'messages': active}

    def latarnia_messages(self, request):
        return 200, list(self.availability.messages)

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except _DropConnection:
            # the connection closes without any answer: the client cannot know whether the call took effect
            connection = environ.get('werkzeug.socket')
            if connection is None:
                raise
            import socket
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            # a ConnectionError is how the WSGI server learns the peer is gone: it drops the request quietly
            raise ConnectionAbortedError('connection dropped on purpose (injected fault)')
        return response(environ, start_response)

    def dispatch(self, request):
        service = self.service
        with service.lock:
            now_iso = iso(service.clock.now())
        try:
            (method, template, handler), params = self.router.match(request.environ)
        except NotFound:
            return error_response(ApiError(404, description=f'No such path: {request.path}'), request, now_iso, request.path)
        except MethodNotAllowed:
            return error_response(ApiError(405, description='Method not allowed'), request, now_iso, request.path)
        except HTTPException as exc:
            return error_response(ApiError(exc.code or 400, description=str(exc)), request, now_iso, request.path)
        is_api = template.startswith(API_PREFIX) and '/_emulator/' not in template
        try:
            if is_api:
                self._apply_faults(request)
            with service.lock:
                if is_api and self.enforce_limits:
                    self._rate_limit(request, method, template[len(API_PREFIX):])
                result = handler(request, **params)
        except ApiError as error:
            return error_response(error, request, now_iso, request.path)
        faults = self.faults
        if is_api and faults.drop and faults.drop_after and request.path.startswith(API_PREFIX + faults.path_prefix):
            faults.drop -= 1
            raise _DropConnection()
        return self._respond(result)

    def _apply_faults(self, request):
        status, _active = self.availability.current()
        if status != 'AVAILABLE':
            raise ApiError(503, description=f'KSeF is unavailable ({status}).')
        faults = self.faults
        if faults.latency:
            time.sleep(faults.latency)
        if faults.drop and not faults.drop_after and request.path.startswith(API_PREFIX + faults.path_prefix):
            faults.drop -= 1
            raise _DropConnection()
        if faults.status and faults.count > 0 and request.path.startswith(API_PREFIX + faults.path_prefix):
            faults.count -= 1
            raise ApiError(faults.status, description='Injected fault: the service is unavailable.')

    def _rate_limit(self, request, method, template):
        group = group_of(method, template)
        ip = request.remote_addr or '127.0.0.1'
        if group is None:
            key, limit = ('ip', ip), UNAUTHENTICATED
        else:
            try:
                context, _auth = self.service.context_of_request(request)
            except ApiError:
                return  # no valid token: the handler answers 401, nothing to count
            key, limit = (group, context, ip), self.service.effective_limits(context)[group]
        wait = self.counter.hit(key, limit, self.service.clock.seconds())
        if wait:
            raise ApiError(429, description=f'Przekroczono limit żądań w grupie {group or "unauthenticated"}. '
                                            f'Spróbuj ponownie za {wait:.0f} s.', retry_after=wait)

    @staticmethod
    def _respond(result):
        status, body = result[0], result[1]
        if isinstance(body, tuple) and body and body[0] in ('xml', 'bytes'):
            kind, data, headers = body
            return Response(data, status=status, headers=headers,
                            content_type='application/xml' if kind == 'xml' else 'application/octet-stream')
        return json_response(status, body)


class _DropConnection(Exception):
    pass


def create_app(base_url='http://127.0.0.1', **service_options):
    from .service import Options
    service = KsefService(options=Options(**service_options), base_url=base_url + API_PREFIX)
    return EmulatorApp(service, base_url=base_url)
