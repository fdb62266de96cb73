"""A small validator of JSON values against the schemas of open-api.json (OpenAPI 3.0), for contract tests.

Covers what the KSeF document uses: $ref, allOf/oneOf/anyOf, type, nullable, enum, required, properties,
items, min/maxLength, pattern, minimum/maximum, min/maxItems, formats date-time, date, int32/int64, byte.
"""
import base64
import binascii
import datetime
import json
import re


class OpenApi:
    def __init__(self, path):
        with open(path, encoding='utf-8') as handle:
            self.document = json.load(handle)
        self.schemas = self.document['components']['schemas']
        self._templates = [(re.compile('^' + re.sub(r'\{\w+\}', r'[^/]+', template) + '$'), template)
                           for template in self.document['paths']]

    def template_of(self, path):
        """The OpenAPI path template of a concrete path ('/v2' prefix removed), preferring literal segments."""
        matches = [template for regex, template in self._templates if regex.match(path)]
        return min(matches, key=lambda t: t.count('{')) if matches else None

    def operation(self, method, template):
        return self.document['paths'][template][method.lower()]

    def response_schema(self, method, template, status, content_type):
        responses = self.operation(method, template)['responses']
        response = responses.get(str(status))
        if response is None:
            return None, f'status {status} is not documented for {method} {template}'
        content = response.get('content')
        if not content:
            return None, None
        media = content.get(content_type.split(';')[0].strip())
        if media is None:
            return None, f'content type {content_type} is not documented for {status} of {method} {template}'
        return media.get('schema'), None

    def request_schema(self, method, template):
        body = self.operation(method, template).get('requestBody')
        if not body:
            return None
        media = body['content'].get('application/json')
        return media and media.get('schema')

    def validate(self, schema, value, path='$'):
        errors = []
        self._check(schema, value, path, errors)
        return errors

    def _resolve(self, schema):
        while '$ref' in schema:
            schema = self.schemas[schema['$ref'].split('/')[-1]]
        return schema

    def _check(self, schema, value, path, errors):
        schema = self._resolve(schema)
        if value is None:
            if not schema.get('nullable') and not _any_nullable(self, schema):
                errors.append(f'{path}: null is not allowed')
            return
        for part in schema.get('allOf', []):
            self._check(part, value, path, errors)
        for key in ('oneOf', 'anyOf'):
            if key in schema and all(self.validate(option, value, path) for option in schema[key]):
                errors.append(f'{path}: matches none of the {key} options')
        if 'enum' in schema and value not in schema['enum']:
            errors.append(f'{path}: {value!r} is not one of {schema["enum"]}')
        kind = schema.get('type')
        if kind and not _is_type(kind, value):
            errors.append(f'{path}: expected {kind}, got {type(value).__name__}')
            return
        if isinstance(value, str):
            self._check_string(schema, value, path, errors)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if 'minimum' in schema and value < schema['minimum']:
                errors.append(f'{path}: {value} < minimum {schema["minimum"]}')
            if 'maximum' in schema and value > schema['maximum']:
                errors.append(f'{path}: {value} > maximum {schema["maximum"]}')
        elif isinstance(value, list):
            if 'minItems' in schema and len(value) < schema['minItems']:
                errors.append(f'{path}: fewer than {schema["minItems"]} items')
            if 'maxItems' in schema and len(value) > schema['maxItems']:
                errors.append(f'{path}: more than {schema["maxItems"]} items')
            for index, item in enumerate(value):
                if 'items' in schema:
                    self._check(schema['items'], item, f'{path}[{index}]', errors)
        elif isinstance(value, dict):
            for name in schema.get('required', []):
                if name not in value:
                    errors.append(f'{path}: required property {name} is missing')
            for name, item in value.items():
                if name in schema.get('properties', {}):
                    self._check(schema['properties'][name], item, f'{path}.{name}', errors)

    @staticmethod
    def _check_string(schema, value, path, errors):
        if 'minLength' in schema and len(value) < schema['minLength']:
            errors.append(f'{path}: shorter than {schema["minLength"]}')
        if 'maxLength' in schema and len(value) > schema['maxLength']:
            errors.append(f'{path}: longer than {schema["maxLength"]}')
        if 'pattern' in schema and not re.search(schema['pattern'], value):
            errors.append(f'{path}: {value!r} does not match {schema["pattern"]}')
        fmt = schema.get('format')
        try:
            if fmt == 'date-time':
                datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
            elif fmt == 'date':
                datetime.date.fromisoformat(value)
            elif fmt == 'byte':
                base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            errors.append(f'{path}: {value!r} is not a valid {fmt}')


def _any_nullable(api, schema):
    return any(api._resolve(part).get('nullable') for part in schema.get('allOf', []))


def _is_type(kind, value):
    return {
        'string': lambda v: isinstance(v, str),
        'integer': lambda v: isinstance(v, int) and not isinstance(v, bool),
        'number': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        'boolean': lambda v: isinstance(v, bool),
        'object': lambda v: isinstance(v, dict),
        'array': lambda v: isinstance(v, list),
    }[kind](value)
