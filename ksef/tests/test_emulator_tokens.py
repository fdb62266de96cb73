"""The emulator's KSeF tokens and auth sessions: the scope the contract gives callers without credentials rights."""
import json

from .test_emulator import api, authenticate, emulator, login, mint_token  # noqa: F401 (fixtures)


def test_token_login_without_credentials_rights_sees_and_revokes_only_its_own_token(emulator):
    mint_token(emulator, permissions=('InvoiceRead',))     # another token of the same context
    own = mint_token(emulator, permissions=('InvoiceWrite',))
    init, operation, status, _keys = authenticate(emulator, own)
    access = emulator.json('POST', '/auth/token/redeem', token=operation, expect=200)['accessToken']['token']
    listed = emulator.json('GET', '/tokens', token=access, expect=200)['tokens']
    assert [t['referenceNumber'] for t in listed] == [own.split('|')[0]]
    manager, _keys = login(emulator, permissions=('CredentialsManage',))
    everything = emulator.json('GET', '/tokens', token=manager['accessToken']['token'], expect=200)['tokens']
    assert len(everything) == 3
    other = [t['referenceNumber'] for t in everything if t['referenceNumber'] != own.split('|')[0]][0]
    refused = emulator.call('DELETE', f'/tokens/{other}', token=access, expect=403)
    assert json.loads(refused.get_data())['reasonCode'] == 'missing-permissions'
    emulator.call('DELETE', f'/tokens/{own.split("|")[0]}', token=access, expect=204)
    assert emulator.json('GET', '/tokens', token=access, expect=200)['tokens'][0]['status'] == 'Revoked'


def test_auth_sessions_show_the_last_refresh_and_leave_out_expired_ones(emulator):
    tokens, _keys = login(emulator)
    emulator.call('POST', '/auth/token/refresh', token=tokens['refreshToken']['token'], expect=200)
    items = emulator.json('GET', '/auth/sessions', token=tokens['accessToken']['token'], expect=200)['items']
    assert [bool(i.get('lastTokenRefreshDate')) for i in items] == [True]
    assert items[0]['refreshTokenValidUntil'] == tokens['refreshToken']['validUntil']
    old, _keys = login(emulator)
    emulator.app.service.clock.advance(8 * 24 * 3600)       # past the refresh tokens' 7 days
    fresh, _keys = login(emulator)
    items = emulator.json('GET', '/auth/sessions', token=fresh['accessToken']['token'], expect=200)['items']
    assert [i['isCurrent'] for i in items] == [True]
