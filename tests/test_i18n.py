"""Polish users first: every term of the module, as Odoo itself exports it, has a Polish translation, and the
messages reach users in Polish (a `_()` needs an env in reach to know the language)."""
import ast
import pathlib

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

    def test_no_message_is_built_where_the_language_is_unknown(self):
        """Odoo's `_()` finds the language in the caller's `self.env` (or `env`): a module-level function has
        neither, so its message would stay English (and Odoo warns). Messages are built in methods."""
        root = pathlib.Path(file_path('l10n_pl_ksef'))
        found = []
        for path in sorted(root.glob('models/*.py')) + sorted(root.glob('wizard/*.py')) + sorted(root.glob('controllers/*.py')):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.FunctionDef) and 'env' not in [a.arg for a in node.args.args] and any(
                        isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == '_'
                        for sub in ast.walk(node)):
                    found.append(f'{path.name}: {node.name}')
        self.assertEqual(found, [])

    def test_a_received_file_problem_is_told_in_polish(self):
        self.env['res.lang']._activate_lang('pl_PL')
        self.env['ir.module.module']._load_module_terms(['l10n_pl_ksef'], ['pl_PL'], overwrite=True)
        Document = self.env['l10n_pl_ksef.document'].with_context(lang='pl_PL')
        values = Document._l10n_pl_ksef_inbound_values(self.env.company, 'Subject2', {'ksefNumber': 'X'}, None)
        po = polib.pofile(file_path('l10n_pl_ksef/i18n/pl.po'))
        polish = next(entry.msgstr for entry in po if entry.msgid.startswith("KSeF's package held no file"))
        self.assertEqual((values['state'], values['message']), ('error', polish))
