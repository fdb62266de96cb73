"""KSeF certificates managed from Odoo against the emulator: enrollment only after a signature login, the key
made and kept in Odoo, the company switched to the new login or Offline certificate, the live list, revocation,
expiry warnings, and administrators only."""
import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import html2plaintext, mute_logger

from odoo.addons.l10n_pl_ksef.ksef import crypto

from .common import SELLER_NIP, L10nPlKsefEmulatorCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefCertificates(L10nPlKsefEmulatorCommon):
    """The emulator lives for the whole class: its certificates accumulate, so tests look at their own serials."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # certificate calls share KSeF's 'other' group (30 a minute): lift it for the context, tests are not paced
        cls.lift_rate_limits()

    def login_with_seal(self):
        self.seal = self.seal_certificate(SELLER_NIP)
        self.company.write({'l10n_pl_ksef_auth_method': 'certificate', 'l10n_pl_ksef_certificate_id': self.seal.id})

    def open_wizard(self):
        action = self.env['res.config.settings'].create({'company_id': self.company.id}) \
            .action_l10n_pl_ksef_open_certificates()
        self.assertEqual((action['res_model'], action['target']), ('l10n_pl_ksef.certificate.wizard', 'new'))
        return self.env['l10n_pl_ksef.certificate.wizard'].browse(action['res_id'])

    def enroll(self, ksef_type, name='Odoo certyfikat', key_type='ec'):
        wizard = self.open_wizard()
        wizard.write({'name': name, 'ksef_type': ksef_type, 'key_type': key_type})
        wizard.action_enroll()
        return wizard

    def ksef_certificates(self, ksef_type):
        return self.env['certificate.certificate'].search([
            ('company_id', '=', self.company.id), ('l10n_pl_ksef_type', '=', ksef_type)])

    def private_key(self, certificate):
        pem = certificate.private_key_id.with_context(bin_size=False).pem_key
        return serialization.load_pem_private_key(base64.b64decode(pem), None)

    def line(self, wizard, serial):
        return wizard.line_ids.filtered(lambda line: line.serial == serial)

    def test_token_login_cannot_enroll_and_says_why(self):
        wizard = self.open_wizard()
        self.assertTrue(wizard.can_request)
        self.assertGreater(wizard.enrollments_limit, 0)
        self.assertGreater(wizard.certificates_limit, 0)
        with self.assertRaisesRegex(UserError, "Log in with the company's qualified seal or signature first"):
            wizard.action_enroll()
        self.assertFalse(self.env['certificate.certificate'].search([('l10n_pl_ksef_type', '!=', False)]))
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token')

    def test_invalid_name_is_refused_clearly(self):
        self.login_with_seal()
        wizard = self.open_wizard()
        for name in ('abc', 'Faktury!', 'x' * 101, False):
            wizard.name = name
            with self.assertRaisesRegex(UserError, '5 to 100 characters: letters'):
                wizard.action_enroll()
        self.assertFalse(self.ksef_certificates('authentication'))
        wizard.name = 'Łódź księgowość_1'
        wizard.action_enroll()
        self.assertEqual(self.ksef_certificates('authentication').name, 'Łódź księgowość_1 (Authentication)')

    def test_enroll_authentication_switches_the_login(self):
        self.login_with_seal()
        remaining = self.open_wizard().certificates_remaining
        wizard = self.enroll('authentication')
        certificate = self.ksef_certificates('authentication')
        self.assertEqual(len(certificate), 1)
        self.assertTrue(certificate.is_valid)
        self.assertFalse(certificate.private_key_id.public)
        key = self.private_key(certificate)
        self.assertIsInstance(key, ec.EllipticCurvePrivateKey)
        self.assertEqual(key.curve.name, 'secp256r1')
        self.assertRegex(certificate.l10n_pl_ksef_serial, '^[0-9A-F]{16}$')
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, certificate)
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'certificate')
        self.assertIn('now logs in to KSeF with it', wizard.message)

        action = self.company.action_l10n_pl_ksef_test_connection()
        self.assertEqual(action['params']['type'], 'success')
        line = self.line(wizard, certificate.l10n_pl_ksef_serial)
        self.assertEqual((line.ksef_type, line.status, line.key_in_odoo, line.certificate_id),
                         ('authentication', 'Active', True, certificate))
        self.assertEqual(line.valid_to, certificate.date_end)
        self.assertEqual(wizard.certificates_remaining, remaining - 1)

        # with the KSeF certificate as login (a signature login too), KSeF lets Odoo enroll again
        self.enroll('offline', name='Odoo offline')
        self.assertTrue(self.company.l10n_pl_ksef_offline_certificate_id)

    def test_enroll_offline_with_rsa_sets_the_offline_certificate(self):
        self.login_with_seal()
        wizard = self.enroll('offline', key_type='rsa')
        certificate = self.ksef_certificates('offline')
        self.assertEqual(self.company.l10n_pl_ksef_offline_certificate_id, certificate)
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, self.seal, "the login stays the seal")
        key = self.private_key(certificate)
        self.assertIsInstance(key, rsa.RSAPrivateKey)
        self.assertEqual(key.key_size, 2048)
        self.assertIn('KOD II', wizard.message)
        self.assertEqual(self.line(wizard, certificate.l10n_pl_ksef_serial).ksef_type, 'offline')

    def test_both_listed_then_revoked(self):
        self.login_with_seal()
        wizard = self.enroll('both')
        login, offline = self.ksef_certificates('authentication'), self.ksef_certificates('offline')
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, login)
        self.assertEqual(self.company.l10n_pl_ksef_offline_certificate_id, offline)
        serials = [login.l10n_pl_ksef_serial, offline.l10n_pl_ksef_serial]
        self.assertEqual(wizard.line_ids.filtered(lambda line: line.serial in serials).mapped('status'),
                         ['Active', 'Active'])
        self.assertNotEqual(login.l10n_pl_ksef_serial, offline.l10n_pl_ksef_serial)

        self.line(wizard, offline.l10n_pl_ksef_serial).action_revoke()
        self.assertFalse(offline.active, "archived in Odoo")
        self.assertFalse(self.company.l10n_pl_ksef_offline_certificate_id)
        self.assertEqual(self.line(wizard, offline.l10n_pl_ksef_serial).status, 'Revoked')
        self.assertFalse(self.line(wizard, offline.l10n_pl_ksef_serial).key_in_odoo)
        with self.assertRaisesRegex(UserError, 'already revoked'):
            self.company._l10n_pl_ksef_revoke_certificate(offline.l10n_pl_ksef_serial)

        self.line(wizard, login.l10n_pl_ksef_serial).action_revoke()
        self.assertFalse(login.active)
        self.assertFalse(self.company.l10n_pl_ksef_certificate_id)
        self.assertIn('choose another login', wizard.message)
        self.assertEqual(self.line(wizard, login.l10n_pl_ksef_serial).status, 'Revoked')
        with self.assertRaisesRegex(UserError, 'Choose a KSeF login certificate'):
            self.company.action_l10n_pl_ksef_test_connection()

        # KSeF says so too: revoked, and no login with it any more
        self.company.l10n_pl_ksef_certificate_id = login
        with self.assertRaisesRegex(UserError, 'invalid, revoked'):
            self.company.action_l10n_pl_ksef_test_connection()
        self.company.l10n_pl_ksef_certificate_id = self.seal
        self.assertEqual(self.open_wizard().line_ids.filtered(lambda line: line.serial in serials).mapped('status'),
                         ['Revoked', 'Revoked'])

    def test_failed_login_with_the_new_certificate_keeps_the_previous_login(self):
        self.login_with_seal()
        self.enroll('authentication')
        certificate = self.ksef_certificates('authentication')
        self.company._l10n_pl_ksef_revoke_certificate(certificate.l10n_pl_ksef_serial)
        self.company.l10n_pl_ksef_certificate_id = self.seal
        message = self.company._l10n_pl_ksef_use_certificate(certificate)
        self.assertIn('the login with it failed', message)
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, self.seal)
        self.assertEqual(self.company.action_l10n_pl_ksef_test_connection()['params']['type'], 'success')

    def test_issued_certificate_not_stored_keeps_its_key(self):
        key, other_key = crypto.generate_ec_key(), crypto.generate_ec_key()
        now = crypto.utcnow()
        certificate = crypto.self_signed_certificate(other_key, [(x509.NameOID.COMMON_NAME, 'KSeF')],
                                                     now, now + datetime.timedelta(days=730))
        with mute_logger('odoo.addons.l10n_pl_ksef.models.res_company_ksef_certificate'), \
                self.assertRaisesRegex(UserError, "issued the certificate 0123456789ABCDEF but Odoo could not "
                                                  "store it.*'KSeF 0123456789ABCDEF.key'"):
            self.company._l10n_pl_ksef_store_certificate('Odoo', 'offline', key, certificate, '0123456789ABCDEF')
        kept = self.env['certificate.key'].search([('name', '=', 'KSeF 0123456789ABCDEF.key')])
        self.assertEqual(kept.company_id, self.company)
        pem = base64.b64decode(kept.with_context(bin_size=False).pem_key)
        self.assertEqual(serialization.load_pem_private_key(pem, None).private_numbers(), key.private_numbers())
        self.assertFalse(self.ksef_certificates('offline'))

    def test_limit_reached_is_said_plainly(self):
        self.login_with_seal()
        self.company._l10n_pl_ksef_run(lambda client, tokens: client.call(
            'POST', '/testdata/limits/subject/certificate', token=client.fresh_access(tokens),
            json_body={'certificate': {'maxCertificates': 0}}))
        self.addCleanup(self.company._l10n_pl_ksef_run, lambda client, tokens: client.call(
            'DELETE', '/testdata/limits/subject/certificate', token=client.fresh_access(tokens)))
        wizard = self.open_wizard()
        self.assertFalse(wizard.can_request)
        with self.assertRaisesRegex(UserError, 'limit of active certificates is reached'):
            wizard.action_enroll()
        self.assertFalse(self.ksef_certificates('authentication'))

    def test_both_with_room_for_one_keeps_the_first(self):
        self.login_with_seal()
        wizard = self.open_wizard()
        active = wizard.certificates_limit - wizard.certificates_remaining
        self.company._l10n_pl_ksef_run(lambda client, tokens: client.call(
            'POST', '/testdata/limits/subject/certificate', token=client.fresh_access(tokens),
            json_body={'certificate': {'maxCertificates': active + 1}}))
        self.addCleanup(self.company._l10n_pl_ksef_run, lambda client, tokens: client.call(
            'DELETE', '/testdata/limits/subject/certificate', token=client.fresh_access(tokens)))
        wizard = self.enroll('both')
        login = self.ksef_certificates('authentication')
        self.assertEqual(self.company.l10n_pl_ksef_certificate_id, login)
        self.assertFalse(self.ksef_certificates('offline'))
        self.assertIn('The Offline certificate was not enrolled', wizard.message)
        self.assertIn('limit of active certificates', wizard.message)

    def test_expiry_warns_at_30_and_7_days_once_each(self):
        self.login_with_seal()
        self.enroll('offline', name='Offline do KOD II')
        certificate = self.ksef_certificates('offline')
        expiry = certificate.date_end.date()
        Certificate = self.env['certificate.certificate']

        def warnings():
            return self.company.sudo().activity_ids.filtered(lambda activity: certificate.name in activity.summary)

        def run_on(days):
            Certificate._l10n_pl_ksef_cron_warn_expiry(today=expiry + datetime.timedelta(days=days))

        run_on(-31)
        self.assertFalse(warnings())
        run_on(-30)
        self.assertEqual(len(warnings()), 1)
        self.assertIn('Enroll a new KSeF Offline certificate from Settings > KSeF > KSeF certificates',
                      html2plaintext(warnings().note))
        self.assertEqual(warnings().user_id, self.company._l10n_pl_ksef_admins())
        self.assertEqual(warnings().date_deadline, expiry)
        run_on(-29)
        self.assertEqual(len(warnings()), 1)
        warnings().action_feedback('noted')
        run_on(-10)
        self.assertFalse(warnings(), "the 30-day warning is given once, even once done")
        run_on(-7)
        self.assertEqual(len(warnings()), 1)
        self.assertIn('expires in a week', warnings().summary)
        run_on(-6)
        self.assertEqual(len(warnings()), 1)
        run_on(1)
        self.assertEqual(len(warnings()), 2)
        self.assertIn('expired on', warnings()[-1].summary)
        run_on(2)
        self.assertEqual(len(warnings()), 2)

    def test_cron_ignores_other_certificates_and_archived_ones(self):
        self.login_with_seal()
        self.enroll('offline', name='Offline stary')
        certificate = self.ksef_certificates('offline')
        certificate.action_archive()
        self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_certificate_expiry').method_direct_trigger()
        self.env['certificate.certificate']._l10n_pl_ksef_cron_warn_expiry(
            today=max(certificate.date_end, self.seal.date_end).date() + datetime.timedelta(days=1))
        self.assertFalse(self.company.sudo().activity_ids.filtered(
            lambda activity: 'KSeF certificate' in (activity.summary or '')))

    def test_accountant_cannot_manage_certificates(self):
        self.login_with_seal()
        self.enroll('offline')
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa-cert', 'company_id': self.company.id,
            'company_ids': [(6, 0, self.company.ids)],
            'groups_id': [(6, 0, [self.env.ref('account.group_account_invoice').id])]})
        with self.assertRaises(AccessError):
            self.env['l10n_pl_ksef.certificate.wizard'].with_user(accountant)._l10n_pl_ksef_open(self.company)
        with self.assertRaises(AccessError):
            self.company.with_user(accountant).read(['l10n_pl_ksef_offline_certificate_id'])
        with self.assertRaises(AccessError):
            self.ksef_certificates('offline').with_user(accountant).read(['l10n_pl_ksef_serial'])

    def test_neutralized_copy_drops_the_offline_certificate(self):
        from odoo.modules.neutralize import get_neutralization_queries
        self.login_with_seal()
        self.enroll('offline')
        self.env.flush_all()
        for query in get_neutralization_queries(['l10n_pl_ksef']):
            self.env.cr.execute(query)
        self.company.invalidate_recordset()
        self.assertFalse(self.company.l10n_pl_ksef_offline_certificate_id)
