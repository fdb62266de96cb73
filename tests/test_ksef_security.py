"""Secrets and companies (issue 12, item 4): a whole run — login by token, sending, a refreshed access token, a
refused login, a KSeF failure, receiving, bills — leaves none of the secrets it used in the log, the chatter, the
errors shown, the stored files or what an accountant can export; accountants cannot read the secrets; a user of one
company sees nothing of another's documents, files, syncs, learned products or credentials."""
import datetime
import logging

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import L10nPlKsefTestCommon, SELLER_NIP, ksef_number
from .test_ksef_receiving import ReceivingCommon

WATCHED_LOGGERS = ('odoo.addons.l10n_pl_ksef', 'urllib3', 'requests', 'werkzeug')


class Capture(logging.Handler):
    """Every log record of the run, formatted with its traceback, as a log file would hold it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter('%(levelname)s %(name)s: %(message)s'))
        self.texts = []

    def emit(self, record):
        self.texts.append(self.format(record))


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefSecretsNeverLeak(ReceivingCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()

    def capture_logs(self):
        capture = Capture()
        root = logging.getLogger()
        root.addHandler(capture)
        self.addCleanup(root.removeHandler, capture)
        for name in WATCHED_LOGGERS:   # everything our code and the HTTP layer could say, debug included
            logger = logging.getLogger(name)
            self.addCleanup(logger.setLevel, logger.level)
            logger.setLevel(logging.DEBUG)
        return capture

    def cached_tokens(self):
        company = self.company.sudo()
        return [company.l10n_pl_ksef_access_token, company.l10n_pl_ksef_refresh_token]

    def test_a_full_run_leaves_no_secret_anywhere(self):
        capture = self.capture_logs()
        first_message = self.env['mail.message'].search([], order='id desc', limit=1).id
        first_attachment = self.env['ir.attachment'].search([], order='id desc', limit=1).id
        secrets = {'KSeF token': self.company.sudo().l10n_pl_ksef_token}
        shown = []   # what users were told

        move = self.post_invoice(self.buyer_pl, [(100.0, 1, 'vs_kraj_23')])
        shown.append(str(move.action_l10n_pl_ksef_send()))
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
        secrets.update(zip(('access token', 'refresh token'), self.cached_tokens()))

        # the access token runs out: the refresh token gets a new one
        self.company.sudo().l10n_pl_ksef_access_valid_until = fields.Datetime.now() - datetime.timedelta(minutes=1)
        second = self.post_invoice(self.buyer_pl, [(200.0, 1, 'vs_kraj_23')])
        shown.append(str(second.action_l10n_pl_ksef_send()))
        secrets['refreshed access token'] = self.cached_tokens()[0]
        self.assertNotEqual(secrets['refreshed access token'], secrets['access token'])

        # KSeF fails for a while: the invoice waits, the failure is told
        self.emulator_post('faults', {'status': 500, 'count': 3, 'pathPrefix': '/sessions'})
        third = self.post_invoice(self.buyer_pl, [(300.0, 1, 'vs_kraj_23')])
        shown.append(str(third.action_l10n_pl_ksef_send()))
        shown += third.l10n_pl_ksef_document_ids.mapped('message')
        self.emulator_post('faults', {'status': None, 'count': 0})

        # received invoices become bills
        self.supply(2)
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(len(self.received().move_id), 2)

        # a token KSeF refuses
        secrets['refused token'] = self.issue_token(SELLER_NIP) + 'x'
        self.company.sudo().write({'l10n_pl_ksef_token': secrets['refused token']})   # also forgets the cache
        with self.assertRaises(UserError) as refused:
            self.company._l10n_pl_ksef_run(lambda client, tokens: tokens)
        shown.append(str(refused.exception))

        self.env.flush_all()
        messages = self.env['mail.message'].search([('id', '>', first_message)])
        self.assertTrue(messages, "the run wrote in the chatter")
        attachments = self.env['ir.attachment'].search([('id', '>', first_attachment)])
        self.assertTrue(attachments, "the run stored files (FA(3), UPO)")
        self.env.cr.execute("SELECT coalesce(string_agg(message, ' '), '') FROM ir_logging")
        database_log = self.env.cr.fetchone()[0]
        places = {
            'log': '\n'.join(capture.texts),
            'chatter': '\n'.join(f'{m.subject} {m.body}' for m in messages) + '\n'.join(
                f'{v.old_value_char} {v.new_value_char}' for v in messages.sudo().tracking_value_ids),
            'what users were told': '\n'.join(map(str, shown)),
            'stored files': '\n'.join(a.raw.decode('utf-8', 'replace') for a in attachments if a.raw),
            'syncs': '\n'.join(self.env['l10n_pl_ksef.sync'].search([]).mapped(lambda s: str(s.last_error))),
            'ir.logging': database_log,
            "an accountant's export": self.accountant_export(),
        }
        self.assertIn('POST /v2/', places['log'], "the HTTP layer was heard")
        self.assertTrue(all(secrets.values()))
        for name, secret in secrets.items():
            # a KSeF token is "reference|context|secret": its reference number is public (the UPO names the
            # token that logged in); the rest must never show, whole or any 16 of its characters
            secret = secret.rsplit('|', 1)[-1]
            if secret.count('.') == 2:   # a JWT: its header is the same in every token, the rest is the secret
                secret = secret.split('.', 1)[1]
            pieces = {secret[start:start + 16] for start in range(0, max(1, len(secret) - 15), 8)}
            for place, text in places.items():
                leaked = [piece for piece in pieces if piece in text]
                self.assertFalse(leaked, f"the {name} leaked into {place}")

    def accountant_export(self):
        """What an accountant can export of KSeF documents, invoices and the company: every field they may read."""
        exported = []
        self.accountant.groups_id |= self.env.ref('base.group_allow_export')
        for model, records in (('l10n_pl_ksef.document', self.env['l10n_pl_ksef.document'].search([])),
                               ('account.move', self.env['account.move'].search([('l10n_pl_ksef_state', '!=', False)])),
                               ('res.company', self.company)):
            as_accountant = records.with_user(self.accountant)
            names = [name for name, field in as_accountant.fields_get(attributes=['type', 'exportable']).items()
                     if field.get('exportable', True) and field['type'] not in ('binary', 'one2many', 'many2many')]
            exported += [str(row) for row in as_accountant.export_data(names)['datas']]
        return '\n'.join(exported)


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefCompaniesKeptApart(L10nPlKsefTestCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.setup_other_company(name='Druga Firma sp. z o.o.')['company']
        cls.other.write({'vat': 'PL7740001454', 'l10n_pl_ksef_token': 'token-of-the-other-company-0123456789'})
        cls.company.l10n_pl_ksef_token = 'token-of-our-company-0123456789'
        Document = cls.env['l10n_pl_ksef.document']
        cls.ours = Document._l10n_pl_ksef_create_inbounds(cls.company, 'Subject2', cls.package('0000A1'))
        cls.theirs = Document._l10n_pl_ksef_create_inbounds(cls.other, 'Subject2', cls.package('0000B1'))
        cls.other._l10n_pl_ksef_ensure_syncs()
        cls.company._l10n_pl_ksef_ensure_syncs()
        vendor = cls.env['res.partner'].create({'name': 'Dostawca S.A.', 'vat': 'PL6808208874'})
        Mapping = cls.env['l10n_pl_ksef.product.mapping']
        cls.their_mapping = Mapping.create({'company_id': cls.other.id, 'partner_id': vendor.id, 'name': 'usługa',
                                            'product_id': cls.product.id})
        cls.user = new_test_user(cls.env, login='ksef_company_a_accountant', groups='account.group_account_invoice',
                                 company_id=cls.company.id, company_ids=[cls.company.id])

    @classmethod
    def package(cls, code):
        number = ksef_number('6808208874', '20261102', f'{code}000000')
        xml = b'<?xml version="1.0" encoding="UTF-8"?><Faktura>' + number.encode() + b'</Faktura>'
        return {number: ({'ksefNumber': number, 'seller': {'nip': '6808208874', 'name': 'Dostawca S.A.'},
                          'invoiceNumber': f'FV/{code}', 'issueDate': '2026-11-02', 'invoiceType': 'Vat',
                          'currency': 'PLN', 'grossAmount': 123.0}, xml)}

    def test_a_user_of_one_company_sees_nothing_of_another(self):
        env = self.env(user=self.user)
        documents = env['l10n_pl_ksef.document'].search([('direction', '=', 'in')])
        self.assertIn(self.ours, documents)
        self.assertNotIn(self.theirs, documents)
        with self.assertRaises(AccessError):
            self.theirs.with_user(self.user).read(['ksef_number'])
        with self.assertRaises(AccessError, msg="the other company's FA(3) file"):
            self.theirs.attachment_id.with_user(self.user).read(['raw'])
        self.assertTrue(self.ours.attachment_id.with_user(self.user).raw, "their own files they read")
        syncs = env['l10n_pl_ksef.sync'].search([])
        self.assertTrue(syncs)
        self.assertEqual(syncs.company_id, self.company)
        self.assertFalse(env['l10n_pl_ksef.product.mapping'].search([]), "the other company's learned products")
        with self.assertRaises(AccessError):
            self.their_mapping.with_user(self.user).read(['name'])

    def test_accountants_cannot_read_any_secret(self):
        company = self.company.with_user(self.user)
        for field in ('l10n_pl_ksef_token', 'l10n_pl_ksef_access_token', 'l10n_pl_ksef_refresh_token',
                      'l10n_pl_ksef_certificate_id', 'l10n_pl_ksef_offline_certificate_id'):
            self.assertNotIn(field, company.fields_get(), f"{field} is not even listed for an accountant")
            with self.assertRaises(AccessError, msg=field):
                company.read([field])
        with self.assertRaises(AccessError):
            self.other.with_user(self.user).read(['l10n_pl_ksef_token'])
        with self.assertRaises(AccessError, msg="pointing the company at another server would hand it the token"):
            company.write({'l10n_pl_ksef_environment': 'custom',
                           'l10n_pl_ksef_custom_url': 'https://attacker.example/v2'})
        with self.assertRaises(AccessError, msg="Odoo's certificates (keys, passwords) are for administrators"):
            self.env['certificate.certificate'].with_user(self.user).search([])
        self.assertEqual(self.company.sudo().l10n_pl_ksef_token, 'token-of-our-company-0123456789')

    def test_tls_certificates_are_always_verified_for_ksef_hosts(self):
        from odoo.addons.l10n_pl_ksef.models.res_company_ksef import ksef_client
        for environment in ('test', 'demo', 'prod'):
            client = ksef_client(self.env, environment)
            self.assertIs(client.http.verify, True, environment)
            self.assertTrue(client.environment.api_url.startswith('https://'), environment)


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefHostileReceivedFiles(L10nPlKsefTestCommon):
    """What a supplier (or a damaged package) puts in front of Odoo: each hostile file becomes a document in state
    error saying why, its bytes kept for inspection; the others of the same package go on to their bills."""

    def hostile_files(self, secret_path):
        from odoo.addons.l10n_pl_ksef.ksef import fa3
        from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
        valid = fa3.build(samples.ten_line_invoice(1))
        lol = '<!ENTITY a0 "lol">' + ''.join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        return {
            'entity expansion': f'<?xml version="1.0"?><!DOCTYPE F [{lol}]><Faktura>&a9;</Faktura>'.encode(),
            'external entity': (f'<?xml version="1.0"?><!DOCTYPE F [<!ENTITY x SYSTEM "file://{secret_path}">]>'
                                f'<Faktura xmlns="{fa3.NAMESPACE}"><Naglowek>&x;</Naglowek></Faktura>').encode(),
            'deep nesting': b'<?xml version="1.0"?>' + b'<a>' * 100_000 + b'</a>' * 100_000,
            'huge attribute': valid.replace(b'<Naglowek>', b'<Naglowek x="' + b'y' * 900_000 + b'">'),
            'invalid UTF-8': valid.replace(b'</P_2>', b'\xff\xfe</P_2>', 1),
            'wrong namespace': valid.replace(fa3.NAMESPACE.encode(), b'http://example.com/not-fa3'),
            'too large': b'<a>' + b'x' * 3_000_001 + b'</a>',
            'not XML': b'PK\x03\x04 this is a zip, not an invoice',
            'empty': b'',
        }, valid

    def test_each_hostile_file_is_refused_kept_and_the_rest_goes_on(self):
        import tempfile
        with tempfile.NamedTemporaryFile('w', suffix='.txt') as secret:
            secret.write('TOP-SECRET-OF-THE-SERVER')
            secret.flush()
            files, valid = self.hostile_files(secret.name)
            package = {}
            for index, (name, content) in enumerate([*files.items(), ('valid', valid)]):
                number = ksef_number('6808208874', '20261102', f'{index:06X}A00000')
                package[number] = ({'ksefNumber': number, 'seller': {'nip': '6808208874', 'name': name},
                                    'invoiceNumber': name, 'invoiceType': 'Vat', 'currency': 'PLN'}, content)
            Document = self.env['l10n_pl_ksef.document']
            documents = Document._l10n_pl_ksef_create_inbounds(self.company, 'Subject2', package)
            Document._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(len(documents), len(files) + 1, "every invoice of the package is kept, none dropped")
        by_name = {d.invoice_number: d for d in documents}
        self.assertEqual(by_name['valid'].state, 'bill_created', "the good invoice of the package goes on")
        for name, content in files.items():
            document = by_name[name]
            self.assertEqual(document.state, 'error', name)
            self.assertTrue(document.message, f"{name}: says why")
            self.assertNotIn('TOP-SECRET', document.message)
            if content:
                self.assertEqual(document.attachment_id.raw, content, f"{name}: kept as it came, for inspection")
        self.assertIn('cannot be read', by_name['external entity'].message)


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefHostilePackages(ReceivingCommon):
    """A package whose entries are damaged or hostile: each bad entry is refused alone, its invoice kept as a
    document in error saying why (download it again), the others received, the stray entries told on the sync,
    and the sync goes on past the package."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()

    def test_bad_entries_are_refused_alone_and_the_sync_goes_on(self):
        numbers = self.supply(3)
        victim = f'{numbers[1]}.xml'

        def tamper(files):
            return [(name, b'x' * 3_000_001 if name == victim else data) for name, data in files] + [
                ('../../../etc/cron.d/evil.xml', b'* * * * * root rm -rf /'), ('readme.txt', b'hello')]
        self.app.service.options.export_tamper = tamper
        self.addCleanup(setattr, self.app.service.options, 'export_tamper', None)
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        documents = {d.ksef_number: d for d in self.received()}
        self.assertEqual(sorted(documents), sorted(numbers), "every invoice of the package arrives")
        refused = documents[numbers[1]]
        self.assertEqual(refused.state, 'error')
        self.assertIn('larger than an invoice may be', refused.message)
        self.assertIn('Download one invoice', refused.message, "says what to do")
        self.assertEqual({documents[n].state for n in (numbers[0], numbers[2])}, {'received'})
        sync = self.env['l10n_pl_ksef.sync'].search([('company_id', '=', self.company.id),
                                                     ('subject_type', '=', 'Subject2')])
        self.assertIn('../../../etc/cron.d/evil.xml', sync.last_error)
        self.assertIn('readme.txt', sync.last_error)
        self.assertTrue(sync.high_water_mark, "the sync moved past the package")

        self.app.service.options.export_tamper = None
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(len(self.received().move_id), 2)
        sync.next_run = fields.Datetime.now()   # its next run is due
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        self.assertEqual(len(self.received()), 3, "nothing received twice")
        self.assertFalse(sync.last_error, "the next clean package clears the note")
