"""Living next to Odoo's own KSeF module (l10n_pl_edi): an invoice never goes to KSeF by both, and what l10n_pl_edi
already got from KSeF is taken over. The tests marked "real l10n_pl_edi" run against the module when the Odoo tree
holds it (later 18.0 releases) and say plainly that they are skipped otherwise; the others run everywhere, with
l10n_pl_edi's data given as plain values or its option simulated."""
import base64
import datetime
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.account.models.account_move_send import AccountMoveSend as BaseAccountMoveSend
from odoo.addons.l10n_pl_ksef.ksef import crypto, fa3
from odoo.addons.l10n_pl_ksef.models.l10n_pl_edi_coexistence import _l10n_pl_ksef_without_pl_edi
from .common import SELLER_NIP, L10nPlKsefEmulatorCommon, L10nPlKsefTestCommon, ksef_number

COEXISTENCE = 'odoo.addons.l10n_pl_ksef.models.l10n_pl_edi_coexistence'
SKIPPED = "l10n_pl_edi is not in this Odoo tree (it predates it): coexistence tested only without it"


def upo_of(number, acquired='2026-11-02T10:15:30.123+01:00'):
    """A UPO as KSeF issues it, for one invoice."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">
  <NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>
  <NumerReferencyjnySesji>20261102-SO-2F0A1B2C3D-4E5F6A7B8C-9D</NumerReferencyjnySesji>
  <Dokument>
    <NipSprzedawcy>{SELLER_NIP}</NipSprzedawcy>
    <NumerKSeFDokumentu>{number}</NumerKSeFDokumentu>
    <DataNadaniaNumeruKSeF>{acquired}</DataNadaniaNumeruKSeF>
  </Dokument>
</Potwierdzenie>""".encode()


@tagged('post_install', '-at_install', 'post_install_l10n')
class TestPlEdiCoexistence(L10nPlKsefTestCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # connected to KSeF in this addon (a KSeF token): no KSeF call is made by these tests
        cls.company.l10n_pl_ksef_token = 'token-of-the-test'
        cls.pl_edi = 'l10n_pl_edi_status' in cls.env['account.move']._fields

    def invoice(self):
        return self.post_invoice(self.buyer_pl, [(100.0, 1, 'vs_kraj_23')])

    def disconnect(self):
        self.company.l10n_pl_ksef_token = False
        self.assertFalse(self.company._l10n_pl_ksef_is_configured())

    def fa3_xml(self, move):
        return fa3.build(move._l10n_pl_ksef_get_fa3_invoices()[move])

    def skip_without_pl_edi(self):
        if not self.pl_edi:
            self.skipTest(SKIPPED)

    # --- everywhere ------------------------------------------------------------------------------------

    def test_settings_say_whether_l10n_pl_edi_is_installed(self):
        settings = self.env['res.config.settings'].create({})
        self.assertEqual(settings.l10n_pl_ksef_pl_edi_installed, self.pl_edi)
        arch = settings.get_views([(False, 'form')])['views']['form']['arch']
        self.assertIn('action_l10n_pl_ksef_take_over_pl_edi', arch)
        if not self.pl_edi:
            move = self.invoice()
            self.assertFalse(move._l10n_pl_ksef_held_by_pl_edi())
            self.assertEqual(move._l10n_pl_ksef_to_send(), move)
            self.assertEqual(self.company._l10n_pl_ksef_pl_edi_items(), [])
            with self.assertRaisesRegex(UserError, 'not installed'):
                settings.action_l10n_pl_ksef_take_over_pl_edi()

    def test_pl_edi_option_is_switched_off_for_connected_companies(self):
        asked = []
        other = {'label': 'Peppol', 'is_applicable': lambda move: True}
        extra_edis = {'pl_ksef': {'label': 'by KSeF (e-Faktura)', 'help': 'KSeF',
                                  'is_applicable': lambda move: asked.append(move) or True},
                      'other': other}
        filtered = _l10n_pl_ksef_without_pl_edi(extra_edis)
        move = self.invoice()
        self.assertFalse(filtered['pl_ksef']['is_applicable'](move))
        self.assertFalse(asked, "l10n_pl_edi's own test is not even asked for a connected company")
        self.assertEqual((filtered['pl_ksef']['label'], filtered['pl_ksef']['help']), ('by KSeF (e-Faktura)', 'KSeF'))
        self.assertIs(filtered['other'], other)
        self.assertTrue(extra_edis['pl_ksef']['is_applicable'](move), "the caller's dict is left as it was")
        self.assertIs(_l10n_pl_ksef_without_pl_edi(filtered)['pl_ksef']['is_applicable'],
                      filtered['pl_ksef']['is_applicable'], "wrapped once")
        self.assertEqual(_l10n_pl_ksef_without_pl_edi({'other': other}), {'other': other})
        self.disconnect()
        asked.clear()
        self.assertTrue(filtered['pl_ksef']['is_applicable'](move), "other companies: l10n_pl_edi decides")
        self.assertEqual(asked, [move])

    def test_send_wizard_never_sends_by_both(self):
        """l10n_pl_edi's option simulated under account's own _get_all_extra_edis (with the real module, its
        option is there anyway)."""
        def with_pl_edi_option(self_):
            return {'pl_ksef': {'label': 'by KSeF (e-Faktura)', 'is_applicable': lambda move: True}}

        move = self.invoice()
        with patch.object(BaseAccountMoveSend, '_get_all_extra_edis', with_pl_edi_option):
            sender = self.env['account.move.send']
            self.assertEqual(sender._get_default_extra_edis(move), {'l10n_pl_ksef'})
            wizard = self.env['account.move.send.wizard'].with_context(
                active_model='account.move', active_ids=move.ids).create({})
            self.assertEqual(set(wizard.extra_edi_checkboxes), {'l10n_pl_ksef'})
            # even a caller that insists on l10n_pl_edi's option does not get it for a connected company
            invoices_data = {move: {'extra_edis': {'pl_ksef'}}}
            sender._call_web_service_before_invoice_pdf_render(invoices_data)
            self.assertEqual(invoices_data[move]['extra_edis'], set())
            invoices_data = {move: {'extra_edis': ['pl_ksef']}}
            sender._call_web_service_before_invoice_pdf_render(invoices_data)
            self.assertEqual(invoices_data[move]['extra_edis'], [])
            if not self.pl_edi:   # the real module's own rule needs its certificate: see the real tests
                self.disconnect()
                self.assertEqual(sender._get_default_extra_edis(move), {'pl_ksef'})
                invoices_data = {move: {'extra_edis': {'pl_ksef'}}}
                sender._call_web_service_before_invoice_pdf_render(invoices_data)
                self.assertEqual(invoices_data[move]['extra_edis'], {'pl_ksef'})

    def test_take_over_records_what_l10n_pl_edi_got_from_ksef(self):
        accepted, rejected, waiting, queued, other = (self.invoice() for _i in range(5))
        xml = self.fa3_xml(accepted)
        number, number_queued = (ksef_number(SELLER_NIP, '20261102', tech) for tech in ('0A1B2C3D4E5F', '0A1B2C3D4E60'))
        upo = upo_of(number)
        ours = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(queued, self.fa3_xml(queued))
        self.assertEqual(queued.l10n_pl_ksef_state, 'to_send')
        items = [
            {'move': accepted, 'status': 'accepted', 'number': number, 'reference': '20261102-EE-1111111111-AA',
             'session': '20261102-SO-2F0A1B2C3D-4E5F6A7B8C-9D', 'xml': xml, 'upo': upo},
            {'move': rejected, 'status': 'rejected', 'reference': '20261102-EE-2222222222-BB', 'xml': b'<Faktura/>',
             'message': '450: Błąd weryfikacji semantyki dokumentu faktury'},
            {'move': waiting, 'status': 'sent', 'reference': '20261102-EE-3333333333-CC'},
            {'move': queued, 'status': 'accepted', 'number': number_queued},
            {'move': other, 'status': False, 'number': False},
        ]
        documents = self.env['l10n_pl_ksef.document']
        counts = documents._l10n_pl_ksef_take_over(items)
        self.assertEqual(counts, {'accepted': 2, 'rejected': 1, 'waiting': 1, 'skipped': 0})

        document = accepted.l10n_pl_ksef_document_ids
        self.assertRecordValues(document, [{
            'direction': 'out', 'state': 'accepted', 'ksef_number': number, 'status_code': 200,
            'xml_hash': crypto.sha256_b64(xml), 'invoice_reference': '20261102-EE-1111111111-AA',
            'session_reference': '20261102-SO-2F0A1B2C3D-4E5F6A7B8C-9D', 'session_type': 'online',
            'acquisition_date': datetime.datetime(2026, 11, 2, 9, 15, 30)}])
        self.assertEqual(document.attachment_id.raw, xml)
        self.assertEqual(document.upo_attachment_id.raw, upo)
        self.assertIn('l10n_pl_edi', document.message)
        self.assertRecordValues(accepted, [{'l10n_pl_ksef_state': 'accepted', 'l10n_pl_ksef_number': number,
                                            'l10n_pl_ksef_acquisition_date': datetime.datetime(2026, 11, 2, 9, 15, 30),
                                            'l10n_pl_ksef_upo_id': document.upo_attachment_id.id}])
        self.assertFalse(accepted._l10n_pl_ksef_to_send())
        self.assertEqual(accepted._l10n_pl_ksef_qr_codes()[0]['label'], number, "KOD I from the file KSeF holds")
        with self.assertRaisesRegex(UserError, 'cannot go back to draft'):
            accepted.button_draft()
        self.assertIn(number, accepted.message_ids[0].body)

        self.assertRecordValues(rejected.l10n_pl_ksef_document_ids, [{'state': 'rejected', 'ksef_number': False}])
        self.assertEqual(rejected.l10n_pl_ksef_state, 'rejected')
        self.assertIn('450: Błąd weryfikacji semantyki', rejected.l10n_pl_ksef_message)
        self.assertEqual(rejected._l10n_pl_ksef_to_send(), rejected, "KSeF does not hold it: it can go from here")

        self.assertFalse(waiting.l10n_pl_ksef_document_ids, "left to l10n_pl_edi while KSeF has not answered")
        self.assertFalse(waiting.l10n_pl_ksef_state)
        self.assertFalse(other.l10n_pl_ksef_document_ids)

        self.assertEqual(ours.state, 'cancelled', "ours, queued before l10n_pl_edi sent it, does not go")
        self.assertRecordValues(queued, [{'l10n_pl_ksef_state': 'accepted', 'l10n_pl_ksef_number': number_queued}])
        self.assertFalse(queued._l10n_pl_ksef_latest_document().attachment_id, "l10n_pl_edi kept no file")

        # again: nothing twice
        all_documents = (accepted | rejected | waiting | queued | other).l10n_pl_ksef_document_ids
        counts = documents._l10n_pl_ksef_take_over(items)
        self.assertEqual(counts, {'accepted': 0, 'rejected': 0, 'waiting': 1, 'skipped': 3})
        self.assertEqual((accepted | rejected | waiting | queued | other).l10n_pl_ksef_document_ids, all_documents)
        # the invoice l10n_pl_edi was waiting for is accepted by now
        items[2].update(status='accepted', number=ksef_number(SELLER_NIP, '20261102', '0A1B2C3D4E61'))
        self.assertEqual(documents._l10n_pl_ksef_take_over(items[2:3])['accepted'], 1)
        self.assertEqual(waiting.l10n_pl_ksef_state, 'accepted')

        notification = self.company._l10n_pl_ksef_take_over_notification(counts)
        self.assertEqual(notification['params']['type'], 'warning')
        self.assertIn('0 accepted, 0 rejected', notification['params']['message'])
        self.assertIn('1 (take over again', notification['params']['message'])

    def test_take_over_never_gives_one_ksef_number_to_two_invoices(self):
        first, second = self.invoice(), self.invoice()
        number = ksef_number(SELLER_NIP, '20261102', '0A1B2C3D4E5F')
        documents = self.env['l10n_pl_ksef.document']
        documents._l10n_pl_ksef_take_over([{'move': first, 'status': 'accepted', 'number': number}])
        with self.assertLogs(COEXISTENCE, 'WARNING'):
            counts = documents._l10n_pl_ksef_take_over([{'move': second, 'status': 'accepted', 'number': number}])
        self.assertEqual(counts['skipped'], 1)
        self.assertFalse(second.l10n_pl_ksef_document_ids)

    def test_take_over_keeps_what_this_addon_already_sent(self):
        move = self.invoice()
        document = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(move, self.fa3_xml(move))
        document.write({'state': 'accepted', 'ksef_number': ksef_number(SELLER_NIP, '20261102', '0A1B2C3D4E5F')})
        counts = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_take_over([
            {'move': move, 'status': 'accepted', 'number': ksef_number(SELLER_NIP, '20261102', '0A1B2C3D4E60')},
            {'move': move, 'status': 'rejected'}])
        self.assertEqual(counts['skipped'], 2)
        self.assertEqual(move.l10n_pl_ksef_document_ids, document)

    def test_invoices_l10n_pl_edi_sent_are_never_sent_from_here(self):
        """l10n_pl_edi's status simulated (the real one: see the real tests)."""
        held, free, late = self.invoice(), self.invoice(), self.invoice()
        queued = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_create_outbound(late, self.fa3_xml(late))
        holding = held | late
        move_class = self.registry['account.move']
        with patch.object(move_class, '_l10n_pl_ksef_held_by_pl_edi', lambda moves: moves & holding), \
                patch(f'{COEXISTENCE}.pl_edi_installed', return_value=True):
            self.assertEqual((held | free)._l10n_pl_ksef_to_send(), free)
            sender = self.env['account.move.send']
            self.assertFalse(sender._l10n_pl_ksef_is_applicable(held))
            self.assertNotIn('l10n_pl_ksef', sender._get_default_extra_edis(held))
            with self.assertRaisesRegex(UserError, 'l10n_pl_edi'):
                held.action_l10n_pl_ksef_send()
            documents, problems = held._l10n_pl_ksef_enqueue(commit=False)
            self.assertFalse(documents or problems)
            # queued before l10n_pl_edi sent it: cancelled by the sender, no KSeF call
            self.env['l10n_pl_ksef.document']._cron_l10n_pl_ksef_send()
            self.assertEqual(queued.state, 'cancelled')
            self.assertIn('l10n_pl_edi', queued.message)
            self.assertFalse(late.l10n_pl_ksef_state)

    # --- real l10n_pl_edi ------------------------------------------------------------------------------

    def test_real_pl_edi_option_is_off_for_connected_companies(self):
        self.skip_without_pl_edi()
        move = self.invoice()
        certificate = L10nPlKsefEmulatorCommon.seal_certificate.__func__(type(self), SELLER_NIP)
        self.company.sudo().l10n_pl_edi_certificate = certificate
        sender = self.env['account.move.send']
        extra_edis = sender._get_all_extra_edis()
        self.assertIn('pl_ksef', extra_edis)
        self.assertFalse(extra_edis['pl_ksef']['is_applicable'](move))
        self.assertEqual(sender._get_default_extra_edis(move) & {'pl_ksef', 'l10n_pl_ksef'}, {'l10n_pl_ksef'})
        wizard = self.env['account.move.send.wizard'].with_context(
            active_model='account.move', active_ids=move.ids).create({})
        self.assertNotIn('pl_ksef', wizard.extra_edi_checkboxes)
        invoices_data = {move: {'extra_edis': {'pl_ksef'}}}
        sender._call_web_service_before_invoice_pdf_render(invoices_data)
        self.assertFalse(move.l10n_pl_edi_status, "l10n_pl_edi did not send it")
        self.assertTrue(self.env['res.config.settings'].create({}).l10n_pl_ksef_pl_edi_installed)
        self.disconnect()
        if self.company.l10n_pl_edi_register:
            self.assertTrue(extra_edis['pl_ksef']['is_applicable'](move), "other companies: l10n_pl_edi decides")

    def test_real_pl_edi_take_over(self):
        self.skip_without_pl_edi()
        accepted, sent, rejected = self.invoice(), self.invoice(), self.invoice()
        xml = self.fa3_xml(accepted)
        number = ksef_number(SELLER_NIP, '20261102', '0A1B2C3D4E5F')
        upo = upo_of(number)
        accepted.write({'l10n_pl_edi_status': 'accepted', 'l10n_pl_edi_number': number,
                        'l10n_pl_edi_ref': '20261102-EE-1111111111-AA',
                        'l10n_pl_edi_session_id': '20261102-SO-2F0A1B2C3D-4E5F6A7B8C-9D',
                        'l10n_pl_edi_attachment_file': base64.b64encode(xml),
                        'l10n_pl_edi_upo_file': base64.b64encode(upo)})
        sent.write({'l10n_pl_edi_status': 'sent', 'l10n_pl_edi_ref': '20261102-EE-3333333333-CC'})
        rejected.write({'l10n_pl_edi_status': 'rejected', 'l10n_pl_edi_header': '<p>450: Błąd weryfikacji</p>'})

        self.assertEqual((accepted | sent | rejected)._l10n_pl_ksef_held_by_pl_edi(), accepted | sent)
        self.assertEqual((accepted | sent | rejected)._l10n_pl_ksef_to_send(), rejected)
        with self.assertRaisesRegex(UserError, 'l10n_pl_edi'):
            sent.action_l10n_pl_ksef_send()

        action = self.company.action_l10n_pl_ksef_take_over_pl_edi()
        self.assertIn('1 accepted, 1 rejected', action['params']['message'])
        self.assertRecordValues(accepted.l10n_pl_ksef_document_ids, [{
            'state': 'accepted', 'ksef_number': number, 'xml_hash': crypto.sha256_b64(xml),
            'invoice_reference': '20261102-EE-1111111111-AA'}])
        self.assertEqual(accepted.l10n_pl_ksef_document_ids.upo_attachment_id.raw, upo)
        self.assertEqual(accepted.l10n_pl_ksef_state, 'accepted')
        self.assertFalse(sent.l10n_pl_ksef_document_ids)
        self.assertEqual(rejected.l10n_pl_ksef_state, 'rejected')
        self.assertIn('450: Błąd weryfikacji', rejected.l10n_pl_ksef_message)
        before = (accepted | sent | rejected).l10n_pl_ksef_document_ids
        self.company.action_l10n_pl_ksef_take_over_pl_edi()
        self.assertEqual((accepted | sent | rejected).l10n_pl_ksef_document_ids, before, "nothing twice")
