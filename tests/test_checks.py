"""Checks as data before anything leaves Odoo, the FA(3) download, and the cost of the mapping."""
import base64

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3

from .common import L10nPlKsefTestCommon


@tagged('post_install_l10n', 'post_install', '-at_install')
class TestChecks(L10nPlKsefTestCommon):

    def test_clean_invoice_has_no_alert_and_no_problem(self):
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')])
        self.assertEqual(move._l10n_pl_ksef_check_invoices(), {})
        self.assertFalse(move.l10n_pl_ksef_problems_html)

    def test_company_and_partner_nip(self):
        # base_vat refuses such numbers when typed; they still arrive by import or with the check disabled
        self.company.with_context(no_vat_validation=True).vat = 'PL5265877636'
        self.buyer_pl.with_context(no_vat_validation=True).vat = 'PL6808208875'
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')])
        alerts = move._l10n_pl_ksef_check_invoices()
        self.assertEqual(alerts['l10n_pl_ksef_company_nip']['level'], 'danger')
        self.assertEqual(alerts['l10n_pl_ksef_partner_nip']['action']['res_id'], self.buyer_pl.id)
        self.assertIn('NIP', move.l10n_pl_ksef_problems_html)

    def test_line_without_tax_is_never_silently_dropped(self):
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23'), (50, 1, self.env['account.tax'])])
        alerts = move._l10n_pl_ksef_check_invoices()
        self.assertEqual(alerts['l10n_pl_ksef_line_without_tax']['level'], 'danger')
        invoice = move._l10n_pl_ksef_get_fa3_invoices()[move]
        self.assertEqual(len(invoice.body.lines), 2, 'the line stays on the invoice')
        codes = {p.code for p in fa3.validate_invoice(invoice)}
        self.assertIn('line.rate-missing', codes)

    def test_tax_without_rate_code(self):
        tax = self.tax['vs_kraj_0'].copy({'name': 'Moja stawka 0%', 'l10n_pl_ksef_rate_code': False})
        move = self.post_invoice(self.buyer_pl, [(100, 1, tax)])
        alerts = move._l10n_pl_ksef_check_invoices()
        self.assertEqual(alerts['l10n_pl_ksef_tax_rate_code']['action']['res_id'], tax.id)

    def test_wdt_without_eu_vat_number(self):
        self.buyer_eu.vat = False
        move = self.post_invoice(self.buyer_eu, [(100, 1, 'vs_unia')])
        self.assertIn('l10n_pl_ksef_partner_eu_vat', move._l10n_pl_ksef_check_invoices())

    def test_credit_note_without_original(self):
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')], move_type='out_refund')
        self.assertEqual(move._l10n_pl_ksef_check_invoices()['l10n_pl_ksef_credit_note_origin']['level'], 'danger')
        invoice = move._l10n_pl_ksef_get_fa3_invoices()[move]
        self.assertIn('correction.missing-original', {p.code for p in fa3.validate_invoice(invoice)})

    def test_cash_rounding_modifying_tax_is_refused(self):
        rounding = self.env['account.cash.rounding'].create({
            'name': 'tax', 'rounding': 0.05, 'strategy': 'biggest_tax', 'rounding_method': 'HALF-UP'})
        move = self.post_invoice(self.consumer, [(10.01, 1, 'vs_kraj_23')], invoice_cash_rounding_id=rounding.id)
        self.assertIn('l10n_pl_ksef_cash_rounding', move._l10n_pl_ksef_check_invoices())

    def test_alerts_reach_the_send_wizard_without_blocking_email(self):
        self.buyer_pl.with_context(no_vat_validation=True).vat = 'PL6808208875'
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')])
        wizard = self.env['account.move.send.wizard'].create({'move_id': move.id})
        self.assertEqual(wizard.alerts['l10n_pl_ksef_partner_nip']['level'], 'warning')
        moves_data = {move: {'sending_methods': {'email'}, 'extra_edis': {'l10n_pl_ksef'}, 'invoice_edi_format': None}}
        alerts = self.env['account.move.send']._get_alerts(move, moves_data)
        self.assertEqual(alerts['l10n_pl_ksef_partner_nip']['level'], 'danger', 'blocking when sending to KSeF')

    def test_download_fa3_creates_a_valid_attachment(self):
        move = self.post_invoice(self.buyer_pl, [(100, 3, 'vs_kraj_23')])
        action = move.action_l10n_pl_ksef_download_fa3()
        attachment = self.env['ir.attachment'].search([('res_model', '=', 'account.move'), ('res_id', '=', move.id)])
        self.assertEqual(action['url'], f'/web/content/{attachment.id}?download=true')
        self.assertEqual(attachment.name, move._l10n_pl_ksef_fa3_filename())
        xml = base64.b64decode(attachment.datas)
        self.assertEqual(fa3.validate(xml), [])
        self.assertEqual(fa3.parse(xml).body.number, move.name)

    def test_download_fa3_refuses_and_explains(self):
        self.buyer_pl.with_context(no_vat_validation=True).vat = 'PL6808208875'
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')])
        with self.assertRaisesRegex(UserError, 'NIP'):
            move.action_l10n_pl_ksef_download_fa3()
        draft = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')], post=False)
        with self.assertRaises(UserError):
            draft.action_l10n_pl_ksef_download_fa3()

    def test_problems_are_shown_for_fa3_rules_the_checks_do_not_cover(self):
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')], post=False)
        unit = self.env['res.partner'].create({'name': 'Jednostka', 'vat': 'PL1234563218', 'country_id': self.pl.id})
        move.l10n_pl_ksef_third_party_ids = [Command.create({'partner_id': unit.id, 'role': '4', 'share': 150})]
        move.action_post()
        self.assertIn('Podmiot3', move.l10n_pl_ksef_problems_html)   # Udzial above 100 % fails the schema

    def _count_mapping_queries(self, moves):
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        invoices = moves._l10n_pl_ksef_get_fa3_invoices()
        self.assertEqual(len(invoices), len(moves))
        return self.env.cr.sql_log_count - before

    def test_mapping_queries_do_not_grow_with_invoices_or_lines(self):
        def batch(count, lines):
            return self.env['account.move'].concat(*[
                self.post_invoice(self.buyer_pl, [(10 + i, 1, ('vs_kraj_23', 'vs_kraj_8', 'vs_kraj_5')[i % 3])
                                                  for i in range(lines)]) for _ in range(count)])
        small_moves = batch(2, 2)
        self._count_mapping_queries(small_moves)   # warms the registry caches (access rules ...)
        small = self._count_mapping_queries(small_moves)
        large = self._count_mapping_queries(batch(12, 10))
        self.assertEqual(large, small, 'SQL queries of the mapping grow with invoices or lines')
        self.assertLessEqual(large, 30)

    def test_alerts_and_problems_speak_polish(self):
        self.env['res.lang']._activate_lang('pl_PL')
        self.env['ir.module.module']._load_module_terms(['l10n_pl_ksef'], ['pl_PL'], overwrite=True)
        move = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23'), (50, 1, self.env['account.tax'])])
        alerts = move.with_context(lang='pl_PL')._l10n_pl_ksef_check_invoices()
        self.assertEqual(str(alerts['l10n_pl_ksef_line_without_tax']['message']),
                         'Każda pozycja faktury musi mieć podatek VAT: pozycji bez podatku nie można wykazać w KSeF.')
        unit = self.env['res.partner'].create({'name': 'Jednostka', 'vat': 'PL1234563218', 'country_id': self.pl.id})
        other = self.post_invoice(self.buyer_pl, [(100, 1, 'vs_kraj_23')], post=False)
        other.l10n_pl_ksef_third_party_ids = [Command.create({'partner_id': unit.id, 'role': '4', 'share': 150})]
        other.action_post()
        self.assertIn('Schemat FA(3) odrzuca dokument', other.with_context(lang='pl_PL').l10n_pl_ksef_problems_html)

    def test_schema_directory_parameter_and_clear_error_when_unavailable(self):
        from unittest.mock import patch
        moves = self.env['account.move']
        default = str(fa3.default_schema_dir())
        self.env['ir.config_parameter'].set_param('l10n_pl_ksef.schema_dir', default)
        self.assertEqual(moves._l10n_pl_ksef_schema_dir(), default)
        self.env['ir.config_parameter'].set_param('l10n_pl_ksef.schema_dir', False)
        with patch.object(fa3, 'default_schema_dir', side_effect=fa3.SchemaNotFound('none here')), \
                patch.object(fa3.schema, 'is_complete', return_value=False), \
                patch.object(fa3.schema, 'download_schemas', side_effect=fa3.SchemaNotFound('offline')) as download:
            with self.assertRaisesRegex(UserError, 'l10n_pl_ksef.schema_dir'):
                moves._l10n_pl_ksef_schema_dir()
        self.assertTrue(download.call_args.args[0].endswith('l10n_pl_ksef/fa3'), 'cached in the data directory')
