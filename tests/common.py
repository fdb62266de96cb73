from lxml import etree

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name
from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from odoo.addons.l10n_pl_ksef.ksef import fa3, identifiers

NS = {'f': fa3.NAMESPACE}
SELLER_NIP = '5265877635'
BUYER_NIP = '6808208874'


def ksef_number(nip, day, tech):
    head = f'{nip}-{day}-{tech}'
    return f'{head}-{identifiers.ksef_number_checksum(head)}'


class L10nPlKsefTestCommon(AccountTestInvoicingCommon):

    @classmethod
    @AccountTestInvoicingCommon.setup_country('pl')
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.company_data['company']
        cls.company.write({
            'name': 'Kowalski sp. z o.o.', 'vat': f'PL{SELLER_NIP}', 'street': 'ul. Marszałkowska 1',
            'zip': '00-001', 'city': 'Warszawa', 'email': 'faktury@kowalski.example',
        })
        cls.tax = {xml_id: cls.env['account.chart.template'].ref(xml_id) for xml_id in (
            'vs_kraj_23', 'vs_kraj_8', 'vs_kraj_5', 'vs_kraj_0', 'vs_kraj_zw', 'vs_unia', 'vs_eksp_tow',
            'vs_dostu', 'vs_ekspu', 'vs_stal', 'vs_unia_triangular')}
        cls.tax['vs_stal'].active = True
        cls.tax['vs_unia_triangular'].active = True
        cls.pl = cls.env.ref('base.pl')
        cls.buyer_pl = cls.env['res.partner'].create({
            'name': 'Nowak Handel S.A.', 'vat': f'PL{BUYER_NIP}', 'country_id': cls.pl.id, 'is_company': True,
            'street': 'ul. Długa 5', 'zip': '31-147', 'city': 'Kraków', 'email': 'zakupy@nowak.example'})
        cls.buyer_eu = cls.env['res.partner'].create({
            'name': 'Müller GmbH', 'vat': 'DE811907980', 'country_id': cls.env.ref('base.de').id,
            'is_company': True, 'street': 'Hauptstraße 12', 'zip': '10115', 'city': 'Berlin'})
        cls.buyer_us = cls.env['res.partner'].create({
            'name': 'Acme Inc.', 'vat': '12-3456789', 'country_id': cls.env.ref('base.us').id, 'is_company': True,
            'street': '1 Main Street', 'city': 'Springfield'})
        cls.consumer = cls.env['res.partner'].create({
            'name': 'Jan Kowalski', 'country_id': cls.pl.id, 'street': 'ul. Polna 3', 'zip': '05-800',
            'city': 'Pruszków'})
        cls.product = cls.env['product.product'].create({
            'name': 'Usługa doradcza', 'default_code': 'DOR-1', 'lst_price': 100.0,
            'taxes_id': [Command.set(cls.tax['vs_kraj_23'].ids)]})

    @classmethod
    def post_invoice(cls, partner, lines, move_type='out_invoice', post=True, **values):
        """lines: [(price_unit, quantity, tax xml id or tax record, extra line values)]"""
        line_commands = []
        for price, quantity, tax, *extra in lines:
            tax = cls.tax[tax] if isinstance(tax, str) else tax
            line_commands.append(Command.create({
                'product_id': cls.product.id, 'name': f'Pozycja {len(line_commands) + 1}', 'price_unit': price,
                'quantity': quantity, 'tax_ids': [Command.set(tax.ids)], **(extra[0] if extra else {})}))
        move = cls.env['account.move'].create({
            'move_type': move_type, 'partner_id': partner.id, 'invoice_date': '2026-11-02',
            'invoice_line_ids': line_commands, **values})
        if post:
            move.action_post()
        return move

    def fa3_of(self, move, allow_warnings=()):
        """The FA(3) of a move: asserts it is XSD-valid with no problem (bar the listed warning codes) and
        round-trips; returns (Invoice, lxml root)."""
        invoice = move._l10n_pl_ksef_get_fa3_invoices()[move]
        problems = [p for p in move._l10n_pl_ksef_fa3_problems(invoice) if p.code not in allow_warnings]
        self.assertEqual(problems, [], f'FA(3) of {move.name}')
        xml = fa3.build(invoice)
        self.assertEqual(fa3.parse(xml), invoice)
        return invoice, etree.fromstring(xml)

    def text(self, root, path):
        found = root.xpath(path, namespaces=NS)
        self.assertTrue(found, f'{path} not found')
        return found[0].text


class L10nPlKsefEmulatorCommon(L10nPlKsefTestCommon):
    """The test company connected to a KSeF emulator started on a loopback port for the test class, logging in
    with a KSeF token of its own NIP (InvoiceWrite, InvoiceRead, CredentialsManage, CredentialsRead)."""

    token_permissions = ('InvoiceWrite', 'InvoiceRead', 'CredentialsManage', 'CredentialsRead')
    emulator_options = {'auth_delay': 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_thread
        cls.emulator = emulator_thread(**cls.emulator_options)
        cls.app, cls.base = cls.emulator.__enter__()
        cls.addClassCleanup(cls.emulator.__exit__, None, None, None)
        cls.company.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{cls.base}/v2',
                           'l10n_pl_ksef_token': cls.issue_token(SELLER_NIP)})

    @classmethod
    def _request_handler(cls, session, request, /, **kwargs):
        # Odoo's test guard compares the timeout with a number; the client passes (connect, read)
        if isinstance(kwargs.get('timeout'), tuple):
            kwargs['timeout'] = max(10, *kwargs['timeout'])
        return super()._request_handler(session, request, **kwargs)

    @classmethod
    def emulator_post(cls, path, body):
        """An emulator set-up call (POST /_emulator/...): tokens, grants, clock, faults."""
        import requests
        response = requests.post(f'{cls.base}/_emulator/{path}', json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    @classmethod
    def issue_token(cls, value, context_type='Nip', permissions=None):
        return cls.emulator_post('tokens', {
            'contextIdentifier': {'type': context_type, 'value': value},
            'permissions': list(permissions or cls.token_permissions)})['token']

    @classmethod
    def seal_certificate(cls, nip, company=None, name='Pieczęć'):
        """A qualified-seal-like certificate (organizationIdentifier VATPL-<NIP>) as a PKCS#12 in Odoo's
        certificates (the emulator trusts any chain; its identity is what counts)."""
        import base64
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
        from odoo.addons.l10n_pl_ksef.ksef import crypto
        key = crypto.generate_rsa_key()
        now = crypto.utcnow()
        certificate = crypto.self_signed_certificate(key, [
            (x509.NameOID.COMMON_NAME, 'Kowalski sp. z o.o.'), (x509.NameOID.COUNTRY_NAME, 'PL'),
            (x509.ObjectIdentifier('2.5.4.97'), f'VATPL-{nip}')],
            now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
        content = pkcs12.serialize_key_and_certificates(
            b'seal', key, certificate, None, serialization.BestAvailableEncryption(b'haslo'))
        return cls.env['certificate.certificate'].create({
            'name': name, 'content': base64.b64encode(content), 'pkcs12_password': 'haslo',
            'company_id': (company or cls.company).id})

    @classmethod
    def lift_rate_limits(cls, nip=SELLER_NIP, token=None, **groups):
        """Raise the emulator's rate limits of a context (tests are not paced like a real client); ``groups``
        override single groups, e.g. onlineSession={'perSecond': 1, 'perMinute': 1, 'perHour': 1}."""
        from odoo.addons.l10n_pl_ksef.ksef import limits
        from odoo.addons.l10n_pl_ksef.ksef.client import Secret
        client = cls.emulator_client()
        tokens = client.login_with_token('Nip', nip, Secret(token or cls.company.l10n_pl_ksef_token))
        lifted = {group: {'perSecond': 1000, 'perMinute': 10000, 'perHour': 100000} for group in limits.GROUPS}
        client.call('POST', '/testdata/rate-limits', token=client.fresh_access(tokens),
                    json_body={'rateLimits': lifted | groups})

    @classmethod
    def emulator_client(cls):
        from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient, custom_environment
        return KsefClient(custom_environment(f'{cls.base}/v2'))


class L10nPlKsefCommittingCase(BaseCase):
    """No test transaction: like production workers, every cursor commits, and a test removes its data at the end
    (a transaction held open by the test would block the workers). An emulator without delays or rate limits, per
    class, or per test with ``emulator_per_test`` (KSeF then holds only that test's invoices)."""
    _request_handler = L10nPlKsefEmulatorCommon._request_handler
    emulator_per_test = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        if not cls.emulator_per_test:
            cls.app, cls.base = cls.start_emulator(cls.addClassCleanup)

    def setUp(self):
        super().setUp()
        if self.emulator_per_test:
            self.app, self.base = self.start_emulator(self.addCleanup)

    @staticmethod
    def start_emulator(cleanup):
        from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_thread
        emulator = emulator_thread(auth_delay=0, invoice_delay=0)
        app, base = emulator.__enter__()
        cleanup(emulator.__exit__, None, None, None)
        app.enforce_limits = False
        return app, base

    def committed_company(self, name, values, new_values=None, chart=None):
        """The company ``name`` with ``values``, committed: the previous run's is reused (a company cannot be
        deleted once Odoo created what goes with it), else created with ``new_values`` and the ``chart``. Its data
        is removed at the end of the test (remove_committed_data); its id is ``self.company_id``."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env['res.company'].with_context(active_test=False).search([('name', '=', name)])
            if company:
                company.write(dict(values, active=True))
            else:
                company = env['res.company'].create({'name': name, **(new_values or {}), **values})
                if chart:   # a Polish company (its country set from the chart's) with the chart loaded
                    company.country_id = env.ref(f'base.{chart}')
                    env['account.chart.template'].try_loading(chart, company=company, install_demo=False)
            company._l10n_pl_ksef_ensure_syncs()
            self.company_id = company.id
        self.addCleanup(self.remove_committed_data)

    def queue_documents(self, count, first):
        """``count`` ten-line FA(3) files (samples ``first``...) queued as the company's documents to send, without
        invoices behind them, committed: (document ids, their SHA-256)."""
        from odoo.addons.l10n_pl_ksef.ksef import crypto
        from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            documents = env['l10n_pl_ksef.document']
            for index in range(count):
                xml = fa3.build(samples.ten_line_invoice(first + index))
                attachment = env['ir.attachment'].create({'name': f'{index}.xml', 'raw': xml})
                documents |= documents.create({'company_id': self.company_id, 'attachment_id': attachment.id,
                                               'xml_hash': crypto.sha256_b64(xml)})
            return documents.ids, set(documents.mapped('xml_hash'))

    def remove_committed_data(self):
        """What the test committed for the company: bills and invoices, KSeF documents and their files, syncs; the
        company itself is referenced by what Odoo created with it: archived, without its KSeF secrets."""
        with self.registry.cursor() as cr:
            cr.execute("SELECT id, attachment_id, upo_attachment_id FROM l10n_pl_ksef_document WHERE company_id = %s",
                       (self.company_id,))
            rows = cr.fetchall()
            cr.execute("SELECT id FROM account_move WHERE company_id = %s", (self.company_id,))
            moves = tuple(row[0] for row in cr.fetchall())
            if moves:
                cr.execute("DELETE FROM mail_message WHERE model = 'account.move' AND res_id IN %s", (moves,))
                cr.execute("UPDATE l10n_pl_ksef_document SET move_id = NULL WHERE move_id IN %s", (moves,))
                cr.execute("DELETE FROM ir_attachment WHERE res_model = 'account.move' AND res_id IN %s", (moves,))
                cr.execute("DELETE FROM account_move WHERE id IN %s", (moves,))
            if rows:
                cr.execute("DELETE FROM l10n_pl_ksef_document WHERE id IN %s", (tuple(r[0] for r in rows),))
                attachments = tuple(a for r in rows for a in r[1:] if a)
                if attachments:
                    cr.execute("DELETE FROM ir_attachment WHERE id IN %s", (attachments,))
            cr.execute("DELETE FROM l10n_pl_ksef_sync WHERE company_id = %s", (self.company_id,))
            cr.execute("UPDATE res_company SET active = false, l10n_pl_ksef_token = NULL, "
                       "l10n_pl_ksef_access_token = NULL, l10n_pl_ksef_refresh_token = NULL WHERE id = %s",
                       (self.company_id,))
