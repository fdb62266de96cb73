from lxml import etree

from odoo import Command
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
    (a transaction held open by the test would block the workers). An emulator per class, without delays."""
    _request_handler = L10nPlKsefEmulatorCommon._request_handler

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.addons.l10n_pl_ksef.ksef.emulator.process import emulator_thread
        cls.registry = Registry(get_db_name())
        emulator = emulator_thread(auth_delay=0, invoice_delay=0)
        cls.app, cls.base = emulator.__enter__()
        cls.addClassCleanup(emulator.__exit__, None, None, None)

