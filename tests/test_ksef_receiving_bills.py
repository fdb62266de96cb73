"""From KSeF to draft vendor bills, end to end against the emulator: the sync receives, the bill maker is triggered
and books every invoice once, with the vendor, the KSeF number and the totals KSeF holds."""
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3
from .test_ksef_receiving import SUPPLIER_NIP, ReceivingCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefReceivingToBills(ReceivingCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()

    def test_received_invoices_become_draft_bills_once(self):
        numbers = self.supply(12)
        bill_crons = (self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_create_bills')
                      | self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_create_bills_2'))
        with patch.object(type(bill_crons), '_trigger', autospec=True) as trigger:
            self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        self.assertEqual({call.args[0] for call in trigger.call_args_list} & set(bill_crons), set(bill_crons),
                         "both bill makers (Odoo's two cron threads) are called as soon as invoices arrive")
        documents = self.received()
        self.assertEqual(sorted(documents.mapped('ksef_number')), sorted(numbers))
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(set(documents.mapped('state')), {'bill_created'})
        bills = documents.move_id
        self.assertEqual(len(bills), 12)
        self.assertEqual(set(bills.mapped('move_type')), {'in_invoice'})
        self.assertEqual(set(bills.mapped('state')), {'draft'})
        self.assertEqual(sorted(bills.mapped('l10n_pl_ksef_number')), sorted(numbers))
        self.assertEqual(len(bills.commercial_partner_id), 1, "one vendor, created once")
        self.assertIn(SUPPLIER_NIP, bills.commercial_partner_id.vat)
        for document in documents:
            invoice = fa3.parse(document.attachment_id.raw)
            self.assertAlmostEqual(document.move_id.amount_total, float(invoice.body.total), places=2)

        # the next run meets the same invoices again (nothing new in KSeF): no second document, no second bill
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_create_bills()
        self.assertEqual(self.received(), documents)
        self.assertEqual(self.env['account.move'].search_count([('l10n_pl_ksef_number', 'in', numbers)]), 12)

    def test_received_invoice_prints_like_the_official_visualisation(self):
        number = self.supply(1)[0]
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        document = self.received()
        html = self.env['ir.actions.report']._render_qweb_html('l10n_pl_ksef.action_report_l10n_pl_ksef_fa3',
                                                              document.ids)[0].decode()
        invoice = fa3.parse(document.attachment_id.raw)
        for text in ('Dostawca S.A.', 'Odbiorca sp. z o.o.', number, invoice.body.number, invoice.body.lines[0].name,
                     '23% / 22%', f'/invoice/{SUPPLIER_NIP}/{invoice.body.issue_date:%d-%m-%Y}/', 'data:image/png'):
            self.assertIn(text, html)
        for line in invoice.body.lines:
            self.assertIn(line.name, html)
