import logging
import os

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..ksef import fa3, identifiers
from .fa3_messages import PROBLEM_TITLES

_logger = logging.getLogger(__name__)

SCHEMA_DIR_PARAMETER = 'l10n_pl_ksef.schema_dir'
CORRECTION_TYPES = [
    ('1', 'In the period of the corrected invoice'),
    ('2', 'In the period of the correction'),
    ('3', 'On another date'),
]


class AccountMove(models.Model):
    _inherit = 'account.move'

    l10n_pl_ksef_number = fields.Char(
        string="KSeF number", copy=False, readonly=True, index='btree_not_null', tracking=True,
        help="Number KSeF gave the invoice when it accepted it.",
    )
    l10n_pl_ksef_correction_reason = fields.Char(
        string="Correction reason", copy=False,
        help="Why the invoice is corrected (FA(3) PrzyczynaKorekty); by default the reason given when the "
             "credit note was created.",
    )
    l10n_pl_ksef_correction_type = fields.Selection(
        selection=CORRECTION_TYPES, string="Correction effect", copy=False,
        help="When the correction takes effect for VAT (FA(3) TypKorekty).",
    )
    l10n_pl_ksef_third_party_ids = fields.One2many(
        'l10n_pl_ksef.third_party', 'move_id', string="Third parties (Podmiot3)", copy=True,
    )
    l10n_pl_ksef_applicable = fields.Boolean(string="KSeF applies", compute='_compute_l10n_pl_ksef_applicable')
    l10n_pl_ksef_problems_html = fields.Html(
        string="KSeF problems", compute='_compute_l10n_pl_ksef_problems_html', sanitize=False,
        help="What must be fixed before this invoice can be sent to KSeF.",
    )

    _sql_constraints = [
        ('l10n_pl_ksef_number_unique', 'unique(company_id, l10n_pl_ksef_number)',
         "This KSeF number is already used by another invoice of the company."),
    ]

    @api.depends('move_type', 'company_id.account_fiscal_country_id')
    def _compute_l10n_pl_ksef_applicable(self):
        for move in self:
            move.l10n_pl_ksef_applicable = (move.move_type in ('out_invoice', 'out_refund')
                                            and move.company_id.account_fiscal_country_id.code == 'PL')

    @api.depends_context('lang')
    @api.depends('state', 'invoice_line_ids', 'partner_id', 'l10n_pl_ksef_third_party_ids')
    def _compute_l10n_pl_ksef_problems_html(self):
        for move in self:
            move.l10n_pl_ksef_problems_html = False
            if move.state == 'posted' and move.l10n_pl_ksef_applicable:
                messages = move._l10n_pl_ksef_problem_messages()
                if messages:
                    move.l10n_pl_ksef_problems_html = Markup('<ul>%s</ul>') % Markup().join(
                        Markup('<li>%s</li>') % message for message in messages)

    # ------------------------------------------------------------------------------------------------
    # Checks as data
    # ------------------------------------------------------------------------------------------------

    def _l10n_pl_ksef_check_invoices(self):
        """Problems that stop these invoices from becoming correct FA(3), as alerts for account.move.send:
        {key: {'level', 'message', 'action_text', 'action'}}. Empty when everything is fine."""
        moves = self.filtered('l10n_pl_ksef_applicable')
        lines = moves.invoice_line_ids.filtered(lambda l: l.display_type == 'product')
        partners = moves.commercial_partner_id
        companies = moves.company_id
        used_taxes = lines.tax_ids
        zw_lines = lines.filtered(lambda l: 'zw' in l.tax_ids.mapped('l10n_pl_ksef_rate_code'))
        refunds = moves.filtered(lambda m: m.move_type == 'out_refund')
        checks = {
            'company_nip': {
                'records': companies.filtered(lambda c: identifiers.check_nip(identifiers.normalize_nip(c.vat))),
                'message': _("The company needs a valid Polish NIP (tax ID) to issue KSeF invoices."),
                'action_text': _("View company"),
            },
            'company_address': {
                'records': companies.filtered(lambda c: not (c.street or c.city) or not c.country_id),
                'message': _("The company address (street, city, country) is incomplete."),
                'action_text': _("View company"),
            },
            'partner_nip': {
                'records': partners.filtered(lambda p: p.vat and self._l10n_pl_ksef_is_polish(p)
                                             and identifiers.check_nip(identifiers.normalize_nip(p.vat))),
                'message': _("Some Polish customers have a NIP with a wrong check digit."),
                'action_text': _("View customers"),
            },
            'partner_country': {
                'records': partners.filtered(lambda p: p.vat and not p.country_id),
                'message': _("Customers with a tax ID need a country, to tell a Polish NIP from a foreign number."),
                'action_text': _("View customers"),
            },
            'partner_eu_vat': {
                'records': lines.filtered(lambda l: '0 WDT' in l.tax_ids.mapped('l10n_pl_ksef_rate_code')
                                          and not (l.move_id.commercial_partner_id.vat
                                                   and l.move_id.commercial_partner_id.country_id.code in fa3.EU_COUNTRIES_ISO)
                                          ).move_id.commercial_partner_id,
                'message': _("An intra-Community supply (0% WDT) needs the buyer's EU VAT number and EU country."),
                'action_text': _("View customers"),
            },
            'line_without_tax': {
                'records': lines.filtered(lambda l: not l.tax_ids).move_id,
                'message': _("Every invoice line needs a VAT tax: lines without one cannot be reported in KSeF."),
                'action_text': _("View invoices"),
            },
            'line_multiple_vat': {
                'records': lines.filtered(lambda l: len(l.tax_ids.filtered('l10n_pl_ksef_rate_code')) > 1).move_id,
                'message': _("A line has more than one VAT tax with a KSeF rate: FA(3) allows one rate per line."),
                'action_text': _("View invoices"),
            },
            'tax_rate_code': {
                'records': used_taxes.filtered(lambda t: not t.l10n_pl_ksef_rate_code and t.amount_type != 'group'),
                'message': _("Some taxes have no KSeF rate (P_12): set it on the tax."),
                'action_text': _("View taxes"),
            },
            'exemption_basis': {
                'records': zw_lines.move_id.filtered(lambda m: not m._l10n_pl_ksef_exemption_basis()[1]),
                'message': _("Exempt supplies (zw) need the legal basis of the exemption: set it on the exempt tax "
                             "or on the fiscal position."),
                'action_text': _("View invoices"),
            },
            'credit_note_origin': {
                'records': refunds.filtered(lambda m: not m.reversed_entry_id),
                'message': _("A credit note must refer to the invoice it corrects: create it with 'Credit Note' "
                             "from that invoice."),
                'action_text': _("View credit notes"),
            },
            'credit_note_of_unsent': {
                'records': refunds.filtered(lambda m: m.reversed_entry_id and not m.reversed_entry_id.l10n_pl_ksef_number),
                'message': _("The corrected invoice has no KSeF number: the correction will state that the original "
                             "was issued outside KSeF. If it belongs in KSeF, send it first."),
                'action_text': _("View corrected invoices"),
                'level': 'warning',
                'show': lambda records: records.reversed_entry_id,
            },
            'cash_rounding': {
                'records': moves.filtered(lambda m: m.invoice_cash_rounding_id.strategy == 'biggest_tax'),
                'message': _("Cash rounding that changes the VAT amount ('Modify tax amount') distorts the VAT on "
                             "KSeF invoices: use the strategy 'Add a rounding line'."),
                'action_text': _("View invoices"),
            },
        }
        return {
            f'l10n_pl_ksef_{key}': {
                'level': check.get('level', 'danger'),
                'message': check['message'],
                'action_text': check['action_text'],
                'action': check.get('show', lambda r: r)(check['records'])._get_records_action(name=check['action_text']),
            }
            for key, check in checks.items() if check['records']
        }

    @api.model
    def _l10n_pl_ksef_is_polish(self, partner):
        return partner.country_id.code == 'PL' or (partner.vat or '').upper().startswith('PL')

    # ------------------------------------------------------------------------------------------------
    # FA(3) validation
    # ------------------------------------------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_schema_dir(self):
        """The FA(3) XSD directory: the system parameter l10n_pl_ksef.schema_dir, $KSEF_SCHEMA_DIR or a
        source checkout's copy; otherwise the copy cached in Odoo's data directory, downloaded from the
        Ministry's site the first time it is needed."""
        configured = self.env['ir.config_parameter'].sudo().get_param(SCHEMA_DIR_PARAMETER)
        if configured:
            return configured
        try:
            return str(fa3.default_schema_dir())
        except fa3.SchemaNotFound:
            pass
        cache = os.path.join(config['data_dir'], 'l10n_pl_ksef', 'fa3')
        if not fa3.schema.is_complete(cache):
            try:
                fa3.schema.download_schemas(cache)
            except fa3.SchemaNotFound as error:
                raise UserError(_(
                    "The FA(3) schema could not be downloaded (%(error)s). Put the schema files in a folder on "
                    "the server and enter its path in the system parameter %(parameter)s.",
                    error=error, parameter=SCHEMA_DIR_PARAMETER)) from None
            _logger.info("FA(3) schema downloaded to %s", cache)
        return cache

    def _l10n_pl_ksef_fa3_problems(self, invoice):
        """Problems (ksef.fa3.Problem) of the FA(3) data of this invoice: XSD of the built XML + semantic."""
        return fa3.validate_invoice(invoice, self._l10n_pl_ksef_schema_dir())

    @api.model
    def _l10n_pl_ksef_format_problem(self, problem):
        title = PROBLEM_TITLES[problem.code]._translate(self.env.lang) if problem.code in PROBLEM_TITLES else problem.code
        return Markup('%s <small class="text-muted">(%s: %s)</small>') % (title, problem.path, problem.message)

    def _l10n_pl_ksef_problem_messages(self):
        """What to fix, in the user's language: the blocking checks first; when they pass, the FA(3) problems."""
        self.ensure_one()
        alerts = self._l10n_pl_ksef_check_invoices()
        if alerts:
            return [alert['message'] for alert in alerts.values()]
        invoice = self._l10n_pl_ksef_get_fa3_invoices()[self]
        try:
            problems = self._l10n_pl_ksef_fa3_problems(invoice)
        except UserError as error:   # no schema available: say so instead of breaking the form
            return [error.args[0]]
        return [self._l10n_pl_ksef_format_problem(p) for p in problems]

    # ------------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------------

    def action_l10n_pl_ksef_download_fa3(self):
        """Build and validate the FA(3) XML, keep it as an attachment and download it."""
        self.ensure_one()
        if self.state != 'posted' or not self.l10n_pl_ksef_applicable:
            raise UserError(_("Only posted customer invoices and credit notes of Polish companies have an FA(3) form."))
        alerts = self._l10n_pl_ksef_check_invoices()
        blocking = [a['message'] for a in alerts.values() if a['level'] == 'danger']
        if blocking:
            raise UserError(_("The FA(3) XML cannot be produced yet:\n%s", '\n'.join(f'- {m}' for m in blocking)))
        invoice = self._l10n_pl_ksef_get_fa3_invoices()[self]
        errors = fa3.errors(self._l10n_pl_ksef_fa3_problems(invoice))
        if errors:
            raise UserError(_("The FA(3) XML is not valid:\n%s", '\n'.join(
                f'- {self._l10n_pl_ksef_format_problem(p).striptags()}' for p in errors)))
        attachment = self.env['ir.attachment'].create({
            'name': self._l10n_pl_ksef_fa3_filename(),
            'raw': fa3.build(invoice),
            'mimetype': 'application/xml',
            'res_model': self._name,
            'res_id': self.id,
        })
        return {
            'type': 'ir.actions.act_url',
            'url': f'/web/content/{attachment.id}?download=true',
            'target': 'download',
        }

    def _l10n_pl_ksef_fa3_filename(self):
        return 'FA3_%s.xml' % (self.name or '').replace('/', '_')
