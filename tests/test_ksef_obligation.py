"""Which invoices the law requires in KSeF: the company's start date, the 2026 small-value exception (10,000 PLN
gross a month, counted in issue order), invoices to consumers by the company's choice; and how the send wizard
enforces it."""

from odoo.tests import tagged

from .common import L10nPlKsefTestCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefObligation(L10nPlKsefTestCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': 'http://127.0.0.1:9/v2',
                           'l10n_pl_ksef_token': 'configured', 'l10n_pl_ksef_obligation_date': '2026-02-01'})

    def invoice(self, amount, date, partner=None):
        return self.post_invoice(partner or self.buyer_pl, [(amount, 1, 'vs_kraj_23')], invoice_date=date)

    def required(self, move):
        return move._l10n_pl_ksef_obligations()[move]

    def wizard_for(self, move):
        return self.env['account.move.send.wizard'].with_context(active_model='account.move',
                                                                active_ids=move.ids).create({})

    def test_before_the_start_date_ksef_is_optional(self):
        early, due = self.invoice(100, '2026-01-30'), self.invoice(100, '2026-02-01')
        required, reason = self.required(early)
        self.assertFalse(required)
        self.assertIn('mandatory for the company from', reason)
        self.assertTrue(self.required(due)[0])
        self.assertNotIn('l10n_pl_ksef', self.wizard_for(early).extra_edi_checkboxes or {},
                         "not offered by default (the invoice's own Send to KSeF button remains)")
        self.assertTrue(self.wizard_for(due).extra_edi_checkboxes['l10n_pl_ksef']['checked'])

    def test_consumer_invoices_follow_the_company_choice(self):
        move = self.invoice(100, '2026-11-02', partner=self.consumer)
        self.assertTrue(self.required(move)[0], "sent by default")
        self.company.l10n_pl_ksef_send_consumer_invoices = False
        required, reason = self.required(move)
        self.assertFalse(required)
        self.assertIn('consumers', reason)
        self.assertTrue(self.required(self.invoice(100, '2026-11-02'))[0], "businesses still are")

    def test_small_value_exception_counts_the_month_in_issue_order(self):
        self.company.l10n_pl_ksef_small_value_exception = True
        first = self.invoice(4000 / 1.23, '2026-10-03')     # 4,000 PLN gross
        second = self.invoice(5000 / 1.23, '2026-10-10')    # 9,000
        crossing = self.invoice(2000 / 1.23, '2026-10-20')  # 11,000: this one and every later one go to KSeF
        later = self.invoice(50 / 1.23, '2026-10-25')
        next_month = self.invoice(50 / 1.23, '2026-11-02')
        next_year = self.invoice(50 / 1.23, '2027-01-04')
        obligations = (first | second | crossing | later | next_month | next_year)._l10n_pl_ksef_obligations()
        self.assertEqual([obligations[m][0] for m in (first, second, crossing, later, next_month, next_year)],
                         [False, False, True, True, False, True])
        self.assertIn('within the 10,000 PLN limit', obligations[second][1])
        self.assertIn('11,000.00', obligations[crossing][1])
        self.assertIn('passed 10,000 PLN', obligations[later][1])
        self.assertEqual(second.l10n_pl_ksef_obligation_note, obligations[second][1])

    def test_required_invoice_cannot_be_delivered_without_ksef(self):
        move = self.invoice(100, '2026-11-02')
        wizard = self.wizard_for(move)
        wizard.extra_edi_checkboxes = {'l10n_pl_ksef': {'checked': False, 'label': 'Send to KSeF'}}
        alerts = wizard.alerts or {}
        self.assertEqual(alerts['l10n_pl_ksef_required']['level'], 'danger')
        self.assertIn(move.name, alerts['l10n_pl_ksef_required']['message'])
        self.company.l10n_pl_ksef_token = False   # not connected: say it, but do not block
        wizard = self.wizard_for(move)
        self.assertNotIn('l10n_pl_ksef', wizard.extra_edi_checkboxes or {})
        self.assertEqual(wizard.alerts['l10n_pl_ksef_required']['level'], 'warning')

    def test_send_on_posting_queues_only_what_the_law_requires(self):
        self.company.write({'l10n_pl_ksef_send_on_post': True, 'l10n_pl_ksef_small_value_exception': True})
        small = self.invoice(100, '2026-09-02')
        large = self.invoice(20000, '2026-09-03')
        self.assertFalse(small.l10n_pl_ksef_state)
        self.assertEqual(large.l10n_pl_ksef_state, 'to_send')
