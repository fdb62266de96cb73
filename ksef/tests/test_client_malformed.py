"""Malformed KSeF answers (issue 12, item 3): every public call of KsefClient, fed answers mutated one at a time
(a field missing, null, of another type; no JSON at all; an empty or truncated body), either works or raises a
KsefError — never a KeyError, TypeError or any other crash in the caller. The mutations are drawn with a fixed seed
(KSEF_MUTATION_SEED; printed on failure for replay) from the emulator's real answers of each scenario."""
import collections
import dataclasses
import itertools
import json
import os
import random

import pytest

from ksef import crypto, fa3
from ksef.client import KsefClient
from ksef.errors import KsefError, MalformedAnswerError
from ksef.fa3 import samples

from .test_client import SELLER, client_for, emulator, token_for  # noqa: F401 - emulator is a fixture

SEED = int(os.environ.get('KSEF_MUTATION_SEED') or 20261122)
BODIES = (b'', b'{', b'not json', b'null', b'[]', b'"text"', b'{"unexpected": true}')
VALUES = (None, 'x', -1, 10 ** 12, [], {}, True)
TREE_MUTATIONS_PER_ANSWER = 6


class Mutator:
    """Wraps the client's HTTP session: counts its successful answers and replaces the ``target``-th one."""

    def __init__(self, http):
        self.http, self.original = http, http.request
        self.count, self.target, self.mutation, self.shapes = 0, None, None, []
        http.request = self.request

    def request(self, *args, **kwargs):
        response = self.original(*args, **kwargs)
        if response.status_code >= 300:
            return response
        self.count += 1
        if self.target is None:
            self.shapes.append(_shape(response.content))
        elif self.count == self.target:
            response._content = self.mutation(response.content)
        return response


def _shape(content):
    """The paths into a JSON answer (None when the answer is no JSON, e.g. an XML or an encrypted part)."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    paths = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            paths.append(path + (key,))
            walk(value, path + (key,))
    walk(data, ())
    return paths


def _tree_mutation(path, value):
    def mutate(content):
        data = json.loads(content)
        node = data
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return json.dumps(data).encode()
    mutate.label = f'{"/".join(map(str, path))} -> {"deleted" if value is _DELETE else repr(value)}'
    return mutate


def _body_mutation(body):
    def mutate(content):
        return body if body != b'{' else content[:len(content) // 2]   # '{': the answer cut in the middle
    mutate.label = f'body -> {body!r}'
    return mutate


_DELETE = object()


def mutations(shapes, rng):
    """(answer number, mutation) pairs: every answer gets each body mutation and, when it is JSON, a sample of
    its fields deleted or given a value of another type."""
    for number, paths in enumerate(shapes, 1):
        for body in BODIES:
            yield number, _body_mutation(body)
        for path in rng.sample(paths, min(len(paths), TREE_MUTATIONS_PER_ANSWER)) if paths else ():
            yield number, _tree_mutation(path, rng.choice((_DELETE,) + VALUES))


_numbers = itertools.count(1)


def _new_invoice():
    """An invoice KSeF has not seen yet (a number of its own: KSeF refuses a duplicate)."""
    invoice = samples.scenarios()['vat_23']
    return dataclasses.replace(invoice, body=dataclasses.replace(invoice.body, number=f'FV/M/{next(_numbers)}'))


# --- the scenarios: each calls a group of public methods on a fresh client, logged in beforehand -----------

def online_sending(client, tokens, app, base):
    session = client.open_online_session(tokens)
    sent = client.send_invoice(tokens, session, fa3.build(_new_invoice()))
    client.invoice_status(tokens, session.reference_number, sent.reference_number)
    client.close_online_session(tokens, session.reference_number)
    app.service.clock.advance(10)   # KSeF makes the UPO once the closed session is processed
    client.session_status(tokens, session.reference_number)
    client.session_invoices(tokens, session.reference_number)
    client.invoice_upo(tokens, session.reference_number, sent.reference_number)
    client.session_upo(tokens, session.reference_number)


def batch_sending(client, tokens, app, base):
    files = [(f'{i}.xml', fa3.build(_new_invoice())) for i in range(3)]
    reference = client.send_batch(tokens, files)
    client.session_invoices(tokens, reference)


def receiving(client, tokens, app, base):
    buyer = client.login_with_token('Nip', samples.BUYER_NIP, token_for(base, samples.BUYER_NIP))
    start = (app.service.clock.now() - __import__('datetime').timedelta(hours=1)).isoformat()
    step = client.sync_step(buyer, 'Subject2', start)
    metadata = client.query_metadata(buyer, {'subjectType': 'Subject2',
                                             'dateRange': {'dateType': 'PermanentStorage', 'from': start}})
    for item in metadata[:1]:
        client.download_invoice(buyer, item['ksefNumber'])
    return step


def logins(client, tokens, app, base):
    client.challenge()
    client.refresh(tokens)
    client.fresh_access(tokens, margin=10 ** 6)
    client.auth_sessions(tokens)
    client.public_keys(refresh=True)


def certificates(client, tokens, app, base):
    from .test_xades import certificate_for
    seal = crypto.generate_rsa_key()
    owner = client.login_with_certificate('Nip', SELLER, seal, certificate_for(seal, organization_identifier=f'VATPL-{SELLER}'))
    client.certificate_limits(owner)
    _key, _certificate, serial = client.enroll_certificate(owner, 'Odoo mutation', 'Authentication')
    client.certificates(owner, certificateSerialNumber=serial)
    client.revoke_certificate(owner, serial)
    client.end_auth_session(owner)


def tokens_and_permissions(client, tokens, app, base):
    reference, _secret = client.create_ksef_token(tokens, ['InvoiceRead'], 'Odoo mutation')
    client.ksef_token(tokens, reference)
    client.ksef_tokens(tokens, ['Active'])
    client.revoke_ksef_token(tokens, reference)
    client.grant_person_permissions(tokens, 'Pesel', '80010112345', ['InvoiceRead'], 'Księgowa')
    held = client.query_permissions(tokens, 'persons', {'queryType': 'PermissionsInCurrentContext'})
    client.query_permissions(tokens, 'roles')
    if held:
        client.revoke_permission(tokens, held[0]['id'])


def limits_and_availability(client, tokens, app, base):
    client.context_limits(tokens)
    client.subject_limits(tokens)
    client.rate_limits(tokens)
    client.availability()
    client.availability_messages()


SCENARIOS = [online_sending, batch_sending, receiving, logins, certificates, tokens_and_permissions,
             limits_and_availability]


@pytest.mark.parametrize('scenario', SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_every_mutated_answer_is_a_ksef_error_or_works(emulator, scenario):  # noqa: F811 - the fixture
    app, base = emulator
    app.enforce_limits = False
    secret = token_for(base, permissions=('InvoiceWrite', 'InvoiceRead', 'CredentialsManage', 'CredentialsRead'))
    _supply_received_invoices(app, base)
    rng = random.Random(f'{SEED}-{scenario.__name__}')

    def run(target=None, mutation=None):
        client = client_for(app, base, use_budget=False, poll_timeout=5)
        tokens = client.login_with_token('Nip', SELLER, secret)
        mutator = Mutator(client.http)
        mutator.target, mutator.mutation = target, mutation
        try:
            scenario(client, tokens, app, base)
        finally:
            app.service.clock.advance(1)
        return mutator

    shapes = run().shapes
    assert len(shapes) >= 3, "the scenario reads several answers"
    outcomes = collections.Counter()
    for number, mutation in mutations(shapes, rng):
        try:
            run(number, mutation)
        except KsefError as error:
            outcomes['malformed' if isinstance(error, MalformedAnswerError) else 'other KSeF error'] += 1
            # what a user or a log gets to see never quotes a token (JWTs begin 'eyJ') or the KSeF token
            assert 'eyJ' not in str(error) and secret not in str(error), (mutation.label, str(error))
        except Exception as error:  # noqa: BLE001 - the failure this test exists to find
            pytest.fail(f'{scenario.__name__}: answer {number} mutated ({mutation.label}) crashed the client '
                        f'with {type(error).__name__}: {error} (replay: KSEF_MUTATION_SEED={SEED})')
        else:
            outcomes['worked'] += 1
    print(f'{scenario.__name__}: {len(shapes)} answers, {sum(outcomes.values())} mutations: {dict(outcomes)}')
    assert outcomes['malformed'] > 0, "unreadable answers are said to be unreadable"
    assert sum(outcomes.values()) >= len(shapes) * len(BODIES)


def _supply_received_invoices(app, base):
    """Two invoices to the buyer for the receiving scenario (sent by the seller, unmutated)."""
    client = client_for(app, base, use_budget=False)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    files = [(f'{i}.xml', fa3.build(samples.ten_line_invoice(i))) for i in range(2)]
    client.send_batch(tokens, files)
    app.service.clock.advance(5)


def test_a_caller_error_inside_a_call_is_not_taken_for_a_malformed_answer(emulator):  # noqa: F811
    """The files of a batch and the on_open callback are the caller's: their errors pass through as they are."""
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))

    def files():
        yield 'a.xml', fa3.build(samples.scenarios()['vat_23'])
        raise KeyError('the caller could not build its second invoice')
    with pytest.raises(KeyError):
        client.send_batch(tokens, files())

    def on_open(_reference):
        raise ValueError('the caller could not record the session')
    with pytest.raises(ValueError):
        client.send_batch(tokens, [('a.xml', fa3.build(samples.scenarios()['vat_23']))], on_open=on_open)


def test_malformed_answers_are_unknown_outcomes_with_no_secret(emulator):  # noqa: F811
    """A send whose answer cannot be read may have taken effect: callers reconcile (UnknownOutcomeError). The
    message names the call and the shape, never the answer (which may hold tokens)."""
    from ksef.errors import UnknownOutcomeError
    app, base = emulator
    client = client_for(app, base)
    secret = token_for(base)
    original = client.http.request

    def redeem_without_refresh_token(method, url, **kwargs):
        response = original(method, url, **kwargs)
        if url.endswith('/auth/token/redeem'):
            data = response.json()
            del data['refreshToken']
            response._content = json.dumps(data).encode()
        return response
    client.http.request = redeem_without_refresh_token
    with pytest.raises(MalformedAnswerError) as caught:
        client.login_with_token('Nip', SELLER, secret)
    assert isinstance(caught.value, UnknownOutcomeError)
    assert 'login_with_token' in str(caught.value) and 'refreshToken' in str(caught.value)
    assert secret not in str(caught.value) and 'eyJ' not in str(caught.value)
    assert isinstance(KsefClient.public_keys.__wrapped__, type(lambda: None)), "the public calls are checked"


def _answer_changed(client, path_end, change):
    """The client's answers to URLs ending in ``path_end`` changed by ``change(data)`` (JSON in, JSON out)."""
    original = client.http.request

    def request(method, url, **kwargs):
        response = original(method, url, **kwargs)
        if url.split('?')[0].endswith(path_end) and response.status_code < 300:
            response._content = json.dumps(change(response.json())).encode()
        return response
    client.http.request = request


def test_a_token_that_cannot_go_in_a_header_is_refused_without_quoting_it(emulator):  # noqa: F811
    """A token with a space would make the HTTP library refuse the header and quote it in its error: the login
    refuses it first, and an error naming a header is cut off before its value."""
    app, base = emulator
    client = client_for(app, base)

    def spaced(data):
        data['accessToken']['token'] = data['accessToken']['token'][:20] + ' ' + data['accessToken']['token'][20:]
        return data
    _answer_changed(client, '/auth/token/redeem', spaced)
    with pytest.raises(MalformedAnswerError) as caught:
        client.login_with_token('Nip', SELLER, token_for(base))
    assert 'eyJ' not in str(caught.value) and 'token' in str(caught.value)

    tokens = client_for(app, base).login_with_token('Nip', SELLER, token_for(base))
    client.http.request = lambda *args, **kwargs: (_ for _ in ()).throw(
        ValueError(f"Invalid header value b'Bearer {tokens.access.value.reveal()} x'"))
    with pytest.raises(MalformedAnswerError) as caught:
        client.session_status(tokens, '20250101-SO-0000000000-0000000000-00')
    assert 'eyJ' not in str(caught.value) and 'Bearer' in str(caught.value)


@pytest.mark.parametrize('change, reason', [
    (lambda item: {**item, 'invoiceHash': 12}, "'invoiceHash' is not text"),
    (lambda item: {k: v for k, v in item.items() if k != 'invoiceHash'}, 'without its hash'),
    (lambda item: {**item, 'acquisitionDate': 'yesterday'}, 'ValueError'),
    (lambda item: {**item, 'status': {**item['status'], 'details': [1]}}, "'details' is not a list of texts"),
    (lambda item: {**item, 'status': {**item['status'], 'extensions': 'x'}}, "'extensions' is not an object"),
], ids=['hash-number', 'hash-missing', 'date-text', 'details-numbers', 'extensions-text'])
def test_an_invoice_status_is_read_whole_before_anyone_relies_on_it(emulator, change, reason):  # noqa: F811
    """The status job decides an invoice's fate by these fields: one of the wrong type is a malformed answer
    (an error the job handles for that company), not a crash in the middle of the run."""
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    reference = client.send_batch(tokens, [('a.xml', fa3.build(_new_invoice()))])
    app.service.clock.advance(5)
    assert client.session_invoices(tokens, reference)[0]['invoiceHash'], "unchanged, the list is read"
    _answer_changed(client, '/invoices', lambda page: {**page, 'invoices': [change(i) for i in page['invoices']]})
    with pytest.raises(MalformedAnswerError) as caught:
        client.session_invoices(tokens, reference)
    assert reason in str(caught.value)


@pytest.mark.parametrize('failure', ['ChunkedEncodingError', 'ContentDecodingError'])
def test_a_connection_broken_while_the_answer_is_read_is_a_transport_failure(emulator, failure):  # noqa: F811
    """Like a timeout: a call that reads is tried again and then said unavailable; a call that changes something
    may have taken effect (unknown outcome). Neither escapes as a raw requests error."""
    import requests
    from ksef.errors import UnavailableError, UnknownOutcomeError
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    original, calls = client.http.request, []

    def broken(method, url, **kwargs):
        calls.append(method)
        raise getattr(requests.exceptions, failure)('the connection broke in the middle of the answer')
    client.http.request = broken
    with pytest.raises(UnavailableError):
        client.availability_messages()
    assert len(calls) == client.retries + 1, "a read is tried again"
    calls.clear()
    with pytest.raises(UnknownOutcomeError) as caught:
        client.open_online_session(tokens)
    assert not isinstance(caught.value, UnavailableError) and calls == ['POST'], "a change is tried once"
    client.http.request = original
    assert client.open_online_session(tokens).reference_number


def test_a_rate_limit_of_zero_requests_is_not_taken(emulator):  # noqa: F811
    """A limit of 0 would stop a group of calls for good: such an answer is refused and the limits kept."""
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    client.rate_limits(tokens)
    kept = dict(client.live_limits)
    assert kept and all(limit.per_second >= 1 for limit in kept.values())
    _answer_changed(client, '/rate-limits', lambda data: {name: {**v, 'perSecond': 0} for name, v in data.items()})
    with pytest.raises(MalformedAnswerError):
        client.rate_limits(tokens)
    assert client.live_limits == kept


def test_the_callers_own_mistakes_are_not_said_to_be_ksefs(emulator):  # noqa: F811
    """An unknown kind, filters without a date range, a server address that is no URL: the caller's errors,
    raised as they are (a programming or configuration error), not taken for a malformed answer of KSeF. A link
    KSeF gave (an upload or download address) that is no URL is KSeF's malformed answer."""
    from ksef.client import custom_environment
    app, base = emulator
    client = client_for(app, base)
    tokens = client.login_with_token('Nip', SELLER, token_for(base))
    with pytest.raises(KeyError):
        client.query_permissions(tokens, 'no-such-kind')
    with pytest.raises(KeyError):
        client.grant_permissions(tokens, 'no-such-kind', {})
    with pytest.raises(KeyError):
        client.query_metadata(tokens, {'subjectType': 'Subject1'})
    with pytest.raises(ValueError, match='not an http'):
        custom_environment('ksef.example.com/v2')
    with pytest.raises(MalformedAnswerError):
        client.download_link('no-scheme/upo.xml')
