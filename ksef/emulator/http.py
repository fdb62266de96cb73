"""HTTP plumbing of the emulator: routing, JSON bodies, and KSeF's error formats.

400 answers use the legacy ``ExceptionResponse`` body, or RFC 7807 problem details when the client sends
``X-Error-Format: problem-details``; 401, 403 and 410 are always ``application/problem+json``; 429 carries
``Retry-After``.
"""
import json
import math
import re
import secrets

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

MAX_BODY = 120 * 1024 * 1024   # largest request the emulator reads (an encrypted 100 MB batch part fits)


class ApiError(Exception):
    """A KSeF error answer."""

    def __init__(self, status, code=None, description='', details=None, reason_code=None, retry_after=None,
                 extra=None):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.details = details or []
        self.reason_code = reason_code
        self.retry_after = retry_after
        self.extra = extra or {}


def bad_request(code, description, *details):
    return ApiError(400, code, description, list(details))


TITLES = {400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
          410: 'Gone', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests',
          500: 'Internal Server Error', 503: 'Service Unavailable'}


def json_response(status, body=None, headers=None, content_type='application/json'):
    data = b'' if body is None else json.dumps(body, ensure_ascii=False).encode('utf-8')
    response = Response(data, status=status, headers=headers or {},
                        content_type=content_type if body is not None else None)
    return response


def error_response(error, request, now_iso, path):
    trace = secrets.token_hex(8)
    problem = request.headers.get('X-Error-Format', '').lower() == 'problem-details'
    headers = {}
    if error.retry_after is not None:
        headers['Retry-After'] = str(max(1, math.ceil(error.retry_after)))
    if error.status == 400 and not problem:
        body = {'exception': {
            'exceptionDetailList': [{'exceptionCode': error.code, 'exceptionDescription': error.description,
                                     'details': error.details}],
            'referenceNumber': None, 'serviceCode': trace, 'serviceCtx': 'srvEMULATOR',
            'serviceName': 'ksef-emulator', 'timestamp': now_iso}}
        return json_response(400, body, headers)
    if error.status == 429 and not problem:
        body = {'status': {'code': 429, 'description': 'Too Many Requests', 'details': [error.description]}}
        return json_response(429, body, headers)
    body = {'title': TITLES.get(error.status, 'Error'), 'status': error.status, 'detail': error.description,
            'instance': path, 'traceId': trace, 'timestamp': now_iso}
    if error.status == 400:
        body['errors'] = [{'code': error.code, 'description': error.description, 'details': error.details}]
    if error.status == 403:
        body['reasonCode'] = error.reason_code or 'missing-permissions'
    body.update(error.extra)
    return json_response(error.status, body, headers, content_type='application/problem+json')


class Router:
    """OpenAPI-style path templates ({name}) on werkzeug's routing."""

    def __init__(self):
        self.map = Map(strict_slashes=False, merge_slashes=False)
        self.handlers = {}

    def add(self, method, template, handler):
        endpoint = f'{method} {template}'
        rule = re.sub(r'\{(\w+)\}', r'<\1>', template)
        self.map.add(Rule(rule, endpoint=endpoint, methods=[method]))
        self.handlers[endpoint] = (method, template, handler)

    def match(self, environ):
        adapter = self.map.bind_to_environ(environ)
        endpoint, params = adapter.match()
        return self.handlers[endpoint], params


def read_json(request: Request):
    if request.content_length and request.content_length > MAX_BODY:
        raise ApiError(413, 21405, 'Request body too large')
    if request.mimetype != 'application/json':
        raise bad_request(21405, 'Błąd walidacji danych wejściowych.', 'Content-Type must be application/json')
    try:
        data = json.loads(request.get_data(cache=True) or b'null')
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(21405, 'Błąd walidacji danych wejściowych.', f'Invalid JSON: {exc}') from None
    if not isinstance(data, dict):
        raise bad_request(21405, 'Błąd walidacji danych wejściowych.', 'The body must be a JSON object')
    return data


def require(data, *names):
    missing = [name for name in names if data.get(name) in (None, '')]
    if missing:
        raise bad_request(21405, 'Błąd walidacji danych wejściowych.', *(f"The {name} field is required." for name in missing))
