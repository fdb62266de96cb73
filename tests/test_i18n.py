"""Polish users first: every term of the module, as Odoo itself exports it, has a Polish translation."""
import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools import file_path
from odoo.tools.translate import TranslationModuleReader


@tagged('post_install', '-at_install')
class TestPolishTranslation(TransactionCase):

    def test_pl_po_translates_every_term(self):
        terms = {source for module, _type, _name, _res_id, source, _value, _comments
                 in TranslationModuleReader(self.env.cr, modules=['l10n_pl_ksef']) if module == 'l10n_pl_ksef' and source}
        self.assertGreater(len(terms), 100)
        po = polib.pofile(file_path('l10n_pl_ksef/i18n/pl.po'))
        translated = {entry.msgid for entry in po if entry.msgstr.strip() and not entry.obsolete}
        self.assertEqual(sorted(terms - translated), [], 'terms without a Polish translation in i18n/pl.po')

    def test_placeholders_survive_translation(self):
        import re
        po = polib.pofile(file_path('l10n_pl_ksef/i18n/pl.po'))
        for entry in po:
            placeholders = sorted(re.findall(r'%\(\w+\)s|%s', entry.msgid))
            self.assertEqual(sorted(re.findall(r'%\(\w+\)s|%s', entry.msgstr)), placeholders, entry.msgid)
