"""Two workers receiving and two making bills at the same time for one company, each in its own committing
database transaction as Odoo's cron workers on several servers sharing one PostgreSQL: every invoice KSeF holds
arrives once and becomes one bill."""
import dataclasses
import datetime
import random
import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3, identifiers
from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient, Secret, custom_environment
from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples
from .common import BUYER_NIP, L10nPlKsefCommittingCase

COUNT = 30
COMPANY = 'KSeF concurrent receiving sp. z o.o.'


class ReceivingCompanyCase(L10nPlKsefCommittingCase):
    """A committed company with the Polish chart, connected to an emulator of its own for each test, COUNT
    invoices from a new supplier waiting in KSeF. Every cursor commits, as in production (see
    L10nPlKsefCommittingCase); the company, which Odoo's chart of accounts ties to many records, is archived at the
    end and reused by the next run."""

    emulator_per_test = True   # the company's sync starts afresh: it would else receive earlier tests' invoices

    def setUp(self):
        super().setUp()
        self.seller_nip = new_nip()   # a vendor the database does not know yet: the bill makers create it
        self.numbers = self.supply()
        self.committed_company(COMPANY, {
            'l10n_pl_ksef_environment': 'custom', 'l10n_pl_ksef_custom_url': f'{self.base}/v2',
            'l10n_pl_ksef_token': self.app.service.admin_token(BUYER_NIP, ['InvoiceWrite', 'InvoiceRead']),
            'l10n_pl_ksef_receive_from': datetime.date.today() - datetime.timedelta(days=1),
        }, new_values={'vat': f'PL{BUYER_NIP}'}, chart='pl')

    def supply(self):
        """COUNT invoices from a new supplier to the company, in one batch session; their KSeF numbers."""
        seller_nip = self.seller_nip
        client = KsefClient(custom_environment(f'{self.base}/v2'))
        tokens = client.login_with_token('Nip', seller_nip, Secret(self.app.service.admin_token(
            seller_nip, ['InvoiceWrite', 'InvoiceRead'])))
        stamp = time.time_ns()   # every run its own invoice numbers
        files = []
        for index in range(COUNT):
            invoice = samples.ten_line_invoice(index)
            invoice = dataclasses.replace(
                invoice, seller=samples.seller(nip=seller_nip, name=f'Dostawca {seller_nip} S.A.'),
                buyer=samples.polish_buyer(nip=BUYER_NIP, name=COMPANY),
                body=dataclasses.replace(invoice.body, number=f'FV/{stamp}/{index}'))
            files.append((f'{index}.xml', fa3.build(invoice)))
        reference = client.send_batch(tokens, iter(files))
        deadline = time.monotonic() + 60
        while client.session_status(tokens, reference)['status']['code'] < 200:
            self.assertLess(time.monotonic(), deadline, "the emulator did not process the batch")
            time.sleep(0.1)
        invoices = client.session_invoices(tokens, reference)
        numbers = {invoice['ksefNumber'] for invoice in invoices}
        self.assertEqual(len(numbers), COUNT)
        return numbers

    def assert_one_vendor(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            vendors = env['res.partner'].with_context(active_test=False).search([('vat', '=', f'PL{self.seller_nip}')])
            self.assertEqual(len(vendors), 1, "one vendor for the NIP")
            bills = env['account.move'].search([('company_id', '=', self.company_id),
                                                ('l10n_pl_ksef_number', 'in', list(self.numbers))])
            self.assertEqual(len(bills), COUNT)
            self.assertEqual(bills.commercial_partner_id, vendors)


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestKsefConcurrentReceivers(ReceivingCompanyCase):

    def in_workers(self, work, count=2):
        """Run ``work(env)`` in ``count`` threads at once, each with its own cursor; their results."""
        barrier, errors, results = threading.Barrier(count), [], []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = api.Transaction(self.registry)   # not the test runner's registry lock
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    results.append(work(env))
            except Exception as error:  # noqa: BLE001 - reported by the test thread
                errors.append(error)

        # the jobs commit after every step, as outside tests (their cursors are not the test's)
        with patch.object(self.registry['account.move.send'], '_can_commit', lambda self: True):
            threads = [threading.Thread(target=worker) for _index in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        self.assertFalse(errors)
        return results

    def test_two_receivers_and_two_bill_makers_at_once(self):
        def receive(env):
            company = env['res.company'].browse(self.company_id)
            return len(env['l10n_pl_ksef.sync']._l10n_pl_ksef_receive_company(company, time.monotonic() + 60))

        received = self.in_workers(receive)
        self.assertEqual(sorted(received)[-1], COUNT, f"one worker received everything, the other nothing: {received}")
        self.assertEqual(sum(received), COUNT)

        def make_bills(env):
            documents = env['l10n_pl_ksef.document'].search([('company_id', '=', self.company_id),
                                                              ('direction', '=', 'in')])
            return len(documents.with_company(self.company_id)._l10n_pl_ksef_create_bills())

        made = self.in_workers(make_bills)
        # a worker that met the new vendor while the other one was creating it left those documents for the
        # next run (test_two_bill_makers_never_create_one_new_vendor_twice): that run
        made += self.in_workers(make_bills, count=1)
        self.assertEqual(sum(made), COUNT, f"the documents were split between the workers, never shared: {made}")
        self.assert_one_vendor()
        with self.registry.cursor() as cr:
            cr.execute("""SELECT d.ksef_number, d.state, count(m.id) FROM l10n_pl_ksef_document d
                            LEFT JOIN account_move m ON m.l10n_pl_ksef_number = d.ksef_number
                                                    AND m.company_id = d.company_id
                           WHERE d.company_id = %s AND d.direction = 'in' GROUP BY 1, 2""", (self.company_id,))
            rows = cr.fetchall()
        self.assertEqual({row[0] for row in rows}, self.numbers, "every invoice KSeF holds arrived, once")
        self.assertEqual({(row[1], row[2]) for row in rows}, {('bill_created', 1)}, "each became exactly one bill")

    def test_two_bill_makers_never_create_one_new_vendor_twice(self):
        """A worker whose transaction began before another worker committed a new vendor cannot see that vendor
        (PostgreSQL's repeatable read, Odoo's isolation): it must not create a second one. Its documents wait
        for the next run, which books them on the one vendor."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env['res.company'].browse(self.company_id)
            env['l10n_pl_ksef.sync']._l10n_pl_ksef_receive_company(company, time.monotonic() + 60)
        domain = [('company_id', '=', self.company_id), ('direction', '=', 'in')]
        with self.registry.cursor() as late_cr:
            late = api.Environment(late_cr, SUPERUSER_ID, {})['l10n_pl_ksef.document']
            documents = late.search(domain, order='id')   # this transaction's snapshot is taken here
            self.assertEqual(set(documents.mapped('ksef_number')), self.numbers)
            with self.registry.cursor() as cr:
                first = api.Environment(cr, SUPERUSER_ID, {})['l10n_pl_ksef.document'].browse(documents[:10].ids)
                self.assertEqual(len(first.with_company(self.company_id)._l10n_pl_ksef_create_bills()), 10)
            with patch.object(type(late), '_l10n_pl_ksef_trigger_bill_makers') as trigger:
                made = documents[10:].with_company(self.company_id)._l10n_pl_ksef_create_bills()
            self.assertFalse(made, "the vendor it cannot see is not created a second time")
            self.assertTrue(trigger.called, "the bill makers are called again for the documents left")
            self.assertEqual(set(documents[10:].mapped('state')), {'received'})
            self.assertFalse(any(documents[10:].mapped('message')), "waiting for a vendor is no error")
        with self.registry.cursor() as cr:
            documents = api.Environment(cr, SUPERUSER_ID, {})['l10n_pl_ksef.document'].search(domain)
            self.assertEqual(len(documents.with_company(self.company_id)._l10n_pl_ksef_create_bills()), COUNT - 10)
            self.assertEqual(set(documents.mapped('state')), {'bill_created'})
        self.assert_one_vendor()

    def test_documents_another_worker_changed_meanwhile_are_left_to_the_next_run(self):
        """Under repeatable read PostgreSQL refuses to lock a row another transaction changed after this one
        began: the bill maker skips such documents without an error and is called again a minute later."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env['res.company'].browse(self.company_id)
            env['l10n_pl_ksef.sync']._l10n_pl_ksef_receive_company(company, time.monotonic() + 60)
        domain = [('company_id', '=', self.company_id), ('direction', '=', 'in')]
        with patch.object(self.registry['account.move.send'], '_can_commit', lambda self: True):
            with self.registry.cursor() as late_cr:
                Document = api.Environment(late_cr, SUPERUSER_ID, {})['l10n_pl_ksef.document']
                documents = Document.search(domain, order='id')   # this transaction's snapshot is taken here
                with self.registry.cursor() as cr:
                    other = api.Environment(cr, SUPERUSER_ID, {})['l10n_pl_ksef.document'].browse(documents[:5].ids)
                    self.assertEqual(len(other.with_company(self.company_id)._l10n_pl_ksef_create_bills()), 5)
                self.assertFalse(documents._l10n_pl_ksef_lock(['received']), "nothing locked, no error raised")
                self.assertEqual(Document.search_count(domain), COUNT, "the transaction goes on")
                with patch.object(type(Document), '_l10n_pl_ksef_trigger_bill_makers') as trigger:
                    Document._cron_l10n_pl_ksef_create_bills()
                trigger.assert_called_once_with(delay=60)
            with self.registry.cursor() as cr:
                Document = api.Environment(cr, SUPERUSER_ID, {})['l10n_pl_ksef.document']
                Document._cron_l10n_pl_ksef_create_bills()
                self.assertEqual(set(Document.search(domain).mapped('state')), {'bill_created'})
        self.assert_one_vendor()


def new_nip():
    """A valid NIP no earlier run used (its vendor does not exist yet)."""
    while True:
        nip = f'{random.randrange(100, 999)}{random.randrange(10 ** 6, 10 ** 7)}'
        nip = nip[:9] + str(sum(int(d) * w for d, w in zip(nip, (6, 5, 7, 2, 3, 4, 5, 6, 7))) % 11)
        if identifiers.is_valid_nip(nip) and nip[1:3] != '00':   # FA(3)'s TNIP: digits 2-3 are never 00
            return nip
