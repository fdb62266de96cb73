"""The Odoo process killed at each step of sending and receiving (issue 12, item 1), then started again: every
invoice ends accepted exactly once, with the KSeF number KSeF holds for its file; every received invoice becomes one
document and one bill; the high-water mark never skips an invoice.

Each run of the jobs is a process of its own (tests/crash_child.py) that dies with os._exit at its point — no
rollback, no cleanup, as a killed worker — against the database the test committed; the next process is the
restarted server."""
import json
import logging
import os
import pathlib
import subprocess
import sys

import odoo
from odoo.tests import get_db_name, tagged

from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
from .common import L10nPlKsefCommittingCase
from .test_ksef_concurrency_receiving import COUNT as RECEIVED, ReceivingCompanyCase

_logger = logging.getLogger(__name__)
CHILD = pathlib.Path(__file__).with_name('crash_child.py')
CRASHED = 70


def run_jobs(jobs, crash=None):
    """The jobs in a new process, killed at ``crash``; its exit code (70: died at its point)."""
    config = odoo.tools.config
    odoo_args = [f'--addons-path={config["addons_path"]}', f'--db_host={config["db_host"] or ""}',
                 f'--db_port={config["db_port"] or ""}', f'--db_user={config["db_user"] or ""}',
                 f'--db_password={config["db_password"] or ""}', '--log-level=warn']
    options = {'odoo_args': [arg for arg in odoo_args if not arg.endswith('=')], 'db': get_db_name(),
               'jobs': jobs, 'crash': crash}
    environment = dict(os.environ, PYTHONPATH=str(pathlib.Path(odoo.__file__).parents[1]))
    done = subprocess.run([sys.executable, str(CHILD), json.dumps(options)], env=environment, timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode not in (0, CRASHED):
        raise AssertionError(f'the jobs {jobs} failed (exit {done.returncode}):\n{done.stdout[-3000:]}')
    return done.returncode


def time_passes(cr, company_id):
    """What the restarted server finds later: retry times come, a 'sending' left by the dead worker is stale."""
    cr.execute("""UPDATE l10n_pl_ksef_document SET retry_at = NULL, sent_at = now() - interval '1 hour'
                   WHERE company_id = %s AND state IN ('to_send', 'sending')""", (company_id,))
    cr.execute("UPDATE l10n_pl_ksef_sync SET next_run = NULL WHERE company_id = %s", (company_id,))


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefCrashWhileSending(L10nPlKsefCommittingCase):
    emulator_per_test = True   # KSeF holds only this test's invoices

    def setUp(self):
        super().setUp()
        self.committed_company('KSeF crash sp. z o.o.', {
            'vat': f'PL{samples.SELLER_NIP}', 'l10n_pl_ksef_environment': 'custom',
            'l10n_pl_ksef_custom_url': f'{self.base}/v2', 'l10n_pl_ksef_batch_threshold': 5,
            'l10n_pl_ksef_token': self.app.service.admin_token(samples.SELLER_NIP, ['InvoiceWrite', 'InvoiceRead'])})

    def queue(self, count):
        _ids, self.hashes = self.queue_documents(count, 20_000)

    def crash_then_recover(self, count, point, later=60):
        """Crash at ``point``, then restart the jobs ``later`` seconds after (KSeF's time) until all is done."""
        self.queue(count)
        self.assertEqual(run_jobs(['send', 'status'], crash=point), CRASHED, f"the process died at {point}")
        for restarts in range(1, 5):
            with self.registry.cursor() as cr:
                time_passes(cr, self.company_id)
            self.app.service.clock.advance(later)
            run_jobs(['send', 'status', 'status'])
            with self.registry.cursor() as cr:
                cr.execute("SELECT state, count(*) FROM l10n_pl_ksef_document WHERE company_id = %s GROUP BY 1",
                           (self.company_id,))
                states = dict(cr.fetchall())
            if set(states) == {'accepted'}:
                break
        self.assert_accepted_once(count, states)
        _logger.info("KSeF kill test: killed at %s with %s invoices, all accepted once after %s restart(s)",
                     point, count, restarts)

    def assert_accepted_once(self, count, states):
        self.assertEqual(states, {'accepted': count})
        with self.registry.cursor() as cr:
            cr.execute("SELECT xml_hash, ksef_number FROM l10n_pl_ksef_document WHERE company_id = %s",
                       (self.company_id,))
            ours = dict(cr.fetchall())
        held = [i for i in self.app.service.state.invoices_by_ksef_number.values()
                if i.seller_nip == samples.SELLER_NIP]
        self.assertEqual(sorted(i.invoice_hash for i in held), sorted(self.hashes), "KSeF holds each file once")
        self.assertEqual(ours, {i.invoice_hash: i.ksef_number for i in held}, "with the number KSeF gave it")

    def test_killed_before_an_online_invoice_is_sent(self):
        self.crash_then_recover(3, 'online-before-invoice')

    def test_killed_after_an_online_invoice_was_sent_before_commit(self):
        self.crash_then_recover(3, 'online-after-invoice')

    def test_killed_during_a_batch_upload(self):
        # every part uploaded, the session never closed: the status job closes the session the dead worker left
        # open (BATCH_LEFT_AFTER) and KSeF processes it — not 12 hours later when KSeF would cancel it
        self.crash_then_recover(8, 'batch-during-upload')

    def test_killed_before_the_batch_upload(self):
        # nothing uploaded: closing is refused while the upload window lasts (a part is missing); once it is over
        # KSeF cancels the session on the next close (440) and the invoices go again, with a new login
        self.crash_then_recover(8, 'batch-before-upload', later=25 * 60)

    def test_killed_after_the_batch_was_closed_before_commit(self):
        self.crash_then_recover(8, 'batch-after-close')

    def test_killed_after_the_status_answer_before_commit(self):
        self.crash_then_recover(8, 'status-after-answer')


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefCrashWhileReceiving(ReceivingCompanyCase):

    def crash_then_recover(self, point, jobs):
        self.assertEqual(run_jobs(jobs, crash=point), CRASHED, f"the process died at {point}")
        for _restart in range(3):
            with self.registry.cursor() as cr:
                time_passes(cr, self.company_id)
            run_jobs(['receive', 'bills'])
        with self.registry.cursor() as cr:
            cr.execute("""SELECT d.ksef_number, d.state, count(m.id) FROM l10n_pl_ksef_document d
                            LEFT JOIN account_move m ON m.l10n_pl_ksef_number = d.ksef_number
                                                    AND m.company_id = d.company_id
                           WHERE d.company_id = %s AND d.direction = 'in' GROUP BY 1, 2""", (self.company_id,))
            rows = cr.fetchall()
        self.assertEqual(sorted(row[0] for row in rows), sorted(self.numbers), "every invoice once: none skipped")
        self.assertEqual({(row[1], row[2]) for row in rows}, {('bill_created', 1)}, "each became exactly one bill")
        self.assertEqual(len(rows), RECEIVED)
        self.assert_one_vendor()
        _logger.info("KSeF kill test: killed at %s with %s invoices in KSeF, each received and billed once",
                     point, RECEIVED)

    def test_killed_after_the_export_download(self):
        self.crash_then_recover('export-after-download', ['receive'])

    def test_killed_after_the_documents_were_made_before_commit(self):
        self.crash_then_recover('inbound-documents-made', ['receive'])

    def test_killed_after_the_bills_were_made_before_commit(self):
        self.crash_then_recover('bills-made', ['receive', 'bills'])
