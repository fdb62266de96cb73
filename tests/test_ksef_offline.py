"""Offline modes against the emulator: invoices issued offline are sent with the offline mark by their legal
deadline, carry KOD II signed with the Offline certificate, and the end of an announced failure sets and extends
deadlines."""
import base64
import datetime

from cryptography import x509

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import offline, qr
from .common import SELLER_NIP, L10nPlKsefEmulatorCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefOffline(L10nPlKsefEmulatorCommon):
    emulator_options = {'auth_delay': 0, 'invoice_delay': 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()
        cls.offline_certificate = cls.seal_certificate(SELLER_NIP, name='KSeF Offline')
        cls.offline_certificate.l10n_pl_ksef_type = 'offline'

    def setUp(self):
        super().setUp()
        self.app.service.state.duplicates.clear()
        self.today = fields.Date.context_today(self.env.user)

    def invoice(self, **values):
        values.setdefault('invoice_date', self.today)
        return self.post_invoice(self.buyer_pl, [(100.0, 1, 'vs_kraj_23')], **values)

    def switch(self, mode, **values):
        return self.env['l10n_pl_ksef.mode.wizard'].create({'mode': mode, **values}).action_apply()

    def test_offline24_invoice_is_marked_sent_with_kod_ii_and_due_the_next_business_day(self):
        self.company.l10n_pl_ksef_offline_certificate_id = self.offline_certificate
        self.switch('offline24')
        move = self.invoice()
        move.action_l10n_pl_ksef_send()
        document = move.l10n_pl_ksef_document_ids
        self.assertRecordValues(document, [{'offline': True, 'offline_mode': 'offline24', 'state': 'accepted',
                                            'invoicing_mode': 'offline',
                                            'deadline': offline.next_business_day(self.today)}])
        codes = move._l10n_pl_ksef_qr_codes()
        self.assertEqual([code['label'] for code in codes], [move.l10n_pl_ksef_number, qr.LABEL_CERTIFICATE])
        public_key = x509.load_pem_x509_certificate(base64.b64decode(
            self.offline_certificate.with_context(bin_size=False).pem_certificate)).public_key()
        self.assertTrue(qr.verify_kod2(codes[1]['url'], public_key), "KOD II signed with the Offline certificate")
        self.assertIn(f'/certificate/Nip/{SELLER_NIP}/{SELLER_NIP}/', codes[1]['url'])
        self.assertFalse(move.l10n_pl_ksef_deadline, "accepted: nothing is due any more")

    def test_offline_without_an_offline_certificate_is_blocked_with_the_way_out(self):
        self.switch('offline24')
        move = self.invoice()
        with self.assertRaisesRegex(UserError, 'Offline certificate'):
            move.action_l10n_pl_ksef_send()
        self.assertFalse(move.l10n_pl_ksef_document_ids)

    def test_failure_deadline_counts_from_its_announced_end(self):
        self.company.l10n_pl_ksef_offline_certificate_id = self.offline_certificate
        self.switch('offline24')
        earlier = self.invoice()
        earlier._l10n_pl_ksef_enqueue()
        offline24_due = earlier.l10n_pl_ksef_deadline
        self.assertEqual(offline24_due, offline.next_business_day(self.today))
        self.switch('online')
        with self.assertRaisesRegex(UserError, 'announcement'):
            self.switch('failure')
        self.switch('failure', reference='BIP MF 2026/11/1')
        during = self.invoice()
        during._l10n_pl_ksef_enqueue()
        self.assertFalse(during.l10n_pl_ksef_deadline, "unknown until the failure ends")
        with self.assertRaisesRegex(UserError, 'ended'):
            self.switch('online')
        end = fields.Datetime.now() + datetime.timedelta(days=2)
        self.switch('online', end=end)
        end_day = fields.Datetime.context_timestamp(self.company, end).date()
        self.assertEqual(during.l10n_pl_ksef_deadline, offline.add_business_days(end_day, 7))
        self.assertEqual(earlier.l10n_pl_ksef_deadline, max(offline24_due, offline.add_business_days(end_day, 7)),
                         "a failure extends what was waiting")
        self.assertEqual(self.company.l10n_pl_ksef_mode, 'online')

    def test_reminder_the_day_before_the_deadline(self):
        self.company.l10n_pl_ksef_offline_certificate_id = self.offline_certificate
        self.switch('offline24')
        move = self.invoice()
        move._l10n_pl_ksef_enqueue()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_deadline_reminders()
        summary = f'Send to KSeF by {move.l10n_pl_ksef_deadline}'
        self.assertEqual(len(move.activity_ids.filtered(lambda a: a.summary == summary)), 1)
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_deadline_reminders()
        self.assertEqual(len(move.activity_ids.filtered(lambda a: a.summary == summary)), 1, "once")

    def test_overdue_filter_follows_the_legal_deadline(self):
        self.company.l10n_pl_ksef_offline_certificate_id = self.offline_certificate
        self.switch('offline24')
        move = self.invoice(invoice_date=self.today - datetime.timedelta(days=10))
        move._l10n_pl_ksef_enqueue()
        overdue = self.env['account.move'].search([
            ('id', '=', move.id), ('l10n_pl_ksef_deadline', '<', self.today)])
        self.assertEqual(overdue, move)

    def test_batch_sends_offline_and_online_invoices_in_separate_sessions(self):
        self.company.write({'l10n_pl_ksef_offline_certificate_id': self.offline_certificate.id,
                            'l10n_pl_ksef_batch_threshold': 1})
        online_moves = self.invoice() | self.invoice()
        online_moves._l10n_pl_ksef_enqueue()
        self.switch('offline24')
        offline_moves = self.invoice() | self.invoice()
        offline_moves._l10n_pl_ksef_enqueue()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        online_docs, offline_docs = online_moves.l10n_pl_ksef_document_ids, offline_moves.l10n_pl_ksef_document_ids
        self.assertEqual(set((online_docs | offline_docs).mapped('state')), {'accepted'})
        self.assertEqual(len(set(online_docs.mapped('session_reference'))), 1)
        self.assertEqual(len(set(offline_docs.mapped('session_reference'))), 1)
        self.assertNotEqual(online_docs[0].session_reference, offline_docs[0].session_reference)
        self.assertEqual(set(offline_docs.mapped('invoicing_mode')), {'offline'})

    def test_technical_correction_of_an_offline_invoice_rejected_by_ksef(self):
        self.company.l10n_pl_ksef_offline_certificate_id = self.offline_certificate
        self.switch('offline24')
        move = self.invoice()
        good_xml = move._l10n_pl_ksef_enqueue()[0]._l10n_pl_ksef_xml()
        move.l10n_pl_ksef_document_ids.unlink()
        broken = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(
            move, good_xml.replace(b'<P_1>', b'<P_1x>').replace(b'</P_1>', b'</P_1x>'))
        broken._l10n_pl_ksef_send()
        broken._l10n_pl_ksef_update_status()
        self.assertEqual((broken.state, broken.status_code, broken.offline), ('rejected', 450, True))
        self.switch('online')   # the mode changed meanwhile: the correction keeps the original's offline mark
        move.action_l10n_pl_ksef_send()
        correction = move.l10n_pl_ksef_document_ids - broken
        self.assertRecordValues(correction, [{'state': 'accepted', 'offline': True, 'offline_mode': 'offline24',
                                              'corrected_hash': broken.xml_hash, 'deadline': broken.deadline,
                                              'session_type': 'online'}])
        stored = self.app.service.state.invoices_by_ksef_number[correction.ksef_number]
        self.assertEqual(stored.hash_of_corrected, broken.xml_hash, "sent as KSeF's technical correction")

    def test_announced_failure_is_offered_never_switched(self):
        self.emulator_post('availability', {'category': 'FAILURE', 'title': 'Awaria KSeF'})
        self.addCleanup(self.emulator_post, 'availability', {'endAll': True})
        self.env['res.company']._cron_l10n_pl_ksef_availability()
        activity = self.company.activity_ids.filtered(lambda a: a.summary == 'KSeF announces: FAILURE')
        self.assertEqual(len(activity), 1)
        self.assertIn('Awaria KSeF', activity.note)
        self.assertEqual(self.company.l10n_pl_ksef_mode, 'online', "never switched silently")

    def test_repeated_unanswered_sendings_suggest_offline24(self):
        self.emulator_post('faults', {'status': 503, 'count': 1000})
        self.addCleanup(self.emulator_post, 'faults', {})
        moves = [self.invoice() for _i in range(3)]
        for move in moves:
            move.action_l10n_pl_ksef_send()
        self.assertEqual(self.company.l10n_pl_ksef_unreachable_count, 3)
        self.assertEqual(len(self.company.activity_ids.filtered(lambda a: a.summary == 'KSeF does not answer')), 1)
        self.emulator_post('faults', {})
        self.env['l10n_pl_ksef.document'].search([('state', '=', 'to_send')]).write({'retry_at': False})
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(self.company.l10n_pl_ksef_unreachable_count, 0)

    def test_total_failure_issues_outside_ksef_without_qr_codes(self):
        self.company.l10n_pl_ksef_send_on_post = True
        self.switch('total_failure', reference='Komunikat MF w mediach')
        move = self.invoice()
        required, reason = move._l10n_pl_ksef_obligations()[move]
        self.assertFalse(required)
        self.assertIn('total failure', reason)
        self.assertFalse(move.l10n_pl_ksef_state, "not queued on posting")
        self.assertFalse(self.env['account.move.send']._l10n_pl_ksef_is_applicable(move), "not ticked to send")
        move._l10n_pl_ksef_enqueue()   # sent anyway by hand, later: no codes on what was issued meanwhile
        self.assertEqual(move.l10n_pl_ksef_document_ids.offline_mode, 'total_failure')
        self.assertEqual(move._l10n_pl_ksef_qr_codes(), [])
