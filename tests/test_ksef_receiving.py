"""Receiving invoices from the KSeF emulator: the incremental sync (high-water mark, truncated packages, windows,
duplicates), interruptions, malformed files, two companies receiving the same invoice, access, and KSeF's export
limit (20 an hour per context) never tripped."""
import dataclasses
from ast import literal_eval
import datetime
import json
import time
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from odoo.addons.l10n_pl_ksef.ksef import crypto, fa3
from odoo.addons.l10n_pl_ksef.ksef.client import Secret
from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
from odoo.addons.l10n_pl_ksef.models.ksef_time import WARSAW
from odoo.addons.l10n_pl_ksef.models.l10n_pl_ksef_sync import _default_backfill_start
from .common import BUYER_NIP, SELLER_NIP, L10nPlKsefEmulatorCommon

SUPPLIER_NIP = BUYER_NIP          # the seller of the invoices our company receives
OTHER_NIP = '7740001454'          # the second company of the database


class ReceivingCommon(L10nPlKsefEmulatorCommon):
    emulator_options = {'auth_delay': 0, 'invoice_delay': 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.supplier_token = cls.issue_token(SUPPLIER_NIP, permissions=('InvoiceWrite', 'InvoiceRead'))
        cls.lift_rate_limits(nip=SUPPLIER_NIP, token=cls.supplier_token)
        cls.accountant = new_test_user(cls.env, login='ksef_receiving_accountant', groups='account.group_account_invoice',
                                       company_id=cls.company.id, company_ids=[cls.company.id])

    def setUp(self):
        super().setUp()
        # every test rolls back and sends the same invoice numbers: a KSeF that has never seen them
        self.app.service.state.duplicates.clear()
        self.app.service.state.invoices_by_ksef_number.clear()
        self.app.service.state.exports.clear()
        self.sync = self.env['l10n_pl_ksef.sync'].search([('company_id', '=', self.company.id),
                                                          ('subject_type', '=', 'Subject2')])

    def supply(self, count, first=1, buyer_nip=SELLER_NIP, third_party_nip=None, spread=True):
        """``count`` invoices of the supplier to ``buyer_nip`` (and a third party), sent to KSeF one by one
        (one second apart in KSeF's time: distinct storage dates). Returns their KSeF numbers in order."""
        client = self.emulator_client()
        tokens = client.login_with_token('Nip', SUPPLIER_NIP, Secret(self.supplier_token))
        session = client.open_online_session(tokens)
        numbers = []
        for index in range(first, first + count):
            invoice = dataclasses.replace(
                samples.ten_line_invoice(index), seller=samples.seller(nip=SUPPLIER_NIP, name='Dostawca S.A.'),
                buyer=samples.polish_buyer(nip=buyer_nip, name='Odbiorca sp. z o.o.'),
                third_parties=[fa3.ThirdParty(nip=third_party_nip, name='Płatnik sp. z o.o.', role=2)]
                if third_party_nip else [])
            if spread:
                self.app.service.clock.advance(1)
            sent = client.send_invoice(tokens, session, fa3.build(invoice))
            status = client.invoice_status(tokens, session.reference_number, sent.reference_number)
            self.assertEqual(status['status']['code'], 200, status)
            numbers.append(status['ksefNumber'])
        client.close_online_session(tokens, session.reference_number)
        return numbers

    def received(self, company=None):
        return self.env['l10n_pl_ksef.document'].search([('direction', '=', 'in'),
                                                         ('company_id', '=', (company or self.company).id)])

    def exports(self, nip=SELLER_NIP):
        return [e for e in self.app.service.state.exports.values() if e['context'] == nip]

    def cap(self, invoices):
        """Invoices per export package (KSeF: 10,000), for this test."""
        options = self.app.service.options
        self.addCleanup(setattr, options, 'export_cap', options.export_cap)
        options.export_cap = invoices


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefReceiving(ReceivingCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lift_rate_limits()

    def test_connected_company_gets_a_buyer_sync_from_the_previous_month(self):
        self.assertRecordValues(self.sync, [{'active': True, 'high_water_mark': False,
                                             'backfill_start': _default_backfill_start()}])
        self.assertEqual(_default_backfill_start(datetime.date(2026, 1, 15)), datetime.date(2025, 12, 1))
        self.company.l10n_pl_ksef_receive_as_third_party = True
        syncs = self.env['l10n_pl_ksef.sync'].with_context(active_test=False).search(
            [('company_id', '=', self.company.id)])
        self.assertEqual(sorted(syncs.mapped('subject_type')), ['Subject2', 'Subject3'])
        self.company.l10n_pl_ksef_receive_as_third_party = False
        self.assertFalse(syncs.filtered(lambda s: s.subject_type == 'Subject3').active)
        self.company.l10n_pl_ksef_receive_from = datetime.date(2026, 10, 15)
        self.assertEqual(self.sync.backfill_start, datetime.date(2026, 10, 15), "not started yet: follows the setting")

    def test_new_invoices_become_received_documents_and_the_mark_moves(self):
        numbers = self.supply(3)
        documents, more = self.sync._l10n_pl_ksef_receive_step()
        self.assertFalse(more)
        self.assertEqual(sorted(documents.mapped('ksef_number')), sorted(numbers))
        document = documents.filtered(lambda d: d.ksef_number == numbers[0])
        stored = self.app.service.state.invoices_by_ksef_number[numbers[0]]
        self.assertRecordValues(document, [{
            'direction': 'in', 'state': 'received', 'subject_type': 'Subject2', 'seller_nip': SUPPLIER_NIP,
            'seller_name': 'Dostawca S.A.', 'invoice_number': 'FV/1/11/2026', 'invoice_type': 'VAT',
            'currency_code': 'PLN', 'issue_date': samples.ISSUE_DATE, 'invoicing_mode': 'offline',
            'gross_amount': stored.metadata['grossAmount'], 'net_amount': stored.metadata['netAmount'],
            'move_id': False, 'company_id': self.company.id}])
        self.assertEqual(document.attachment_id.raw, stored.xml, "the XML exactly as KSeF holds it")
        self.assertEqual(document.xml_hash, crypto.sha256_b64(stored.xml))
        self.assertEqual(document._l10n_pl_ksef_xml(), stored.xml)
        self.assertTrue(document.permanent_storage_date and document.acquisition_date)
        self.assertRecordValues(self.sync, [{'received_count': 3, 'last_error': False}])
        self.assertEqual(self.sync.high_water_mark, self.exports()[-1]['package']['permanentStorageHwmDate'])
        self.assertEqual(len(self.exports()), 1, "one export, never a download per invoice")

        documents, _more = self.sync._l10n_pl_ksef_receive_step()
        self.assertFalse(documents, "nothing new")
        self.assertEqual(self.exports()[-1]['filters']['dateRange']['from'],
                         self.exports()[-2]['package']['permanentStorageHwmDate'], "resumed from the stored mark")
        self.assertEqual(len(self.received()), 3)

    def test_a_login_ksef_ended_is_forgotten_and_the_sync_comes_back_in_a_minute(self):
        """KSeF ends the cached access early (e.g. a security event): no 15-minute error pause, no administrator
        to-do; the refresh token (a login signed outside Odoo lasts 7 days on it) is kept while KSeF honours it."""
        numbers = self.supply(2)
        self.sync._l10n_pl_ksef_receive_safely()
        company = self.company.sudo()
        refresh = company.l10n_pl_ksef_refresh_token
        self.assertTrue(company.l10n_pl_ksef_access_token and refresh)
        self.app.service.end_access_tokens()
        numbers += self.supply(2, first=3)
        started = fields.Datetime.now()
        documents, _more = self.sync._l10n_pl_ksef_receive_safely()
        self.assertFalse(documents)
        self.assertIn('ended the login session', self.sync.last_error)
        self.assertLessEqual(self.sync.next_run, started + datetime.timedelta(minutes=1, seconds=5))
        self.assertFalse(company.l10n_pl_ksef_access_token, "the refused access is not used again")
        self.assertEqual(company.l10n_pl_ksef_refresh_token, refresh, "the login itself is kept")
        self.assertFalse(company.activity_ids, "nothing for an administrator to do")
        documents, _more = self.sync._l10n_pl_ksef_receive_safely()
        self.assertEqual(len(documents), 2, "the next run refreshed the access and received the rest")
        self.assertEqual(sorted(self.received().mapped('ksef_number')), sorted(numbers))
        self.assertFalse(self.sync.last_error)

    def test_resume_after_interruption_mid_package(self):
        self.cap(3)
        numbers = self.supply(7)
        documents, more = self.sync._l10n_pl_ksef_receive_step()
        self.assertEqual((len(documents), more), (3, True), "truncated package: more to come")
        mark = self.sync.high_water_mark
        # the worker dies while recording the next package: nothing of it stays, the mark included
        original = type(self.env['l10n_pl_ksef.document'])._l10n_pl_ksef_inbound_values
        calls = []

        def dying(model, *args):
            calls.append(args)
            if len(calls) == 2:
                raise MemoryError("worker killed")
            return original(model, *args)
        with patch.object(type(self.env['l10n_pl_ksef.document']), '_l10n_pl_ksef_inbound_values', dying), \
                self.assertLogs('odoo.addons.l10n_pl_ksef.models.l10n_pl_ksef_sync', 'ERROR'):
            documents, more = self.sync._l10n_pl_ksef_receive_safely()
        self.assertFalse(documents)
        self.assertEqual(self.sync.high_water_mark, mark, "the mark moves only with the records it covers")
        self.assertEqual(len(self.received()), 3)
        self.assertIn('worker killed', self.sync.last_error)
        # KSeF unavailable for the next attempt: recorded, nothing lost
        self.emulator_post('faults', {'status': 503, 'count': 10, 'pathPrefix': '/invoices/exports'})
        self.addCleanup(self.emulator_post, 'faults', {})
        documents, more = self.sync._l10n_pl_ksef_receive_safely()
        self.assertFalse(documents)
        self.assertTrue(self.sync.last_error)
        self.assertEqual(self.sync.high_water_mark, mark)
        self.emulator_post('faults', {})
        for _step in range(5):
            _documents, more = self.sync._l10n_pl_ksef_receive_step()
            if not more:
                break
        self.assertFalse(more)
        self.assertEqual(sorted(self.received().mapped('ksef_number')), sorted(numbers), "each exactly once")
        self.assertFalse(self.sync.last_error)

    def test_invoices_appearing_during_the_sync(self):
        self.cap(2)
        first = self.supply(3)
        _documents, more = self.sync._l10n_pl_ksef_receive_step()
        self.assertTrue(more)
        later = self.supply(2, first=4)   # stored while the sync is half-way
        steps = 0
        while more and steps < 6:
            _documents, more = self.sync._l10n_pl_ksef_receive_step()
            steps += 1
        self.assertEqual(sorted(self.received().mapped('ksef_number')), sorted(first + later))
        last = self.supply(1, first=6)
        documents, more = self.sync._l10n_pl_ksef_receive_step()
        self.assertEqual((documents.mapped('ksef_number'), more), (last, False))

    def test_duplicates_across_windows_are_dropped_by_ksef_number(self):
        self.cap(2)
        numbers = self.supply(3)
        self.sync._l10n_pl_ksef_receive_step()
        second, _more = self.sync._l10n_pl_ksef_receive_step()
        # adjacent windows: the second package starts at the last storage date of the first, so it holds the
        # boundary invoice again
        self.assertEqual(len(self.exports()), 2)
        self.assertEqual(self.exports()[1]['filters']['dateRange']['from'],
                         self.exports()[0]['package']['lastPermanentStorageDate'])
        self.assertEqual(second.mapped('ksef_number'), [numbers[2]], "the boundary invoice is not doubled")
        # a requested period overlapping what the continuous sync received adds nothing
        wizard = self.env['l10n_pl_ksef.fetch.wizard'].create({
            'date_from': warsaw_today() - datetime.timedelta(days=200), 'date_to': warsaw_today()})
        self.cap(10)
        wizard.action_l10n_pl_ksef_fetch()
        self.assertEqual(len(self.received()), 3)
        self.assertFalse(self.sync.range_next, "the requested period is done")

    def test_back_fill_of_a_long_period_runs_in_adjacent_windows(self):
        numbers = self.supply(1)
        wizard = self.env['l10n_pl_ksef.fetch.wizard'].create({
            'date_from': warsaw_today() - datetime.timedelta(days=200), 'date_to': warsaw_today()})
        action = wizard.action_l10n_pl_ksef_fetch()
        ranges = [e['filters']['dateRange'] for e in self.exports()]
        self.assertGreaterEqual(len(ranges), 3, "200 days in windows of at most 3 months")
        for earlier, later in zip(ranges, ranges[1:]):
            self.assertEqual(later['from'], earlier['to'], "windows are adjacent")
        self.assertNotIn('to', ranges[-1], "the last window ends at KSeF's high-water mark")
        self.assertEqual(self.received().mapped('ksef_number'), numbers)
        self.assertIn('1 new invoices', action['params']['message'])
        self.assertFalse(self.sync.range_next)

    def test_malformed_xml_is_kept_as_an_error_and_the_others_go_on(self):
        numbers = self.supply(3)
        broken = self.app.service.state.invoices_by_ksef_number[numbers[1]]
        broken.metadata   # KSeF's metadata of the invoice as it was stored
        broken.xml = b'<?xml version="1.0"?><Faktura><Naglowek>'
        documents, _more = self.sync._l10n_pl_ksef_receive_step()
        self.assertEqual(len(documents), 3)
        error = documents.filtered(lambda d: d.ksef_number == numbers[1])
        self.assertEqual(error.state, 'error')
        self.assertIn('not well-formed', error.message)
        self.assertEqual(error.attachment_id.raw, broken.xml, "kept as it came")
        self.assertEqual(set((documents - error).mapped('state')), {'received'})
        action = self.env.ref('l10n_pl_ksef.action_l10n_pl_ksef_inbound_documents')
        visible = self.env['l10n_pl_ksef.document'].search(literal_eval(action.domain) + [('state', '=', 'error')])
        self.assertEqual(visible, error, "visible under Received from KSeF, filter Error")
        # a file damaged in transit (the hash differs from KSeF's) is an error too
        damaged = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_inbound_values(
            self.company, 'Subject2', {'ksefNumber': 'x', 'invoiceHash': 'AAAA'},
            (documents - error)[0].attachment_id.raw)
        self.assertEqual(damaged['state'], 'error')
        self.assertIn('SHA-256', damaged['message'])

    def test_ignore_and_un_ignore(self):
        self.supply(2)
        documents, _more = self.sync._l10n_pl_ksef_receive_step()
        documents[0].message = False
        documents.with_user(self.accountant).action_l10n_pl_ksef_ignore()
        self.assertEqual(set(documents.mapped('state')), {'ignored'})
        with self.assertRaisesRegex(UserError, 'Only received invoices'):
            documents.action_l10n_pl_ksef_ignore()
        documents.with_user(self.accountant).action_l10n_pl_ksef_unignore()
        self.assertEqual(set(documents.mapped('state')), {'received'})
        self.assertEqual(documents[0].action_l10n_pl_ksef_download_xml()['type'], 'ir.actions.act_url')

    def test_two_companies_receive_the_same_invoice(self):
        other = self.env['res.company'].create({'name': 'Płatnik sp. z o.o.', 'vat': f'PL{OTHER_NIP}',
                                                'country_id': self.env.ref('base.pl').id})
        other_token = self.issue_token(OTHER_NIP)
        self.lift_rate_limits(nip=OTHER_NIP, token=other_token)
        other.write({'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{self.base}/v2',
                     'l10n_pl_ksef_token': other_token, 'l10n_pl_ksef_receive_as_third_party': True})
        [number] = self.supply(1, third_party_nip=OTHER_NIP)
        self.env['l10n_pl_ksef.sync']._cron_l10n_pl_ksef_receive()
        mine, theirs = self.received(), self.received(other)
        self.assertRecordValues(mine, [{'ksef_number': number, 'subject_type': 'Subject2', 'state': 'received'}])
        self.assertRecordValues(theirs, [{'ksef_number': number, 'subject_type': 'Subject3', 'state': 'received'}])
        self.assertNotEqual(mine.attachment_id, theirs.attachment_id)
        self.assertEqual(mine.attachment_id.raw, theirs.attachment_id.raw)
        # each company sees only its own
        as_accountant = self.env['l10n_pl_ksef.document'].with_user(self.accountant)
        self.assertEqual(as_accountant.search([('direction', '=', 'in')]), mine)
        with self.assertRaises(AccessError):
            theirs.with_user(self.accountant).read(['ksef_number'])
        other_syncs = self.env['l10n_pl_ksef.sync'].search([('company_id', '=', other.id)])
        with self.assertRaises(AccessError):
            other_syncs.with_user(self.accountant).read(['high_water_mark'])
        with self.assertRaises(AccessError):
            self.env['l10n_pl_ksef.sync'].with_user(self.accountant)._l10n_pl_ksef_fetch_now(other)

    def test_accountants_fetch_but_do_not_configure(self):
        numbers = self.supply(2)
        action = self.env['account.move'].with_user(self.accountant).action_l10n_pl_ksef_fetch_now()
        self.assertEqual(action['params']['type'], 'success')
        self.assertIn('2 new invoices', action['params']['message'])
        self.assertEqual(sorted(self.received().mapped('ksef_number')), sorted(numbers))
        sync = self.sync.with_user(self.accountant)
        self.assertEqual(sync.received_count, 2)
        with self.assertRaises(AccessError):
            sync.write({'active': False})
        with self.assertRaises(AccessError):
            sync.write({'high_water_mark': '2020-01-01T00:00:00+00:00'})
        with self.assertRaises(AccessError):
            self.env['res.config.settings'].with_user(self.accountant).create({})
        # the purchase journal's button runs the same sync
        journal = self.company_data['default_journal_purchase']
        later = self.supply(1, first=3)
        action = journal.with_user(self.accountant).action_l10n_pl_ksef_fetch_now()
        self.assertIn('1 new invoices', action['params']['message'])
        self.assertIn(later[0], self.received().mapped('ksef_number'))
        outsider = new_test_user(self.env, login='ksef_receiving_outsider', groups='base.group_user',
                                 company_id=self.company.id)
        with self.assertRaises(AccessError):
            self.env['account.move'].with_user(outsider).action_l10n_pl_ksef_fetch_now()

    def test_download_one_invoice_on_request(self):
        [number] = self.supply(1)
        wizard = self.env['l10n_pl_ksef.fetch.wizard'].with_user(self.accountant).create(
            {'mode': 'one', 'ksef_number': number})
        action = wizard.action_l10n_pl_ksef_fetch()
        document = self.env['l10n_pl_ksef.document'].browse(action['res_id'])
        self.assertRecordValues(document, [{'ksef_number': number, 'state': 'received', 'subject_type': 'Subject2',
                                            'seller_nip': SUPPLIER_NIP, 'invoice_number': 'FV/1/11/2026'}])
        self.assertEqual(document.attachment_id.raw, self.app.service.state.invoices_by_ksef_number[number].xml)
        self.assertEqual(len(self.exports()), 0, "a single download, no export")
        # the sync later meets it again: no second document
        self.sync._l10n_pl_ksef_receive_step()
        self.assertEqual(self.received(), document)
        with self.assertRaisesRegex(UserError, 'not a valid KSeF number'):
            self.env['l10n_pl_ksef.fetch.wizard'].create({'mode': 'one', 'ksef_number': '123'}) \
                .action_l10n_pl_ksef_fetch()


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefReceivingLimits(ReceivingCommon):
    """KSeF's real export limits on the company's context (not lifted): 20 an hour, 16 a minute, 8 a second."""

    def trigger_at(self):
        cron = self.env.ref('l10n_pl_ksef.ir_cron_l10n_pl_ksef_receive')
        return self.env['ir.cron.trigger'].search([('cron_id', '=', cron.id)], order='id desc', limit=1).call_at

    def test_the_export_limit_is_never_tripped_the_cron_comes_back_when_allowed(self):
        self.cap(2)
        self.supply(30, spread=False)
        Sync = self.env['l10n_pl_ksef.sync']
        for _run in range(40):   # the cron runner calling the job again and again, as soon as triggered
            Sync._cron_l10n_pl_ksef_receive()
            if len(self.exports()) >= 14:
                break
            time.sleep(0.25)
        self.assertEqual(len(self.exports()), 14, "the minute's budget used, no more")
        self.assertFalse(self.sync.last_error, "KSeF never answered 429")
        first = datetime.datetime.fromisoformat(json.loads(self.sync.export_log)[0])
        self.assertGreaterEqual(self.trigger_at(), first.replace(microsecond=0) + datetime.timedelta(seconds=60),
                                "re-triggered when the minute allows the next export, not sooner")
        Sync._cron_l10n_pl_ksef_receive()
        self.assertEqual(len(self.exports()), 14, "called early: no export")
        self.assertTrue(self.sync.high_water_mark)

        # an hour's budget already spent (e.g. by earlier runs): nothing until the oldest leaves the hour
        now = datetime.datetime.utcnow()
        spent = [now - datetime.timedelta(minutes=50) + datetime.timedelta(minutes=2) * i for i in range(18)]
        self.sync.export_log = json.dumps([moment.isoformat() for moment in spent])
        action = Sync._l10n_pl_ksef_fetch_now(self.company)
        self.assertEqual(len(self.exports()), 14)
        self.assertIn('next at', action['params']['message'])
        self.assertGreaterEqual(self.trigger_at(), (spent[0] + datetime.timedelta(hours=1)).replace(microsecond=0))


def warsaw_today():
    """The date an accountant in Poland calls today (between 22:00 and 24:00 UTC it is already tomorrow there)."""
    return datetime.datetime.now(WARSAW).date()
