"""Sending invoices to the KSeF emulator: one click, lists (batch), the send wizard and the scheduled actions;
accepted with KSeF number and UPO, duplicates adopted, rejections explained, faults retried, unknown outcomes
reconciled without a second submission."""
import datetime
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import crypto, identifiers
from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient
from odoo.addons.l10n_pl_ksef.models.res_company_ksef import FORGOTTEN_TOKENS

from .common import BUYER_NIP, SELLER_NIP, L10nPlKsefEmulatorCommon


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefSending(L10nPlKsefEmulatorCommon):
    emulator_options = {'auth_delay': 0, 'invoice_delay': 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()

    def setUp(self):
        super().setUp()
        # every test rolls back and reuses the same invoice numbers: a KSeF that has never seen them
        self.app.service.state.duplicates.clear()
        self.app.service.state.invoices_by_ksef_number.clear()

    def invoice(self, partner=None, **values):
        values.setdefault('invoice_date', fields.Date.context_today(self.env.user))   # issued today: online mode
        return self.post_invoice(partner or self.buyer_pl, [(100.0, 1, 'vs_kraj_23')], **values)

    def emulator_invoices(self, nip=SELLER_NIP):
        """What the emulator holds: {KSeF number: invoice number} of the seller."""
        return {number: stored.invoice_number for number, stored in
                self.app.service.state.invoices_by_ksef_number.items() if stored.seller_nip == nip}

    def fault(self, **faults):
        self.emulator_post('faults', faults)
        self.addCleanup(self.emulator_post, 'faults', {})

    def test_one_click_sends_and_gets_the_ksef_number_and_upo(self):
        move = self.invoice()
        action = move.action_l10n_pl_ksef_send()
        self.assertEqual(action['params']['type'], 'success')
        document = move.l10n_pl_ksef_document_ids
        self.assertRecordValues(document, [{'state': 'accepted', 'session_type': 'online', 'status_code': 200,
                                            'invoicing_mode': 'online'}])
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
        self.assertTrue(identifiers.is_valid_ksef_number(move.l10n_pl_ksef_number))
        self.assertTrue(move.l10n_pl_ksef_number.startswith(SELLER_NIP))
        self.assertEqual(self.emulator_invoices()[move.l10n_pl_ksef_number], move.name)
        self.assertTrue(move.l10n_pl_ksef_acquisition_date)
        self.assertIn(b'UPO', document.upo_attachment_id.raw[:400].upper())
        self.assertEqual(document.xml_hash, crypto.sha256_b64(document.attachment_id.raw))
        message = move.message_ids.filtered(lambda m: move.l10n_pl_ksef_number in (m.body or ''))
        self.assertEqual(len(message), 1)
        self.assertEqual(set(message.attachment_ids.ids), {document.attachment_id.id, document.upo_attachment_id.id})

        with self.assertRaisesRegex(UserError, 'Nothing to send'):
            move.action_l10n_pl_ksef_send()
        with self.assertRaisesRegex(UserError, 'cannot go back to draft'):
            move.button_draft()
        self.assertFalse(move.show_reset_to_draft_button)
        with self.assertRaisesRegex(UserError, 'credit note'):
            move.partner_id = self.buyer_eu
        with self.assertRaisesRegex(UserError, 'legal record'):
            document.unlink()
        self.assertEqual(move.action_l10n_pl_ksef_download_upo()['type'], 'ir.actions.act_url')

    def test_printed_invoice_carries_kod_i(self):
        queued = self.invoice()
        queued._l10n_pl_ksef_enqueue()
        html = self.printed(queued)
        self.assertIn('OFFLINE', html, "labelled OFFLINE until KSeF gives the number")
        accepted = self.invoice()
        accepted.action_l10n_pl_ksef_send()
        html = self.printed(accepted)
        link = accepted._l10n_pl_ksef_qr_codes()[0]['url']
        self.assertIn(f"/invoice/{SELLER_NIP}/{accepted.invoice_date:%d-%m-%Y}/", link)
        self.assertTrue(link.endswith(crypto.b64url(crypto.sha256(
            accepted.l10n_pl_ksef_document_ids.attachment_id.raw))), "the hash of the FA(3) file KSeF holds")
        self.assertIn(link, html)
        self.assertIn(accepted.l10n_pl_ksef_number, html)
        self.assertIn('data:image/png;base64,', html)
        self.assertFalse(self.printed(self.invoice()).count('l10n_pl_ksef_qr'), "never sent: no code")

    def printed(self, move):
        html, _type = self.env['ir.actions.report']._render_qweb_html('account.account_invoices', move.ids)
        return html.decode()

    def queued_batch(self):
        """Three invoices queued for a batch session (the threshold lowered to 2): (moves, documents)."""
        self.company.l10n_pl_ksef_batch_threshold = 2
        moves = self.invoice() | self.invoice() | self.invoice()
        documents, _problems = moves._l10n_pl_ksef_enqueue()
        return moves, documents

    def test_a_list_of_fifty_goes_in_one_batch_session(self):
        moves = self.env['account.move']
        for _index in range(50):
            moves |= self.invoice()
        moves.action_l10n_pl_ksef_send()
        documents = moves.l10n_pl_ksef_document_ids
        self.assertEqual(len(documents), 50)
        self.assertEqual(set(documents.mapped('session_type')), {'batch'})
        self.assertEqual(len(set(documents.mapped('session_reference'))), 1, "one batch session")
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        self.assertEqual(len(set(moves.mapped('l10n_pl_ksef_number'))), 50)
        held = self.emulator_invoices()
        self.assertEqual({held[number] for number in moves.mapped('l10n_pl_ksef_number')}, set(moves.mapped('name')))

    def test_a_batch_whose_upload_window_is_over_goes_again_in_a_new_session(self):
        """KSeF refuses an upload that comes after the session's window (a stalled connection): that session
        processes nothing; the invoices wait a few minutes and go in a new session, each accepted once."""
        moves, documents = self.queued_batch()
        self.fault(expiredUploads=1)
        documents._l10n_pl_ksef_send()
        self.assertEqual(set(documents.mapped('state')), {'to_send'})
        self.assertFalse(any(documents.mapped('session_reference')), "the refused session is let go")
        self.assertIn('upload window', documents[0].message)
        self.assertFalse(self.emulator_invoices(), "KSeF processed nothing of it")
        self.assertFalse(self.company.activity_ids, "no administrator to-do: it goes again by itself")
        documents.retry_at = False
        Document = self.env['l10n_pl_ksef.document']
        Document._cron_l10n_pl_ksef_send()
        Document._cron_l10n_pl_ksef_update_status()
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        held = self.emulator_invoices()
        self.assertEqual(sorted(held.values()), sorted(moves.mapped('name')), "each invoice held once")

    def test_a_batch_closed_meanwhile_by_the_status_job_is_read_not_sent_again(self):
        """A worker slower than BATCH_LEFT_AFTER finds its session closed by the status job (KSeF: 21180): KSeF
        may have processed it, so the documents wait for the status job, which finds them accepted."""
        moves, documents = self.queued_batch()
        close = KsefClient.close_batch_session

        def closed_by_the_status_job_first(client, tokens, reference):
            close(client, tokens, reference)
            close(client, tokens, reference)   # the worker's own close, refused
        with patch.object(KsefClient, 'close_batch_session', closed_by_the_status_job_first):
            documents._l10n_pl_ksef_send()
        self.assertEqual(set(documents.mapped('state')), {'sending'}, "not sent again, not 'to_send'")
        self.assertEqual(len(set(documents.mapped('session_reference'))), 1)
        documents.sent_at = fields.Datetime.now() - datetime.timedelta(hours=1)
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        self.assertEqual(sorted(self.emulator_invoices().values()), sorted(moves.mapped('name')))

    def left_batch(self):
        """Three documents of a batch session whose worker uploaded every part but has not closed it yet, sent
        long enough ago for the status job to close it (BATCH_LEFT_AFTER)."""
        moves, documents = self.queued_batch()
        with patch.object(KsefClient, 'close_batch_session', lambda client, tokens, reference: None):
            documents._l10n_pl_ksef_send()
        documents.write({'state': 'sending', 'sent_at': fields.Datetime.now() - datetime.timedelta(hours=1)})
        return moves, documents

    def test_a_left_batch_its_worker_closes_while_the_status_job_looks_is_not_sent_again(self):
        """The status job finds the session still open (100) and closes it as left, but its worker closed it just
        then and KSeF processed it, so that close is refused: the documents keep waiting (no reading of this run
        is final) and the next run finds them accepted, each held once, not adopted as duplicates."""
        moves, documents = self.left_batch()
        reference = documents[0].session_reference
        session_status = KsefClient.session_status
        codes = []

        def worker_closes_just_after_the_status(client, tokens, session):
            status = session_status(client, tokens, session)
            if not codes:
                KsefClient.close_batch_session(client, tokens, reference)   # the worker, at that very moment
            codes.append(status['status']['code'])
            return status
        Document = self.env['l10n_pl_ksef.document']
        with patch.object(KsefClient, 'session_status', worker_closes_just_after_the_status):
            Document._cron_l10n_pl_ksef_update_status()
        self.assertEqual(codes, [100], "open when read; the refused close ends this run's look at it")
        self.assertEqual(set(documents.mapped('state')), {'sending'})
        self.assertEqual(set(documents.mapped('session_reference')), {reference})
        Document._cron_l10n_pl_ksef_update_status()
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        self.assertEqual(sorted(self.emulator_invoices().values()), sorted(moves.mapped('name')))
        self.assertEqual(set(documents.mapped('status_code')), {200}, "accepted, not adopted as a duplicate (440)")

    def test_a_processed_session_read_before_its_close_is_read_again_before_anything_goes_again(self):
        """A session the status job finds processed (200) while the list it read before had none of its
        invoices: the list is read again, final now, and only what it lacks would be sent again."""
        moves, documents = self.left_batch()
        reference = documents[0].session_reference
        client = self.company._l10n_pl_ksef_client()
        tokens = self.company.sudo()._l10n_pl_ksef_tokens(client)
        stale = client.session_invoices(tokens, reference)
        client.close_batch_session(tokens, reference)
        self.assertEqual(client.session_status(tokens, reference)['status']['code'], 200)
        final = client.session_invoices(tokens, reference)
        with patch.object(KsefClient, 'session_invoices', side_effect=[stale, final], autospec=True):
            documents._l10n_pl_ksef_update_status()
        self.assertEqual(set(documents.mapped('state')), {'sending'}, "listed now: not sent again")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        self.assertEqual(sorted(self.emulator_invoices().values()), sorted(moves.mapped('name')))

    def test_what_the_status_job_wrote_while_the_worker_closed_the_batch_stays(self):
        """A slow worker closes its batch; a status job follows the documents meanwhile and finds them accepted:
        the worker's 'sent' comes after and must not overwrite that."""
        moves, documents = self.queued_batch()
        close = KsefClient.close_batch_session

        def status_job_follows_right_after_the_close(client, tokens, reference):
            close(client, tokens, reference)
            documents.sent_at = fields.Datetime.now() - datetime.timedelta(minutes=5)
            self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
            self.assertEqual(set(documents.mapped('state')), {'accepted'})
        with patch.object(KsefClient, 'close_batch_session', status_job_follows_right_after_the_close):
            documents._l10n_pl_ksef_send()
        self.assertEqual(set(documents.mapped('state')), {'accepted'}, "the worker's late 'sent' left them be")
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})

    def test_a_login_ksef_ends_during_a_batch_upload_is_forgotten(self):
        """KSeF refuses the access token in the middle of a batch (401): the session, never closed, processes
        nothing; the invoices go again in a few minutes with a new access (refreshed), each accepted once."""
        moves, documents = self.queued_batch()
        close = KsefClient.close_batch_session

        def login_ended_before_the_close(client, tokens, reference):
            self.app.service.end_access_tokens()
            close(client, tokens, reference)
        with patch.object(KsefClient, 'close_batch_session', login_ended_before_the_close):
            documents._l10n_pl_ksef_send()
        self.assertEqual(set(documents.mapped('state')), {'to_send'})
        self.assertFalse(self.company.sudo().l10n_pl_ksef_access_token, "the ended access is not used again")
        self.assertFalse(self.emulator_invoices(), "the session was never closed: KSeF processed nothing")
        documents.retry_at = False
        Document = self.env['l10n_pl_ksef.document']
        Document._cron_l10n_pl_ksef_send()
        Document._cron_l10n_pl_ksef_update_status()
        self.assertEqual(set(moves.mapped('l10n_pl_ksef_state')), {'accepted'})
        self.assertEqual(sorted(self.emulator_invoices().values()), sorted(moves.mapped('name')))

    def test_mixed_valid_and_invalid_files_in_one_batch(self):
        self.company.l10n_pl_ksef_batch_threshold = 2
        moves = self.invoice() | self.invoice() | self.invoice()
        good, problems = moves[:2]._l10n_pl_ksef_enqueue()
        self.assertFalse(problems)
        broken_xml = good[0]._l10n_pl_ksef_xml().replace(b'<P_2>', b'<P_2x>').replace(b'</P_2>', b'</P_2x>')
        broken = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(moves[2], broken_xml)
        (good | broken)._l10n_pl_ksef_send()
        self.assertEqual(len(set((good | broken).mapped('session_reference'))), 1)
        (good | broken)._l10n_pl_ksef_update_status()
        self.assertEqual(good.mapped('state'), ['accepted', 'accepted'])
        self.assertEqual((broken.state, broken.status_code), ('rejected', 450))
        self.assertIn('P_2x', broken.message)
        self.assertEqual(moves[2].l10n_pl_ksef_state, 'rejected')
        self.assertIn('Check on the invoice: Invoice number', moves[2].l10n_pl_ksef_message)
        self.assertIn('KSeF rejected the invoice', moves[2].message_ids[0].body)

    def test_back_to_draft_withdraws_what_was_queued(self):
        move = self.invoice()
        documents, _problems = move._l10n_pl_ksef_enqueue()
        move.button_draft()
        self.assertEqual(documents.state, 'cancelled')
        self.assertFalse(move.l10n_pl_ksef_state)
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(documents.state, 'cancelled', "never sent")
        move.action_post()
        move.action_l10n_pl_ksef_send()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')

    def test_correction_waits_for_the_ksef_number_of_the_invoice_it_corrects(self):
        original = self.invoice()
        original._l10n_pl_ksef_enqueue()
        wizard = self.env['account.move.reversal'].with_context(
            active_model='account.move', active_ids=original.ids).create({
                'reason': 'Rabat', 'journal_id': original.journal_id.id, 'l10n_pl_ksef_correction_type': '1'})
        correction = self.env['account.move'].browse(wizard.refund_moves()['res_id'])
        correction.action_post()
        with self.assertRaisesRegex(UserError, 'on its way to KSeF'):
            correction.action_l10n_pl_ksef_send()
        self.assertFalse(correction.l10n_pl_ksef_state, "not frozen without the original's KSeF number")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(original.l10n_pl_ksef_state, 'accepted')
        self.assertEqual(correction.l10n_pl_ksef_state, 'to_send', "released when the original got its number")
        self.assertIn(original.l10n_pl_ksef_number.encode(),
                      correction.l10n_pl_ksef_document_ids.attachment_id.raw, "frozen with the corrected KSeF number")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(correction.l10n_pl_ksef_state, 'accepted')

    def test_rejected_then_fixed_and_sent_again(self):
        move = self.invoice()
        xml = move._l10n_pl_ksef_enqueue()[0]._l10n_pl_ksef_xml()
        move.l10n_pl_ksef_document_ids.unlink()
        bad = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(move, xml.replace(b'<P_1>', b'<P_1x>'))
        bad._l10n_pl_ksef_send()
        bad._l10n_pl_ksef_update_status()
        self.assertEqual(move.l10n_pl_ksef_state, 'rejected')
        self.assertTrue(move.l10n_pl_ksef_message)
        move.action_l10n_pl_ksef_send()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
        self.assertEqual(move.l10n_pl_ksef_document_ids.mapped('state'), ['accepted', 'rejected'])
        self.assertFalse(move.l10n_pl_ksef_message)

    def test_duplicate_adopts_the_number_ksef_already_has(self):
        move = self.invoice()
        move.action_l10n_pl_ksef_send()
        number = move.l10n_pl_ksef_number
        # Odoo lost the outcome (e.g. a restored backup): the same invoice is queued and sent again
        self.env.cr.execute("UPDATE l10n_pl_ksef_document SET state = 'cancelled' WHERE move_id = %s", (move.id,))
        self.env.cr.execute("UPDATE account_move SET l10n_pl_ksef_number = NULL WHERE id = %s", (move.id,))
        self.env.invalidate_all()
        move._compute_l10n_pl_ksef_state()
        move.action_l10n_pl_ksef_send()
        latest = move.l10n_pl_ksef_document_ids.filtered(lambda d: d.state == 'accepted')
        self.assertEqual((latest.status_code, latest.ksef_number), (440, number))
        self.assertEqual(move.l10n_pl_ksef_number, number)
        self.assertIn('already held', move.message_ids[0].body)
        self.assertEqual(list(self.emulator_invoices().values()).count(move.name), 1)

    def test_rate_limit_requeues_and_comes_back_at_retry_after(self):
        self.lift_rate_limits(onlineSession={'perSecond': 1, 'perMinute': 1, 'perHour': 1})
        self.addCleanup(self.lift_rate_limits)
        self.app.counter.__init__()   # a new hour for the emulator's counters
        first, second = self.invoice(), self.invoice()
        first.action_l10n_pl_ksef_send()
        self.assertEqual(first.l10n_pl_ksef_state, 'accepted')
        send_cron = self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_send')
        with patch.object(type(send_cron), '_trigger', autospec=True) as trigger:
            second.action_l10n_pl_ksef_send()
        document = second.l10n_pl_ksef_document_ids
        self.assertEqual((document.state, second.l10n_pl_ksef_state), ('to_send', 'to_send'))
        self.assertIn('rate limit', document.message)
        self.assertGreater(document.retry_at, fields.Datetime.now() + datetime.timedelta(minutes=50))
        moments = [call.kwargs.get('at') for call in trigger.call_args_list if call.args[0] == send_cron]
        self.assertIn(document.retry_at, moments, "the sender comes back exactly when KSeF allows")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(document.state, 'to_send', "not before its time")

    def test_a_login_ksef_ended_is_forgotten_and_the_invoice_goes_with_the_next_attempt(self):
        """KSeF refuses the cached access mid-way (it ended the session early): the invoice waits a few minutes,
        only the access token is forgotten (the refresh token is what a login signed outside Odoo lives on), no
        administrator to-do; the next attempt refreshes the access and sends."""
        self.invoice().action_l10n_pl_ksef_send()   # a login, cached
        company = self.company.sudo()
        refresh = company.l10n_pl_ksef_refresh_token
        self.app.service.end_access_tokens()
        move = self.invoice()
        move.action_l10n_pl_ksef_send()
        document = move.l10n_pl_ksef_document_ids
        self.assertEqual(document.state, 'to_send')
        self.assertIn('ended the login session', document.message)
        self.assertLessEqual(document.retry_at, fields.Datetime.now() + datetime.timedelta(minutes=5, seconds=5))
        self.assertFalse(company.l10n_pl_ksef_access_token)
        self.assertEqual(company.l10n_pl_ksef_refresh_token, refresh)
        self.assertFalse(company.activity_ids)
        document.retry_at = False
        Document = self.env['l10n_pl_ksef.document']
        Document._cron_l10n_pl_ksef_send()
        Document._cron_l10n_pl_ksef_update_status()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
        self.assertEqual(company.l10n_pl_ksef_refresh_token, refresh, "refreshed, not logged in again")

    def test_a_login_without_the_right_to_issue_invoices_asks_the_administrator(self):
        self.company.write({'l10n_pl_ksef_token': self.issue_token(SELLER_NIP, permissions=['InvoiceRead']),
                            **FORGOTTEN_TOKENS})
        move = self.invoice()
        move.action_l10n_pl_ksef_send()
        document = move.l10n_pl_ksef_document_ids
        self.assertEqual(document.state, 'to_send', "not sent, kept in the queue")
        self.assertIn('InvoiceWrite', document.message)
        self.assertNotIn('unavailable', document.message)
        self.assertGreater(document.retry_at, fields.Datetime.now() + datetime.timedelta(minutes=50))
        activity = self.company.activity_ids.filtered(lambda a: a.summary == 'KSeF refused to take invoices')
        self.assertEqual(len(activity), 1)

    def test_failed_login_queues_and_asks_the_administrator(self):
        self.company.l10n_pl_ksef_token = 'revoked-or-wrong'
        move = self.invoice()
        move.action_l10n_pl_ksef_send()
        document = move.l10n_pl_ksef_document_ids
        self.assertEqual(document.state, 'to_send')
        self.assertIn('KSeF login failed', document.message)
        self.assertTrue(document.retry_at)
        activity = self.company.activity_ids.filtered(lambda a: a.summary == 'KSeF login failed')
        self.assertEqual(len(activity), 1)
        self.assertIn('Generate a new KSeF token', activity.note)
        self.company.l10n_pl_ksef_custom_url = False    # and a configuration that cannot even make a client
        document.retry_at = False
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(document.state, 'to_send')
        self.assertIn('URL of the KSeF server', document.message)
        self.company.l10n_pl_ksef_custom_url = 'ksef.example.com/v2'   # no scheme: requests would refuse it
        document.retry_at = False
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(document.state, 'to_send')
        self.assertIn('is not an http:// or https:// address', document.message)
        self.assertEqual(len(self.company.activity_ids.filtered(lambda a: a.summary == 'KSeF login failed')), 1,
                         "the administrator's to-do is not repeated")

    def test_unavailable_ksef_is_retried_later(self):
        move = self.invoice()
        self.fault(status=503, count=50)
        move.action_l10n_pl_ksef_send()
        document = move.l10n_pl_ksef_document_ids
        self.assertEqual(document.state, 'to_send')
        self.assertIn('unavailable', document.message)
        self.assertTrue(document.retry_at)
        self.assertFalse(self.emulator_invoices().get(move.l10n_pl_ksef_number or 'none'))
        self.emulator_post('faults', {})
        document.retry_at = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual((document.state, move.l10n_pl_ksef_state), ('accepted', 'accepted'))
        self.assertEqual(document.attempts, 2)

    def test_unknown_outcome_is_reconciled_by_hash_without_sending_twice(self):
        move = self.invoice()
        documents, _problems = move._l10n_pl_ksef_enqueue()
        # the invoice reaches KSeF, but the answer is lost (as if Odoo died right after the HTTP call)
        self.fault(drop=1, dropAfter=True, pathPrefix='/sessions/online/')
        documents._l10n_pl_ksef_send()
        self.assertEqual((documents.state, documents.outcome_unknown, documents.invoice_reference),
                         ('sending', True, False))
        self.assertEqual(list(self.emulator_invoices().values()).count(move.name), 1, "KSeF has it once")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(documents.state, 'sending', "never sent again while the outcome is unknown")
        documents.sent_at = fields.Datetime.now() - datetime.timedelta(minutes=5)
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(documents.state, 'accepted')
        self.assertTrue(documents.invoice_reference)
        self.assertEqual(list(self.emulator_invoices().values()).count(move.name), 1, "still once")

    def test_lost_answer_on_a_click_is_reconciled_at_once(self):
        move = self.invoice()
        self.fault(drop=1, dropAfter=True, pathPrefix='/sessions/online/')
        move.action_l10n_pl_ksef_send()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted', "the session's invoice list holds it by its hash")
        self.assertEqual(list(self.emulator_invoices().values()).count(move.name), 1)

    def test_interrupted_before_anything_reached_ksef_is_sent_once(self):
        move = self.invoice()
        documents, _problems = move._l10n_pl_ksef_enqueue()
        # a worker marked it and died before opening a session
        documents.write({'state': 'sending', 'sent_at': fields.Datetime.now() - datetime.timedelta(minutes=10)})
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual(documents.state, 'sending', "the sender leaves it to the reconciliation")
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(documents.state, 'to_send')
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(documents.state, 'accepted')
        self.assertEqual(list(self.emulator_invoices().values()).count(move.name), 1)

    def test_a_document_held_by_another_worker_is_skipped(self):
        move = self.invoice()
        documents, _problems = move._l10n_pl_ksef_enqueue()
        locked = documents._l10n_pl_ksef_lock(['to_send'])
        self.assertEqual(locked, documents)
        self.env.cr.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'tuple' OR mode = 'RowShareLock'")
        self.assertTrue(self.env.cr.fetchone()[0])
        locked.write({'state': 'sending', 'sent_at': fields.Datetime.now()})   # the other worker's mark
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.assertEqual((documents.state, documents.attempts), ('sending', 0), "the second runner did not touch it")
        self.assertFalse(self.emulator_invoices().get(move.l10n_pl_ksef_number or 'none'))

    def test_accountant_sends_without_seeing_credentials(self):
        accountant = self.env['res.users'].create({
            'name': 'Księgowa', 'login': 'ksiegowa_send', 'company_id': self.company.id,
            'company_ids': [Command.set(self.company.ids)],
            'groups_id': [Command.set([self.env.ref('account.group_account_invoice').id])]})
        move = self.invoice().with_user(accountant)
        move.action_l10n_pl_ksef_send()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
        with self.assertRaises(AccessError):
            move.company_id.read(['l10n_pl_ksef_token'])
        with self.assertRaises(AccessError):
            move.l10n_pl_ksef_document_ids.unlink()

    def test_each_company_sends_in_its_own_context(self):
        other = self.setup_other_company(name='Nowak Handel S.A.')['company']
        other.write({'vat': f'PL{BUYER_NIP}', 'street': 'ul. Długa 5', 'zip': '31-147', 'city': 'Kraków',
                     'country_id': self.pl.id, 'l10n_pl_ksef_environment': 'custom',
                     'l10n_pl_ksef_custom_url': f'{self.base}/v2', 'l10n_pl_ksef_token': self.issue_token(BUYER_NIP)})
        self.lift_rate_limits(BUYER_NIP, other.l10n_pl_ksef_token)
        mine = self.invoice()
        theirs = self.env['account.move'].with_company(other).create({
            'move_type': 'out_invoice', 'partner_id': self.buyer_eu.id, 'invoice_date': '2026-11-02',
            'company_id': other.id, 'invoice_line_ids': [Command.create({
                'name': 'Usługa', 'price_unit': 50.0, 'tax_ids': [Command.set(self.env['account.chart.template']
                                                                               .with_company(other).ref('vs_kraj_23').ids)]})]})
        theirs.action_post()
        (mine | theirs)._l10n_pl_ksef_enqueue()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertTrue(mine.l10n_pl_ksef_number.startswith(SELLER_NIP))
        self.assertTrue(theirs.l10n_pl_ksef_number.startswith(BUYER_NIP))
        user_of_mine = self.env['res.users'].create({
            'name': 'Księgowa A', 'login': 'ksiegowa_a', 'company_id': self.company.id,
            'company_ids': [Command.set(self.company.ids)],
            'groups_id': [Command.set([self.env.ref('account.group_account_invoice').id])]})
        visible = self.env['l10n_pl_ksef.document'].with_user(user_of_mine).search([])
        self.assertIn(mine.l10n_pl_ksef_document_ids, visible)
        self.assertNotIn(theirs.l10n_pl_ksef_document_ids, visible)

    def test_send_wizard_offers_ksef_and_sends(self):
        move = self.invoice()
        wizard = self.env['account.move.send.wizard'].with_context(active_model='account.move',
                                                                  active_ids=move.ids).create({})
        self.assertTrue(wizard.extra_edi_checkboxes['l10n_pl_ksef']['checked'], "on by default")
        wizard.action_send_and_print()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')

    def test_batch_send_wizard_sends_in_the_cron_without_raising(self):
        good = self.invoice() | self.invoice()
        wizard = self.env['account.move.send.batch.wizard'].with_context(
            active_model='account.move', active_ids=good.ids).create({})
        wizard.action_send_and_print()
        # queued when it was fine, then a line lost its VAT before the cron ran
        bad = self.post_invoice(self.buyer_pl, [(100.0, 1, self.env['account.tax'])],
                                invoice_date=fields.Date.context_today(self.env.user))
        bad.sending_data = {'author_user_id': self.env.user.id, 'author_partner_id': self.env.user.partner_id.id}
        self.env['account.move']._cron_account_move_send()
        self.assertEqual(good.mapped('l10n_pl_ksef_state'), ['accepted', 'accepted'])
        self.assertFalse(bad.l10n_pl_ksef_state, "not sent")
        self.assertIn('VAT tax', bad.message_ids[0].body, "and said so on the invoice")

    def test_invoice_dated_before_the_sending_day_is_marked_offline_by_ksef(self):
        move = self.invoice(invoice_date=fields.Date.context_today(self.env.user) - datetime.timedelta(days=3))
        move.action_l10n_pl_ksef_send()
        self.assertEqual((move.l10n_pl_ksef_state, move.l10n_pl_ksef_document_ids.invoicing_mode),
                         ('accepted', 'offline'))

    def test_send_on_posting_queues_for_the_scheduled_action(self):
        self.company.l10n_pl_ksef_send_on_post = True
        send_cron = self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_send')
        with patch.object(type(send_cron), '_trigger', autospec=True) as trigger:
            move = self.invoice()
        self.assertEqual(move.l10n_pl_ksef_state, 'to_send')
        self.assertTrue(any(call.args[0] == send_cron for call in trigger.call_args_list))
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
        self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_update_status()
        self.assertEqual(move.l10n_pl_ksef_state, 'accepted')
