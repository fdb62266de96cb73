from lxml import etree

from odoo import Command
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
