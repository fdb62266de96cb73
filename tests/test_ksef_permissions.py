"""KSeF permissions managed from Odoo against the emulator: the lists of the company's context, grants to persons
(PESEL, certificate fingerprint), an accounting office with delegation, a self-billing authorization and a subunit
administrator, revocation, checks before anything is sent, refusals in plain words, and access for admins only."""
import datetime

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from odoo.addons.l10n_pl_ksef.ksef import crypto, identifiers, xades
from odoo.addons.l10n_pl_ksef.ksef.errors import AuthenticationError

from .common import BUYER_NIP, SELLER_NIP, L10nPlKsefEmulatorCommon

PESEL = '44051401359'
OFFICE_NIP = '7740001454'


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefPermissions(L10nPlKsefEmulatorCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the permission endpoints allow 30 requests a minute (rate group "other"); these tests make more
        cls.app.enforce_limits = False
        cls.records = cls.app.service.state.permission_records

    def setUp(self):
        super().setUp()
        # the emulator lives for the whole class: each test starts with no grants, as the database does
        self.addCleanup(self.records.clear)

    def open_wizard(self):
        action = self.env['res.config.settings'].create({}).action_l10n_pl_ksef_open_permissions()
        self.assertEqual((action['res_model'], action['target']), ('l10n_pl_ksef.permission.wizard', 'new'))
        return self.env['l10n_pl_ksef.permission.wizard'].browse(action['res_id'])

    def grant(self, **values):
        """Fill the grant form as a user would (through the view: hidden fields cannot be set) and grant."""
        wizard = self.open_wizard()
        with Form(wizard) as form:
            for name, value in dict({'description': 'Uprawnienie z Odoo'}, **values).items():
                setattr(form, name, value)
        action = wizard.action_grant()
        self.assertEqual(action['res_id'], wizard.id, "the wizard shows the lists again")
        self.assertIn('KSeF granted', wizard.result_message)
        return wizard

    def revoke(self, line):
        wizard = line.wizard_id
        line.action_revoke()
        self.assertIn('KSeF revoked', wizard.result_message)
        return wizard

    def test_person_by_pesel_is_listed_then_revoked(self):
        wizard = self.grant(grant_kind='person', identifier_type='Pesel', identifier=PESEL, first_name='Anna',
                            last_name='Nowak', invoice_read=True, invoice_write=True, description='Księgowa Anna')
        lines = wizard.person_line_ids.filtered(lambda line: line.identifier == PESEL)
        self.assertEqual(sorted(lines.mapped('permission')), ['InvoiceRead', 'InvoiceWrite'])
        self.assertEqual(set(lines.mapped('name')), {'Anna Nowak'})
        self.assertEqual(set(lines.mapped('identifier_type')), {'Pesel'})
        self.assertTrue(all(lines.mapped('granted_on')))
        self.assertFalse(wizard.entity_line_ids | wizard.authorization_line_ids)
        self.assertFalse(wizard.identifier or wizard.invoice_read, "the grant form is emptied")
        self.assertEqual(self.env['l10n_pl_ksef.permission.wizard.line']._fields['permission'].convert_to_export(
            'InvoiceRead', lines[:1]), 'View invoices', "permission codes have labels")

        wizard = self.revoke(lines.filtered(lambda line: line.permission == 'InvoiceWrite'))
        self.assertEqual(wizard.person_line_ids.filtered(lambda line: line.identifier == PESEL).mapped('permission'),
                         ['InvoiceRead'])
        wizard = self.revoke(wizard.person_line_ids.filtered(lambda line: line.identifier == PESEL))
        self.assertFalse(wizard.person_line_ids.filtered(lambda line: line.identifier == PESEL))

    def test_certificate_fingerprint_grant_lets_that_certificate_log_in(self):
        from cryptography import x509
        key = crypto.generate_ec_key()
        now = crypto.utcnow()
        # a certificate with neither NIP nor PESEL: KSeF knows it only by its fingerprint
        certificate = crypto.self_signed_certificate(key, [(x509.NameOID.COMMON_NAME, 'Jan Müller')],
                                                     now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
        fingerprint = xades.certificate_fingerprint(certificate)
        client = self.emulator_client()
        with self.assertRaises(AuthenticationError, msg="no permission yet"):
            client.login_with_certificate('Nip', SELLER_NIP, key, certificate, 'certificateFingerprint')

        shown = ':'.join(fingerprint[i:i + 2] for i in range(0, 64, 2)).lower()   # as certificate viewers show it
        wizard = self.grant(grant_kind='person', identifier_type='Fingerprint', identifier=shown, first_name='Jan',
                            last_name='Müller', birth_date=datetime.date(1980, 1, 1), id_document_type='Reisepass',
                            id_document_number='C01X00T47', id_document_country_id=self.env.ref('base.de'),
                            invoice_write=True)
        line = wizard.person_line_ids.filtered(lambda line: line.identifier == fingerprint)
        self.assertEqual((line.identifier_type, line.permission, line.name), ('Fingerprint', 'InvoiceWrite', 'Jan Müller'))

        tokens = client.login_with_certificate('Nip', SELLER_NIP, key, certificate, 'certificateFingerprint')
        self.assertEqual([p['permissionScope'] for p in client.query_permissions(tokens, 'personal', {})],
                         ['InvoiceWrite'])
        self.revoke(line)
        with self.assertRaises(AuthenticationError, msg="revoked: the certificate cannot log in any more"):
            client.login_with_certificate('Nip', SELLER_NIP, key, certificate, 'certificateFingerprint')

    def test_fingerprint_of_a_holder_with_a_pesel(self):
        fingerprint = 'C0FFEE' * 10 + 'ABCD'
        wizard = self.grant(grant_kind='person', identifier_type='Fingerprint', identifier=fingerprint,
                            first_name='Ewa', last_name='Lis', person_identifier=PESEL, invoice_read=True)
        record = next(r for r in self.records.values() if r['subject']['value'] == fingerprint)
        self.assertEqual(record['details']['personByFpWithId']['identifier'], {'type': 'Pesel', 'value': PESEL})
        self.revoke(wizard.person_line_ids.filtered(lambda line: line.identifier == fingerprint))

    def test_accounting_office_with_delegation(self):
        # a box ticked for a person before switching to an entity stays hidden and is not sent
        wizard = self.grant(credentials_manage=True, grant_kind='entity', identifier=OFFICE_NIP,
                            full_name='Biuro Rachunkowe Sp. z o.o.', invoice_write=True, invoice_read=True,
                            can_delegate=True, description='Biuro rachunkowe')
        lines = wizard.entity_line_ids
        self.assertEqual(sorted(lines.mapped('permission')), ['InvoiceRead', 'InvoiceWrite'],
                         "only what an entity can hold")
        self.assertEqual(set(lines.mapped('identifier')), {OFFICE_NIP})
        self.assertEqual(set(lines.mapped('name')), {'Biuro Rachunkowe Sp. z o.o.'})
        self.assertEqual(set(lines.mapped('can_delegate')), {True})
        self.assertFalse(wizard.person_line_ids.filtered(lambda line: line.identifier == OFFICE_NIP))
        for permission_id in lines.mapped('permission_id'):
            wizard = self.revoke(wizard.entity_line_ids.filtered(lambda line: line.permission_id == permission_id))
        self.assertFalse(wizard.entity_line_ids)

    def test_self_billing_authorization(self):
        wizard = self.grant(grant_kind='authorization', authorized_identifier_type='Nip', identifier=BUYER_NIP,
                            authorization_permission='SelfInvoicing', full_name='Nowak Handel S.A.',
                            description='Samofakturowanie dostaw mleka')
        line = wizard.authorization_line_ids
        self.assertEqual((line.permission, line.identifier, line.name), ('SelfInvoicing', BUYER_NIP, 'Nowak Handel S.A.'))
        self.assertFalse(wizard.person_line_ids | wizard.entity_line_ids)
        # the emulator refuses the common revoke for an authorization: this passes through the right endpoint
        wizard = self.revoke(line)
        self.assertFalse(wizard.authorization_line_ids)

    def test_subunit_administrator_gets_the_internal_id_with_its_check_digit(self):
        internal_id = f'{SELLER_NIP}-0001{identifiers.internal_id_check_digit(SELLER_NIP + "0001")}'
        wizard = self.grant(grant_kind='subunit', identifier_type='Pesel', identifier=PESEL, first_name='Anna',
                            last_name='Nowak', internal_id='0001', subunit_name='Oddział Kraków',
                            description='Administrator oddziału')
        line = wizard.subunit_line_ids
        self.assertEqual((line.internal_id, line.subunit_name, line.name, line.identifier),
                         (internal_id, 'Oddział Kraków', 'Anna Nowak', PESEL))
        wizard = self.revoke(line)
        self.assertFalse(wizard.subunit_line_ids)
        with self.assertRaisesRegex(UserError, 'internal ID 5265877635-00015 is not valid'):
            self.grant(grant_kind='subunit', identifier_type='Pesel', identifier=PESEL, first_name='Anna',
                       last_name='Nowak', internal_id=f'{SELLER_NIP}-00015', subunit_name='Oddział Kraków')

    def test_invalid_identifiers_are_refused_before_anything_is_sent(self):
        person = {'grant_kind': 'person', 'first_name': 'Anna', 'last_name': 'Nowak', 'invoice_read': True}
        cases = [
            (dict(person, identifier_type='Pesel', identifier='44051401358'),
             'PESEL 44051401358 is not valid'),
            (dict(person, identifier_type='Nip', identifier='5265877636'), 'NIP 5265877636 is not valid'),
            (dict(person, identifier_type='Fingerprint', identifier='AB' * 31), 'fingerprint is not valid: it has exactly 64'),
            (dict(person, identifier_type='Fingerprint', identifier='AB' * 32), 'date of birth and an identity document'),
            ({'grant_kind': 'entity', 'identifier': '7740001455', 'full_name': 'Biuro Rachunkowe', 'invoice_read': True},
             'NIP 7740001455 is not valid'),
            ({'grant_kind': 'authorization', 'authorized_identifier_type': 'PeppolId', 'identifier': 'PL123456',
              'full_name': 'Dostawca Peppol'}, 'Peppol ID PL123456 is not valid'),
            (dict(person, identifier_type='Pesel', identifier=PESEL, invoice_read=False), 'Tick at least one permission'),
            (dict(person, identifier_type='Pesel', identifier=PESEL, first_name='A'), 'First name must have 2 to 30'),
            (dict(person, identifier_type='Pesel', identifier=PESEL, description='abc'), 'Description must have 5 to 256'),
        ]
        before = len(self.records)
        wizard = self.open_wizard()
        for form, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                wizard.write(dict({'description': 'Uprawnienie z Odoo'}, **form))
                wizard.action_grant()
        self.assertEqual(len(self.records), before, "nothing was sent to KSeF")

    def test_failed_operation_is_reported_with_ksef_description(self):
        with self.assertRaisesRegex(UserError, "context does not have the role .* \\(status 430: Kontekst"):
            self.grant(grant_kind='person', identifier_type='Pesel', identifier=PESEL, first_name='Anna',
                       last_name='Nowak', enforcement_operations=True)
        self.assertFalse(self.open_wizard().person_line_ids.filtered(lambda line: line.identifier == PESEL))

    def test_login_without_credentials_manage_is_refused_in_plain_words(self):
        self.company.l10n_pl_ksef_token = self.issue_token(
            SELLER_NIP, permissions=('InvoiceWrite', 'InvoiceRead', 'CredentialsRead'))
        wizard = self.open_wizard()   # reading the lists needs CredentialsRead only
        wizard.write({'grant_kind': 'person', 'identifier_type': 'Pesel', 'identifier': PESEL, 'first_name': 'Anna',
                      'last_name': 'Nowak', 'invoice_read': True, 'description': 'Księgowa Anna'})
        with self.assertRaisesRegex(UserError, 'the login lacks the permission for this'):
            wizard.action_grant()
        self.company.l10n_pl_ksef_token = self.issue_token(SELLER_NIP, permissions=('InvoiceWrite', 'InvoiceRead'))
        with self.assertRaisesRegex(UserError, 'the login lacks the permission for this'):
            self.open_wizard()

    def test_settings_show_the_button_to_administrators(self):
        arch = self.env['res.config.settings'].get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('action_l10n_pl_ksef_open_permissions', arch)

    def test_accountant_cannot_use_the_wizard(self):
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa-uprawnienia', 'company_id': self.company.id,
            'company_ids': [(6, 0, self.company.ids)],
            'groups_id': [(6, 0, [self.env.ref('account.group_account_invoice').id])]})
        wizard = self.open_wizard()
        Wizard = self.env['l10n_pl_ksef.permission.wizard'].with_user(accountant)
        with self.assertRaises(AccessError):
            Wizard.create({'company_id': self.company.id})
        with self.assertRaises(AccessError):
            Wizard._l10n_pl_ksef_open(self.company)
        with self.assertRaises(AccessError):
            wizard.with_user(accountant).action_grant()
        with self.assertRaises(AccessError):
            self.env['res.config.settings'].with_user(accountant).create({})
