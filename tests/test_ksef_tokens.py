"""KSeF tokens and login sessions managed from Odoo against the emulator: generate (shown once), list, use as
the company's login, revoke; list and end sessions; refusals in plain words; administrators only."""
from unittest.mock import patch

import requests

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient, Secret
from odoo.addons.l10n_pl_ksef.ksef.errors import AuthenticationError

from .common import SELLER_NIP, L10nPlKsefEmulatorCommon


class KsefCredentialsCommon(L10nPlKsefEmulatorCommon):

    def setUp(self):
        super().setUp()
        # the emulator outlives each test's rollback: a token of its own keeps revocations from leaking
        self.company.l10n_pl_ksef_token = self.issue_token(SELLER_NIP)

    def open_wizard(self, model):
        action = self.env[model]._l10n_pl_ksef_open(self.company)
        self.assertEqual((action['res_model'], action['target']), (model, 'new'))
        return self.env[model].browse(action['res_id'])

    @staticmethod
    def line(wizard, reference):
        return wizard.line_ids.filtered(lambda line: line.reference == reference)

    def assert_login_refused(self, secret):
        with self.assertRaises(AuthenticationError):
            self.emulator_client().login_with_token('Nip', SELLER_NIP, Secret(secret))


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefTokens(KsefCredentialsCommon):

    def test_generate_shows_the_token_once_then_lists_and_revokes_it(self):
        wizard = self.open_wizard('l10n_pl_ksef.token.wizard')
        own = wizard.line_ids.filtered('is_company_login')
        self.assertEqual((len(own), own.status), (1, 'Active'))

        wizard.write({'description': 'Odoo: reading invoices', 'permission_invoice_write': False})
        wizard.action_generate()
        reference, secret = wizard.token_reference, wizard.token
        self.assertEqual(wizard.state, 'shown')
        self.assertTrue(secret.startswith(f'{reference}|'))
        line = self.line(wizard, reference)
        self.assertEqual((line.status, line.description, line.permissions),
                         ('Active', 'Odoo: reading invoices', 'Read invoices'))
        self.assertEqual(line.author, f'Nip {SELLER_NIP}')
        self.assertTrue(line.created_on)
        self.assertFalse(line.is_company_login)
        self.assertFalse(wizard.description, "ready for another token")

        wizard.action_token_copied()
        self.assertEqual((wizard.state, wizard.token), ('manage', False))
        self.assertTrue(self.emulator_client().login_with_token('Nip', SELLER_NIP, Secret(secret)).access)
        wizard.action_refresh()
        self.assertTrue(self.line(wizard, reference).last_use, "KSeF records the login")

        self.line(wizard, reference).action_revoke()
        self.assertEqual(self.line(wizard, reference).status, 'Revoked')
        self.assert_login_refused(secret)
        self.assertTrue(self.company.l10n_pl_ksef_token, "another token's revocation leaves the company's login alone")
        self.assertFalse(wizard.notice)

    def test_new_token_as_the_company_login(self):
        # the usual first token: generated after a login with the company's qualified seal
        self.company.write({'l10n_pl_ksef_auth_method': 'certificate', 'l10n_pl_ksef_token': False,
                            'l10n_pl_ksef_certificate_id': self.seal_certificate(SELLER_NIP).id})
        action = self.env['res.config.settings'].create({}).action_l10n_pl_ksef_open_tokens()
        wizard = self.env['l10n_pl_ksef.token.wizard'].browse(action['res_id'])
        self.assertEqual(wizard.company_id, self.company)
        wizard.write({'description': 'Odoo login', 'permission_credentials_manage': True})
        wizard.action_generate()
        reference = wizard.token_reference
        self.assertEqual(self.line(wizard, reference).permissions, 'Read invoices, Issue invoices, Manage credentials')

        wizard.action_use_as_login_token()
        self.assertEqual((wizard.state, wizard.token), ('manage', False))
        self.assertIn(reference, wizard.notice)
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token')
        self.assertEqual(self.company.l10n_pl_ksef_token.split('|')[0], reference)
        self.assertTrue(self.line(wizard, reference).is_company_login)
        result = self.company.action_l10n_pl_ksef_test_connection()
        self.assertEqual(result['params']['type'], 'success')
        with self.assertRaisesRegex(UserError, 'no longer available'):
            wizard.action_use_as_login_token()

    def test_revoking_the_company_login_token_clears_it(self):
        secret = self.company.l10n_pl_ksef_token
        wizard = self.open_wizard('l10n_pl_ksef.token.wizard')
        self.assertTrue(self.company.l10n_pl_ksef_refresh_token)
        own = wizard.line_ids.filtered('is_company_login')
        own.action_revoke()
        self.assertFalse(self.company.l10n_pl_ksef_token)
        self.assertFalse(self.company.l10n_pl_ksef_refresh_token, "the cached session is forgotten")
        self.assertEqual(own.status, 'Revoked')
        self.assertIn('revoked and removed from the company', wizard.notice)
        self.assert_login_refused(secret)
        with self.assertRaisesRegex(UserError, 'Enter the KSeF token'):
            self.company.action_l10n_pl_ksef_test_connection()

    def test_revoking_the_token_field_of_a_company_logging_in_with_its_seal(self):
        secret = self.company.l10n_pl_ksef_token
        self.company.write({'l10n_pl_ksef_auth_method': 'certificate',
                            'l10n_pl_ksef_certificate_id': self.seal_certificate(SELLER_NIP).id})
        wizard = self.open_wizard('l10n_pl_ksef.token.wizard')
        reference = secret.split('|')[0]
        self.line(wizard, reference).action_revoke()
        self.assertFalse(self.company.l10n_pl_ksef_token)
        self.assertEqual(self.line(wizard, reference).status, 'Revoked', "reloaded from KSeF")
        self.assertFalse(wizard.notice)
        self.assertEqual(self.company.action_l10n_pl_ksef_test_connection()['params']['type'], 'success')

    def test_refusals_are_clear(self):
        wizard = self.open_wizard('l10n_pl_ksef.token.wizard')
        wizard.description = 'abc'
        with self.assertRaisesRegex(UserError, '5 to 256 characters'):
            wizard.action_generate()
        wizard.write({'description': 'Odoo subunits', 'permission_invoice_read': False,
                      'permission_invoice_write': False})
        with self.assertRaisesRegex(UserError, 'at least one permission'):
            wizard.action_generate()
        wizard.permission_subunit_manage = True
        with self.assertRaisesRegex(UserError, "only get permissions the company's current KSeF login holds.*SubunitManage"):
            wizard.action_generate()

        # a token login without "Manage credentials": KSeF shows it only its own token and lets it mint none
        limited = self.issue_token(SELLER_NIP, permissions=('InvoiceRead', 'InvoiceWrite'))
        self.company.l10n_pl_ksef_token = limited
        wizard = self.open_wizard('l10n_pl_ksef.token.wizard')
        self.assertEqual(wizard.line_ids.mapped('reference'), [limited.split('|')[0]])
        wizard.description = 'Odoo another token'
        with self.assertRaisesRegex(UserError, 'the login lacks the permission'):
            wizard.action_generate()
        self.assertEqual((wizard.state, wizard.token), ('manage', False))


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefSessions(KsefCredentialsCommon):

    def test_sessions_are_listed_and_another_one_ended(self):
        other = self.emulator_client().login_with_token('Nip', SELLER_NIP, Secret(self.company.l10n_pl_ksef_token))
        wizard = self.open_wizard('l10n_pl_ksef.session.wizard')
        current = wizard.line_ids.filtered('is_current')
        self.assertEqual(len(current), 1)
        current_reference = current.reference
        line = self.line(wizard, other.reference_number)
        self.assertEqual((line.method, line.is_current, line.token_redeemed), ('Token', False, True))
        self.assertTrue(line.status.startswith('200'))
        self.assertTrue(line.started and line.refresh_valid_until)

        line.action_end()
        self.assertFalse(self.line(wizard, other.reference_number))
        self.assertEqual(wizard.line_ids.filtered('is_current').reference, current_reference)
        with self.assertRaises(AuthenticationError):
            self.emulator_client().refresh(other)
        self.assertTrue(self.company.l10n_pl_ksef_refresh_token, "Odoo's own session is kept")

    def test_an_answer_the_wizards_cannot_read_is_said_plainly(self):
        """KSeF's list answered in a shape the wizard cannot read (a field missing, a value of another type): a
        message to the user, not a server error."""
        odd_sessions = [{'unexpected': True}]
        with patch.object(KsefClient, 'auth_sessions', lambda client, tokens: odd_sessions):
            with self.assertRaisesRegex(UserError, "KSeF's answer could not be read"):
                self.open_wizard('l10n_pl_ksef.session.wizard')
        odd_tokens = [{'referenceNumber': ['not', 'text'], 'status': {'x': 1}}]
        with patch.object(KsefClient, 'ksef_tokens', lambda client, tokens, statuses=(): odd_tokens):
            with self.assertRaisesRegex(UserError, "KSeF's answer could not be read"):
                self.open_wizard('l10n_pl_ksef.token.wizard')

    def test_ending_odoos_own_session_forgets_the_cached_tokens(self):
        wizard = self.open_wizard('l10n_pl_ksef.session.wizard')
        refresh_token = self.company.l10n_pl_ksef_refresh_token
        current = wizard.line_ids.filtered('is_current')
        reference = current.reference
        current.action_end()
        self.assertFalse(self.company.l10n_pl_ksef_refresh_token or self.company.l10n_pl_ksef_access_token)
        self.assertNotIn(reference, wizard.line_ids.mapped('reference'))
        self.assertIn("Odoo's own KSeF session was ended", wizard.notice)
        refused = requests.post(f'{self.base}/v2/auth/token/refresh', timeout=5,
                                headers={'Authorization': f'Bearer {refresh_token}'})
        self.assertEqual(refused.status_code, 401)

        wizard.action_refresh()   # the next KSeF call logs in again
        self.assertNotEqual(wizard.line_ids.filtered('is_current').reference, reference)
        self.assertFalse(wizard.notice)

    def test_accountant_cannot_manage_tokens_or_sessions(self):
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa-tokens', 'company_id': self.company.id,
            'company_ids': [(6, 0, self.company.ids)],
            'groups_id': [(6, 0, [self.env.ref('account.group_account_invoice').id])]})
        for model in ('l10n_pl_ksef.token.wizard', 'l10n_pl_ksef.session.wizard'):
            with self.assertRaises(AccessError):
                self.env[model].with_user(accountant)._l10n_pl_ksef_open(self.company)
            with self.assertRaises(AccessError):
                self.env[model].with_user(accountant).create({'company_id': self.company.id})
        tokens = self.open_wizard('l10n_pl_ksef.token.wizard')
        with self.assertRaises(AccessError):
            tokens.line_ids[:1].with_user(accountant).action_revoke()
        sessions = self.open_wizard('l10n_pl_ksef.session.wizard')
        with self.assertRaises(AccessError):
            sessions.line_ids[:1].with_user(accountant).action_end()
        self.assertEqual(sessions.line_ids.filtered('is_current').status[:3], '200', "nothing was ended")
