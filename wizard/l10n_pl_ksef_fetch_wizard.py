"""'Fetch from KSeF': a period (fetched in windows of at most 3 months, the rest unattended) or one invoice by its
KSeF number (a single download, for this explicit request only)."""
import datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.l10n_pl_ksef_sync import SUBJECT_TYPES, _default_backfill_start


class L10nPlKsefFetchWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.fetch.wizard'
    _description = "Fetch invoices from KSeF"
    _check_company_auto = True

    company_id = fields.Many2one('res.company', required=True, default=lambda self: self.env.company)
    mode = fields.Selection([('period', 'Invoices of a period'), ('one', 'Download one invoice')],
                            required=True, default='period')
    date_from = fields.Date(string="From", default=lambda self: _default_backfill_start())
    date_to = fields.Date(string="To", default=fields.Date.context_today)
    subject_type = fields.Selection(SUBJECT_TYPES, string="Received as", default='Subject2')
    ksef_number = fields.Char(string="KSeF number")

    @api.constrains('date_from', 'date_to')
    def _check_l10n_pl_ksef_period(self):
        for wizard in self.filtered(lambda w: w.mode == 'period'):
            if not wizard.date_from or not wizard.date_to or wizard.date_from > wizard.date_to:
                raise UserError(_("Choose a period whose start is not after its end."))

    def action_l10n_pl_ksef_fetch(self):
        self.ensure_one()
        self.env['l10n_pl_ksef.sync']._l10n_pl_ksef_check_fetch_access()
        if self.mode == 'one':
            return self._l10n_pl_ksef_fetch_one()
        return self._l10n_pl_ksef_fetch_period()

    def _l10n_pl_ksef_fetch_period(self):
        if self.date_from > fields.Date.context_today(self):
            raise UserError(_("The period starts in the future: KSeF holds nothing there yet."))
        company = self.company_id.sudo()
        if not company._l10n_pl_ksef_is_configured():
            raise UserError(_("Connect %s to KSeF first (Settings, KSeF).", company.name))
        company._l10n_pl_ksef_ensure_syncs()
        syncs = self.env['l10n_pl_ksef.sync'].sudo().with_context(active_test=False)
        sync = syncs.search([('company_id', '=', company.id), ('subject_type', '=', self.subject_type)]) \
            or syncs.create({'company_id': company.id, 'subject_type': self.subject_type, 'active': False})
        date_to = min(self.date_to, fields.Date.context_today(self) + datetime.timedelta(days=1))
        sync._l10n_pl_ksef_request_period(self.date_from, date_to)
        return syncs._l10n_pl_ksef_fetch_now(company, syncs=sync)

    def _l10n_pl_ksef_fetch_one(self):
        document = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_download_one(self.company_id, self.ksef_number)
        return {'type': 'ir.actions.act_window', 'res_model': 'l10n_pl_ksef.document', 'res_id': document.id,
                'view_mode': 'form', 'views': [(False, 'form')], 'target': 'current'}
