"""Receiving settings of a company: as whom it receives invoices from KSeF besides as buyer, and from when the first
sync starts. The sync records follow these settings (created when the company is connected to KSeF)."""
from odoo import api, fields, models

from .l10n_pl_ksef_sync import _default_backfill_start
from .res_company_ksef import LOGIN_FIELDS

RECEIVE_FIELDS = {'l10n_pl_ksef_receive_as_third_party', 'l10n_pl_ksef_receive_as_authorized',
                  'l10n_pl_ksef_receive_from'}


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_receive_as_third_party = fields.Boolean(
        string="Receive as third party",
        help="Also receive the invoices that name the company as a third party (Podmiot3: recipient, payer, "
             "JST unit, VAT-group member ...), besides those it buys.")
    l10n_pl_ksef_receive_as_authorized = fields.Boolean(
        string="Receive as authorised subject",
        help="Also receive the invoices that name the company as authorised subject (PodmiotUpowazniony: "
             "enforcement authority, bailiff, tax representative).")
    l10n_pl_ksef_receive_from = fields.Date(
        string="Receive invoices stored from", default=lambda self: _default_backfill_start(),
        help="The first sync fetches the invoices KSeF stored since this day (in windows of at most 3 months, "
             "unattended). Later periods: 'Fetch from KSeF'.")

    def write(self, vals):
        result = super().write(vals)
        if (LOGIN_FIELDS | RECEIVE_FIELDS) & set(vals):
            self._l10n_pl_ksef_ensure_syncs()
        return result

    def _l10n_pl_ksef_ensure_syncs(self):
        """A sync as buyer for every company connected to KSeF, and as third party / authorised subject as its
        settings say; a sync that has not started yet takes the chosen start date."""
        syncs = self.env['l10n_pl_ksef.sync'].sudo().with_context(active_test=False)
        for company in self.filtered(lambda c: c._l10n_pl_ksef_is_configured()):
            existing = syncs.search([('company_id', '=', company.id)])
            wanted = {'Subject2': None, 'Subject3': company.l10n_pl_ksef_receive_as_third_party,
                      'SubjectAuthorized': company.l10n_pl_ksef_receive_as_authorized}
            for subject_type, enabled in wanted.items():
                sync = existing.filtered(lambda s: s.subject_type == subject_type)
                if not sync and enabled is not False:
                    syncs.create({'company_id': company.id, 'subject_type': subject_type,
                                  'backfill_start': company.l10n_pl_ksef_receive_from})
                elif sync and enabled is not None and sync.active != enabled:
                    sync.active = enabled
            waiting = existing.filtered(lambda s: not s.high_water_mark
                                        and s.backfill_start != company.l10n_pl_ksef_receive_from)
            waiting.backfill_start = company.l10n_pl_ksef_receive_from

    def action_l10n_pl_ksef_fetch_now(self):
        self.ensure_one()
        return self.env['l10n_pl_ksef.sync']._l10n_pl_ksef_fetch_now(self)


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_receive_as_third_party = fields.Boolean(
        related='company_id.l10n_pl_ksef_receive_as_third_party', readonly=False)
    l10n_pl_ksef_receive_as_authorized = fields.Boolean(
        related='company_id.l10n_pl_ksef_receive_as_authorized', readonly=False)
    l10n_pl_ksef_receive_from = fields.Date(related='company_id.l10n_pl_ksef_receive_from', readonly=False)

    def action_l10n_pl_ksef_open_syncs(self):
        return self.env['ir.actions.act_window']._for_xml_id('l10n_pl_ksef.action_l10n_pl_ksef_sync')


class AccountJournal(models.Model):
    _inherit = 'account.journal'

    def action_l10n_pl_ksef_fetch_now(self):
        """'Fetch from KSeF now' on a purchase journal: the sync of the journal's company, at once."""
        self.ensure_one()
        return self.env['l10n_pl_ksef.sync']._l10n_pl_ksef_fetch_now(self.company_id)


class AccountMove(models.Model):
    _inherit = 'account.move'

    @api.model
    def action_l10n_pl_ksef_fetch_now(self):
        """'Fetch from KSeF now' from the vendor bills list: the sync of the current company, at once."""
        return self.env['l10n_pl_ksef.sync']._l10n_pl_ksef_fetch_now(self.env.company)
