"""Two scheduled senders running at the same time on the same queue, each in its own database transaction that
commits as in production: every invoice reaches KSeF exactly once."""
import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
from .common import L10nPlKsefCommittingCase

COUNT = 30


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefConcurrentSenders(L10nPlKsefCommittingCase):
    """Every cursor commits, as in production (see L10nPlKsefCommittingCase)."""

    def setUp(self):
        super().setUp()
        self.committed_company('KSeF concurrency sp. z o.o.', {
            'vat': f'PL{samples.SELLER_NIP}', 'l10n_pl_ksef_environment': 'custom',
            'l10n_pl_ksef_custom_url': f'{self.base}/v2', 'l10n_pl_ksef_batch_threshold': 5,
            'l10n_pl_ksef_token': self.app.service.admin_token(samples.SELLER_NIP, ['InvoiceWrite', 'InvoiceRead'])})
        self.document_ids, _hashes = self.queue_documents(COUNT, 10_000)

    def run_sender(self, barrier, errors, taken):
        try:
            with self.registry.cursor() as cr:
                # the registry is at hand: looking it up by name would wait for the test runner's registry lock
                cr.transaction = api.Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                documents = env['l10n_pl_ksef.document'].browse(self.document_ids)
                barrier.wait(timeout=30)
                taken.append(len(documents.with_company(self.company_id)._l10n_pl_ksef_send()))
        except Exception as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)

    def test_two_senders_at_once_send_every_invoice_once(self):
        barrier, errors, taken = threading.Barrier(2), [], []
        send_model = self.registry['account.move.send']
        # the senders commit after every remote call, as outside tests (their cursors are not the test's)
        with patch.object(send_model, '_can_commit', lambda self: True):
            workers = [threading.Thread(target=self.run_sender, args=(barrier, errors, taken)) for _worker in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=60)
        self.assertFalse(errors)
        self.assertEqual(sum(taken), COUNT, f"the queue was split between the workers, never shared: {taken}")
        with self.registry.cursor() as cr:
            cr.execute("SELECT state, session_reference, xml_hash, message FROM l10n_pl_ksef_document WHERE id IN %s",
                       (tuple(self.document_ids),))
            rows = cr.fetchall()
        self.assertEqual({row[0] for row in rows}, {'sent'}, f"every document sent ({rows[0][3]})")
        hashes = [row[2] for row in rows]
        received = [invoice.invoice_hash for session in self.app.service.state.sessions.values()
                    for invoice in session.invoices if invoice.invoice_hash in hashes]
        self.assertEqual(sorted(received), sorted(hashes), "each invoice reached KSeF exactly once")
        self.assertLessEqual(len({row[1] for row in rows}), 2, "one session per worker at most")
