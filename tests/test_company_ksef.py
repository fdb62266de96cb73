"""The company's KSeF connection against the emulator on a loopback port: login with a KSeF token, cached and
refreshed tokens, re-login, wrong credentials, and secrets hidden from accountants."""
import datetime

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import BUYER_NIP, SELLER_NIP, L10nPlKsefEmulatorCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestCompanyKsefConnection(L10nPlKsefEmulatorCommon):

    def test_context_defaults_to_the_company_nip(self):
        self.assertEqual(self.company._l10n_pl_ksef_context(), ('Nip', SELLER_NIP))
        self.company.write({'l10n_pl_ksef_context_type': 'InternalId', 'l10n_pl_ksef_context_value': f'{SELLER_NIP}-00017'})
        self.assertEqual(self.company._l10n_pl_ksef_context(), ('InternalId', f'{SELLER_NIP}-00017'))

    def test_login_is_cached_then_refreshed_then_renewed(self):
        first = self.company._l10n_pl_ksef_tokens()
        self.assertEqual(first.context, ('Nip', SELLER_NIP))
        self.assertEqual(self.company.l10n_pl_ksef_access_token, first.access.value.reveal())
        again = self.company._l10n_pl_ksef_tokens()
        self.assertEqual(again.access.value.reveal(), first.access.value.reveal(), "no second login")

        self.company.l10n_pl_ksef_access_valid_until = fields.Datetime.now() - datetime.timedelta(minutes=1)
        refreshed = self.company._l10n_pl_ksef_tokens()
        self.assertNotEqual(refreshed.access.value.reveal(), first.access.value.reveal())
        self.assertEqual(refreshed.refresh.value.reveal(), first.refresh.value.reveal(), "refreshed, not a new login")
        self.assertEqual(self.company.l10n_pl_ksef_access_token, refreshed.access.value.reveal())

        self.company.l10n_pl_ksef_refresh_valid_until = fields.Datetime.now() + datetime.timedelta(minutes=1)
        renewed = self.company._l10n_pl_ksef_tokens()
        self.assertNotEqual(renewed.refresh.value.reveal(), first.refresh.value.reveal(), "a new login")

    def test_changing_the_context_needs_a_new_login(self):
        self.company._l10n_pl_ksef_tokens()
        self.assertTrue(self.company.l10n_pl_ksef_refresh_token)
        self.company.l10n_pl_ksef_context_value = SELLER_NIP
        self.assertFalse(self.company.l10n_pl_ksef_refresh_token or self.company.l10n_pl_ksef_access_token)
        self.assertEqual(self.company._l10n_pl_ksef_tokens().context, ('Nip', SELLER_NIP))

    def test_certificate_login(self):
        self.company.write({'l10n_pl_ksef_auth_method': 'certificate', 'l10n_pl_ksef_token': False})
        with self.assertRaisesRegex(UserError, 'Choose a KSeF login certificate'):
            self.company.action_l10n_pl_ksef_test_connection()
        self.company.l10n_pl_ksef_certificate_id = self.seal_certificate(SELLER_NIP)
        tokens = self.company._l10n_pl_ksef_tokens()
        self.assertEqual(tokens.context, ('Nip', SELLER_NIP))
        self.assertEqual(self.company.l10n_pl_ksef_refresh_token, tokens.refresh.value.reveal())

    def test_seal_of_another_company_is_refused_in_plain_words(self):
        self.company.write({'l10n_pl_ksef_auth_method': 'certificate',
                            'l10n_pl_ksef_certificate_id': self.seal_certificate(BUYER_NIP).id})
        with self.assertRaisesRegex(UserError, 'holds no permission in this context'):
            self.company.action_l10n_pl_ksef_test_connection()
        self.assertFalse(self.company.l10n_pl_ksef_refresh_token)

    def test_wrong_token_says_what_to_do(self):
        self.company.l10n_pl_ksef_token = 'wrong-token'
        with self.assertRaisesRegex(UserError, 'Generate a new KSeF token'):
            self.company.action_l10n_pl_ksef_test_connection()
        self.company.l10n_pl_ksef_token = False
        with self.assertRaisesRegex(UserError, 'Enter the KSeF token'):
            self.company.action_l10n_pl_ksef_test_connection()

    def test_every_final_login_status_of_ksef_is_said_in_plain_words(self):
        from odoo.addons.l10n_pl_ksef.ksef.errors import AuthenticationError
        messages = {code: self.company._l10n_pl_ksef_auth_message(AuthenticationError(400, code, f'status {code}'))
                    for code in (415, 425, 450, 460, 470, 480, 500, 550)}
        self.assertTrue(all('KSeF refused the authentication' not in m for m in messages.values()), messages)
        self.assertEqual(len(set(messages.values())), len(messages), "one explanation per status")
        self.assertIn('log in again', messages[425])
        self.assertIn('try again', messages[550])
        unknown = self.company._l10n_pl_ksef_auth_message(AuthenticationError(400, 499, 'something new'))
        self.assertIn('something new', unknown, "an unknown status still says what KSeF said")
        polish = self.company.with_context(lang='pl_PL')
        self.env['res.lang']._activate_lang('pl_PL')
        self.env.ref('base.module_l10n_pl_ksef')._update_translations(['pl_PL'])
        self.assertNotEqual(polish._l10n_pl_ksef_auth_message(AuthenticationError(400, 550)), messages[550])

    def test_connection_test_reports_the_context(self):
        action = self.company.action_l10n_pl_ksef_test_connection()
        self.assertEqual(action['params']['type'], 'success')
        self.assertIn(SELLER_NIP, action['params']['message'])

    def test_accountant_logs_in_without_seeing_secrets(self):
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa', 'company_id': self.company.id,
            'company_ids': [(6, 0, self.company.ids)],
            'groups_id': [(6, 0, [self.env.ref('account.group_account_invoice').id])]})
        company = self.company.with_user(accountant)
        tokens = company._l10n_pl_ksef_tokens()
        self.assertTrue(tokens.access.value.reveal())
        for secret in ('l10n_pl_ksef_token', 'l10n_pl_ksef_access_token', 'l10n_pl_ksef_refresh_token'):
            with self.assertRaises(AccessError):
                company.read([secret])

    def test_neutralized_copy_forgets_secrets_and_leaves_production(self):
        from odoo.modules.neutralize import get_neutralization_queries
        self.company.write({'l10n_pl_ksef_environment': 'prod',
                            'l10n_pl_ksef_certificate_id': self.seal_certificate(SELLER_NIP).id})
        self.company._l10n_pl_ksef_store_tokens(self.company._l10n_pl_ksef_login(
            self.emulator_client(), self.company._l10n_pl_ksef_context()))
        self.env.flush_all()
        for query in get_neutralization_queries(['l10n_pl_ksef']):
            self.env.cr.execute(query)
        self.company.invalidate_recordset()
        self.assertEqual(self.company.l10n_pl_ksef_environment, 'test')
        self.assertFalse(self.company.l10n_pl_ksef_token or self.company.l10n_pl_ksef_access_token
                         or self.company.l10n_pl_ksef_refresh_token or self.company.l10n_pl_ksef_certificate_id)
