"""The first hour of a new user, in a real browser (static/tests/tours/l10n_pl_ksef_first_hour.js): connect the
company with the set-up wizard, post and send an invoice until KSeF gives its number, fetch a purchase invoice
and open its draft bill. Runs wherever Odoo's browser tests run (Chromium and websocket-client installed)."""
import dataclasses
import datetime
import json

from odoo import Command
from odoo.tests import HttpCase, tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3
from odoo.addons.l10n_pl_ksef.ksef.client import Secret
from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples

from .common import SELLER_NIP, L10nPlKsefEmulatorCommon

SUPPLIER_NIP = '7740001454'
SUPPLIER_NAME = 'Hurtownia Papiernicza S.A.'
START = '/odoo/action-account.action_account_config'   # the settings, where an administrator starts


@tagged('post_install', '-at_install')
class TestFirstHourTour(L10nPlKsefEmulatorCommon, HttpCase):
    emulator_options = {'auth_delay': 0, 'invoice_delay': 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # not connected yet: the tour connects it with the wizard
        cls.company.write({'l10n_pl_ksef_token': False, 'l10n_pl_ksef_environment': 'test',
                           'l10n_pl_ksef_custom_url': False,
                           'l10n_pl_ksef_receive_from': datetime.date.today() - datetime.timedelta(days=1)})
        cls.env.ref('base.user_admin').write({'company_id': cls.company.id,
                                              'company_ids': [Command.link(cls.company.id)]})
        cls.token = cls.issue_token(SELLER_NIP)
        cls.invoice = cls.post_invoice(cls.buyer_pl, [(250.0, 2, 'vs_kraj_23')], post=False,
                                       invoice_date=datetime.date.today())
        cls.supplier_invoice = cls.issue_purchase_invoice()

    @classmethod
    def issue_purchase_invoice(cls):
        """A supplier issues an invoice to the company in KSeF (online session); returns its number."""
        client = cls.emulator_client()
        tokens = client.login_with_token('Nip', SUPPLIER_NIP, Secret(cls.issue_token(SUPPLIER_NIP)))
        invoice = samples.ten_line_invoice(7)
        invoice = dataclasses.replace(
            invoice, seller=samples.seller(nip=SUPPLIER_NIP, name=SUPPLIER_NAME),
            buyer=samples.polish_buyer(nip=SELLER_NIP, name=cls.company.name),
            body=dataclasses.replace(invoice.body, number='FV/TOUR/7', issue_date=datetime.date.today()))
        session = client.open_online_session(tokens)
        client.send_invoice(tokens, session, fa3.build(invoice))
        client.close_online_session(tokens, session.reference_number)
        return invoice.body.number

    def test_first_hour(self):
        given = {'url': f'{self.base}/v2', 'nip': SELLER_NIP, 'token': self.token, 'invoice': self.invoice.id,
                 'supplierInvoice': self.supplier_invoice, 'supplierName': SUPPLIER_NAME}
        # what the tour needs reaches the browser through a system parameter, not the tour's code (which Odoo
        # logs when a tour fails: no token in the logs)
        self.env['ir.config_parameter'].set_param('l10n_pl_ksef.tour', json.dumps(given))
        options = {'stepDelay': 0, 'keepWatchBrowser': False, 'debug': False, 'startUrl': START}
        code = """(async () => {
            const response = await fetch("/web/dataset/call_kw/ir.config_parameter/get_param", {
                method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({jsonrpc: "2.0", method: "call", params: {
                    model: "ir.config_parameter", method: "get_param", args: ["l10n_pl_ksef.tour"], kwargs: {}}}),
            });
            sessionStorage.setItem("l10n_pl_ksef_tour", (await response.json()).result);
            odoo.startTour("l10n_pl_ksef_first_hour", %s);
        })()""" % json.dumps(options)
        self.start_tour(START, 'l10n_pl_ksef_first_hour', login='admin', code=code, timeout=180)

        # the wizard stored the connection
        self.assertEqual(self.company.l10n_pl_ksef_environment, 'custom')
        self.assertEqual(self.company.l10n_pl_ksef_auth_method, 'token')
        self.assertTrue(self.company._l10n_pl_ksef_is_configured())
        # the invoice is in KSeF, and its printout carries KOD I with its KSeF number
        self.assertEqual(self.invoice.l10n_pl_ksef_state, 'accepted')
        self.assertTrue(self.invoice.l10n_pl_ksef_number.startswith(f'{SELLER_NIP}-'))
        html, _type = self.env['ir.actions.report']._render_qweb_html('account.account_invoices', self.invoice.ids)
        self.assertIn('l10n_pl_ksef_qr', html.decode())
        self.assertIn(self.invoice.l10n_pl_ksef_number, html.decode())
        # the purchase invoice was received and booked as a draft bill of the supplier found by its NIP
        received = self.env['l10n_pl_ksef.document'].search([('company_id', '=', self.company.id),
                                                             ('direction', '=', 'in')])
        self.assertEqual(received.mapped('invoice_number'), [self.supplier_invoice])
        self.assertEqual(received.state, 'bill_created')
        self.assertEqual(received.move_id.state, 'draft')
        self.assertEqual(received.move_id.move_type, 'in_invoice')
        self.assertEqual(received.move_id.partner_id.vat, f'PL{SUPPLIER_NIP}')
