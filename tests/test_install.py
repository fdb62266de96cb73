"""The addon installs on Odoo 18 with l10n_pl, and its FA(3) engine runs with Odoo's own libraries."""
from odoo.tests import TransactionCase, tagged

from odoo.addons.l10n_pl_ksef.ksef import fa3
from odoo.addons.l10n_pl_ksef.ksef.fa3 import samples


@tagged('post_install', '-at_install')
class TestInstall(TransactionCase):

    def test_module_and_dependencies_installed(self):
        modules = self.env['ir.module.module'].search([('name', 'in', ('l10n_pl_ksef', 'l10n_pl', 'certificate'))])
        self.assertEqual(sorted(modules.mapped('name')), ['certificate', 'l10n_pl', 'l10n_pl_ksef'])
        self.assertEqual(set(modules.mapped('state')), {'installed'})
        self.assertEqual(self.env.ref('base.module_l10n_pl_ksef').license, 'LGPL-3')

    def test_polish_chart_is_available(self):
        template = self.env['account.chart.template']._get_chart_template_mapping().get('pl')
        self.assertTrue(template, 'the Polish chart of accounts (l10n_pl) must be selectable')

    def test_fa3_engine_inside_odoo(self):
        """Build, XSD-validate and parse every sample with the libraries of this Odoo (lxml, cryptography)."""
        scenarios = samples.scenarios()
        self.assertGreaterEqual(len(scenarios), 30)
        for name, invoice in scenarios.items():
            with self.subTest(scenario=name):
                xml = fa3.build(invoice)
                self.assertEqual(fa3.validate(xml), [])
                self.assertEqual(fa3.parse(xml), invoice)
