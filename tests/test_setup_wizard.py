"""The KSeF set-up wizard against the emulator: methods by legal form, token and seal logins tested before they
are saved, certificates KSeF knows only by fingerprint, the login signed outside Odoo within ten minutes, every
context type, and who may use it."""
import base64
import datetime

from cryptography.x509.oid import NameOID

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import crypto, xades
from .common import SELLER_NIP, L10nPlKsefEmulatorCommon

PESEL = '44051401359'


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefSetupWizard(L10nPlKsefEmulatorCommon):

    def wizard(self, **values):
        return self.env['l10n_pl_ksef.setup.wizard'].with_company(self.company).create({
            'environment': 'custom', 'custom_url': f'{self.base}/v2', **values})

    def test_defaults_come_from_the_company(self):
        wizard = self.wizard()
        self.assertEqual((wizard.context_type, wizard.context_value, wizard.legal_form), ('Nip', SELLER_NIP, 'entity'))
        self.assertEqual(wizard.method, 'token', "the company logs in with a token: opening the wizard keeps it")
        wizard.legal_form = 'person'
        self.assertEqual(wizard.method, 'token')

    def test_a_company_not_connected_is_offered_a_login_that_works_unattended(self):
        self.company.l10n_pl_ksef_token = False
        wizard = self.wizard()
        self.assertEqual(wizard.method, 'qualified_seal')
        wizard.legal_form = 'person'
        self.assertEqual(wizard.method, 'trusted_profile')

    def test_methods_offered_follow_the_legal_form(self):
        wizard = self.wizard()
        person = dict(wizard._fields['person_method'].selection)
        entity = dict(wizard._fields['entity_method'].selection)
        self.assertIn('trusted_profile', person)
        self.assertIn('qualified_signature', person)
        self.assertNotIn('qualified_seal', person, "a natural person has no seal")
        self.assertIn('qualified_seal', entity)
        self.assertNotIn('trusted_profile', entity, "an organisation logs in through a person it authorised")
        self.assertIn('authorised_person', entity)
        self.assertEqual({'token', 'ksef_certificate'}, set(person) & set(entity))

    def test_token_is_tested_then_saved(self):
        token = self.issue_token(SELLER_NIP)
        self.company.write({'l10n_pl_ksef_token': False, 'l10n_pl_ksef_auth_method': 'certificate'})
        wizard = self.wizard(entity_method='token', token=token)
        action = wizard.action_save_and_test()
        self.assertEqual(action['params']['type'], 'success')
        self.assertEqual(action['params']['next']['type'], 'ir.actions.act_window_close')
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token')
        self.assertEqual(self.company.l10n_pl_ksef_token, token)
        self.assertTrue(self.company.l10n_pl_ksef_refresh_token, "the test login is kept for the scheduled actions")
        self.assertFalse(wizard.token, "the secret is not left in the wizard")

    def test_refused_token_changes_nothing(self):
        before = self.company.l10n_pl_ksef_token
        wizard = self.wizard(entity_method='token', token='not-a-token', context_type='InternalId',
                             context_value=f'{SELLER_NIP}-00017')
        with self.assertRaises(UserError) as refusal:   # assertRaises rolls back to a savepoint, like a request
            wizard.action_save_and_test()
        self.assertIn('Generate a new KSeF token', str(refusal.exception))
        self.assertEqual(self.company.l10n_pl_ksef_token, before)
        self.assertEqual(self.company.l10n_pl_ksef_context_type, 'Nip')

    def test_invalid_context_is_refused_before_any_call(self):
        for context_type, value in (('Nip', '5265877636'), ('InternalId', f'{SELLER_NIP}-00012'),
                                    ('NipVatUe', f'{SELLER_NIP}-PL123'), ('PeppolId', 'PL123456')):
            wizard = self.wizard(entity_method='token', token='x', context_type=context_type, context_value=value)
            with self.assertRaisesRegex(UserError, 'is not a valid'):
                wizard.action_save_and_test()
            with self.assertRaises(ValidationError):
                self.company.write({'l10n_pl_ksef_context_type': context_type, 'l10n_pl_ksef_context_value': value})

    def test_seal_shows_who_ksef_sees_and_logs_in(self):
        seal = self.seal_certificate(SELLER_NIP)
        wizard = self.wizard(entity_method='qualified_seal', certificate_id=seal.id)
        self.assertEqual(wizard.certificate_identity, f'NIP {SELLER_NIP}')
        self.assertRegex(wizard.certificate_fingerprint, r'^[0-9A-F]{64}$')
        wizard.action_save_and_test()
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'certificate')
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, seal)

    def test_certificate_without_nip_or_pesel_is_known_by_its_fingerprint(self):
        key, certificate = self.person_certificate(serial=None)
        record = self.certificate_record(key, certificate, 'Signature DE')
        wizard = self.wizard(entity_method='qualified_seal', certificate_id=record.id)
        self.assertFalse(wizard.certificate_identity)
        self.assertEqual(wizard.certificate_fingerprint, xades.certificate_fingerprint(certificate))
        with self.assertRaisesRegex(UserError, wizard.certificate_fingerprint):
            wizard.action_save_and_test()
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token')

    # --- a login signed outside Odoo -------------------------------------------------------------------

    def person_certificate(self, serial=f'PNOPL-{PESEL}'):
        key = crypto.generate_ec_key()
        now = crypto.utcnow()
        attributes = [(NameOID.COMMON_NAME, 'Jan Kowalski'), (NameOID.COUNTRY_NAME, 'PL')]
        if serial:
            attributes.append((NameOID.SERIAL_NUMBER, serial))
        return key, crypto.self_signed_certificate(key, attributes, now - datetime.timedelta(days=1),
                                                   now + datetime.timedelta(days=365))

    def certificate_record(self, key, certificate, name):
        from cryptography.hazmat.primitives import serialization
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        private_key = self.env['certificate.key'].create({'name': name, 'content': base64.b64encode(pem_key)})
        return self.env['certificate.certificate'].create({
            'name': name, 'content': base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)),
            'private_key_id': private_key.id, 'company_id': self.company.id})

    def sign_outside(self, wizard, key, certificate):
        """What the person does with the downloaded file: sign it as it is (here: XAdES with their key)."""
        request = base64.b64decode(wizard.request_xml)
        wizard.signed_xml = base64.b64encode(xades.sign(request, key, certificate))

    def grant_person(self, permissions=('InvoiceWrite', 'InvoiceRead')):
        self.emulator_post('grants', {'contextIdentifier': {'type': 'Nip', 'value': SELLER_NIP},
                                      'subjectIdentifier': {'type': 'Pesel', 'value': PESEL},
                                      'permissions': list(permissions)})

    def test_signed_outside_odoo_within_ten_minutes(self):
        self.grant_person()
        wizard = self.wizard(legal_form='person', person_method='trusted_profile')
        action = wizard.action_prepare_request()
        self.assertEqual((action['res_model'], action['res_id']), (wizard._name, wizard.id))
        request = base64.b64decode(wizard.request_xml)
        self.assertIn(SELLER_NIP.encode(), request)
        self.assertIn(b'AuthTokenRequest', request)
        self.assertNotIn(b'Signature', request)
        left = wizard.request_expires - fields.Datetime.now()
        self.assertTrue(datetime.timedelta(minutes=9) < left <= datetime.timedelta(minutes=10, seconds=5), left)

        self.sign_outside(wizard, *self.person_certificate())
        result = wizard.action_login_with_signed_request()
        self.assertEqual(result['params']['type'], 'success')
        self.assertEqual((self.company.l10n_pl_ksef_auth_method, self.company.l10n_pl_ksef_legal_form),
                         ('external', 'person'))
        refresh_until = self.company.l10n_pl_ksef_refresh_valid_until
        self.assertGreater(refresh_until, fields.Datetime.now() + datetime.timedelta(days=6))
        activity = self.company.activity_ids.filtered(lambda a: a.summary == 'Sign the KSeF login again')
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.date_deadline, (refresh_until - datetime.timedelta(days=1)).date())
        self.assertFalse(wizard.request_xml or wizard.signed_xml)

        tokens = self.company._l10n_pl_ksef_tokens()
        self.assertEqual(tokens.refresh.value.reveal(), self.company.l10n_pl_ksef_refresh_token, "works from the cache")
        self.company.action_l10n_pl_ksef_test_connection()
        self.assertTrue(self.company.l10n_pl_ksef_refresh_token, "testing does not throw away a signed login")

        self.company.l10n_pl_ksef_refresh_valid_until = fields.Datetime.now() + datetime.timedelta(minutes=1)
        with self.assertRaisesRegex(UserError, 'Sign a new one'):
            self.company._l10n_pl_ksef_tokens()

    def test_signing_again_replaces_the_reminder(self):
        self.grant_person()
        for _round in range(2):
            wizard = self.wizard(legal_form='person', person_method='qualified_signature')
            wizard.action_prepare_request()
            self.sign_outside(wizard, *self.person_certificate())
            wizard.action_login_with_signed_request()
        self.assertEqual(len(self.company.activity_ids.filtered(lambda a: a.summary == 'Sign the KSeF login again')), 1)

    def test_late_unsigned_or_unauthorised_uploads_are_refused(self):
        wizard = self.wizard(entity_method='authorised_person')
        with self.assertRaisesRegex(UserError, 'Download the login request first'):
            wizard.action_login_with_signed_request()
        wizard.action_prepare_request()
        with self.assertRaisesRegex(UserError, 'Upload the signed login request'):
            wizard.action_login_with_signed_request()
        wizard.signed_xml = wizard.request_xml
        with self.assertRaisesRegex(UserError, 'not signed'):
            wizard.action_login_with_signed_request()
        self.sign_outside(wizard, *self.person_certificate())
        with self.assertRaisesRegex(UserError, 'holds no permission in this context'):
            wizard.action_login_with_signed_request()   # the person holds no permission yet
        self.grant_person()
        wizard.request_expires = fields.Datetime.now() - datetime.timedelta(seconds=1)
        with self.assertRaisesRegex(UserError, 'ten minutes to sign have passed'):
            wizard.action_login_with_signed_request()
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token', "nothing saved")

    def test_signature_identified_by_fingerprint(self):
        key, certificate = self.person_certificate(serial=None)
        self.emulator_post('grants', {
            'contextIdentifier': {'type': 'Nip', 'value': SELLER_NIP},
            'subjectIdentifier': {'type': 'Fingerprint', 'value': xades.certificate_fingerprint(certificate)},
            'permissions': ['InvoiceRead']})
        wizard = self.wizard(entity_method='authorised_person', subject_identifier_type='certificateFingerprint')
        wizard.action_prepare_request()
        self.assertIn(b'certificateFingerprint', base64.b64decode(wizard.request_xml))
        self.sign_outside(wizard, key, certificate)
        wizard.action_login_with_signed_request()
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'external')

    # --- every context type, several companies, who may use it --------------------------------------

    def test_every_context_type_logs_in(self):
        for context_type, value in (('InternalId', f'{SELLER_NIP}-00017'), ('NipVatUe', f'{SELLER_NIP}-DE123456789'),
                                    ('PeppolId', 'PPL123456'), ('Nip', SELLER_NIP)):
            token = self.issue_token(value, context_type)
            wizard = self.wizard(entity_method='token', token=token, context_type=context_type, context_value=value)
            wizard.action_save_and_test()
            tokens = self.company._l10n_pl_ksef_tokens()
            self.assertEqual(tokens.context, (context_type, value))
            self.assertEqual(self.company._l10n_pl_ksef_context(), (context_type, value))

    def test_each_company_keeps_its_own_login(self):
        other = self.env['res.company'].create({
            'name': 'Nowak Handel S.A.', 'vat': 'PL6808208874', 'country_id': self.env.ref('base.pl').id,
            'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{self.base}/v2'})
        other.l10n_pl_ksef_token = self.issue_token('6808208874')
        mine, theirs = self.company._l10n_pl_ksef_tokens(), other._l10n_pl_ksef_tokens()
        self.assertEqual((mine.context, theirs.context), (('Nip', SELLER_NIP), ('Nip', '6808208874')))
        self.assertNotEqual(mine.refresh.value.reveal(), theirs.refresh.value.reveal())
        other.l10n_pl_ksef_context_value = '6808208874'
        self.assertFalse(other.l10n_pl_ksef_refresh_token)
        self.assertEqual(self.company.l10n_pl_ksef_refresh_token, mine.refresh.value.reveal(), "untouched")

        wizard = self.env['l10n_pl_ksef.setup.wizard'].with_company(other).create({})
        self.assertEqual((wizard.company_id, wizard.context_value), (other, '6808208874'))
        admin_of_one = self.env['res.users'].create({
            'name': 'Admin A', 'login': 'admin_a', 'company_id': self.company.id,
            'company_ids': [Command.set(self.company.ids)],
            'groups_id': [Command.set([self.env.ref('base.group_system').id])]})
        with self.assertRaises(AccessError):
            wizard.with_user(admin_of_one).read(['context_value'])

    def test_accountant_cannot_set_up_the_connection(self):
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa_setup', 'company_id': self.company.id,
            'company_ids': [Command.set(self.company.ids)],
            'groups_id': [Command.set([self.env.ref('account.group_account_invoice').id])]})
        with self.assertRaises(AccessError):
            self.env['l10n_pl_ksef.setup.wizard'].with_user(accountant).create({})
        self.assertTrue(self.company.with_user(accountant)._l10n_pl_ksef_tokens().access.value.reveal(),
                        "yet the accountant's sending and fetching log in")

    def test_no_secret_in_logs_or_messages(self):
        import logging
        records = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = records.append
        root = logging.getLogger()
        root.addHandler(handler)
        previous_level = root.level
        root.setLevel(logging.DEBUG)
        try:
            token = self.issue_token(SELLER_NIP)
            wizard = self.wizard(entity_method='token', token=token)
            message = wizard.action_save_and_test()['params']['message']
            self.company.l10n_pl_ksef_access_valid_until = fields.Datetime.now()
            tokens = self.company._l10n_pl_ksef_tokens()   # a refresh, logged by the client at debug level
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)
        # odoo.sql_db logs every query with its values at debug level (--log-sql): an administrator's choice
        logged = '\n'.join(record.getMessage() for record in records if record.name != 'odoo.sql_db')
        self.assertTrue(records, "something was logged at debug level")
        for secret in (token, tokens.access.value.reveal(), tokens.refresh.value.reveal()):
            self.assertNotIn(secret, logged)
            self.assertNotIn(secret, message)
            self.assertNotIn(secret, repr(tokens))
