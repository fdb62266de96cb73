"""Switching the company's KSeF mode: to offline24 by choice, or to an announced unavailability or failure (with the
announcement's reference and period), and back online — which gives waiting offline invoices their deadlines."""
from odoo import _, fields, models
from odoo.exceptions import UserError

from ..ksef import offline
from ..models.res_company_ksef_offline import KSEF_MODES


class L10nPlKsefModeWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.mode.wizard'
    _description = "KSeF mode"

    company_id = fields.Many2one('res.company', required=True, readonly=True, default=lambda self: self.env.company)
    current_mode = fields.Selection(related='company_id.l10n_pl_ksef_mode', string="Current mode")
    mode = fields.Selection(KSEF_MODES, string="New mode", required=True, default=offline.ONLINE)
    reference = fields.Char(string="Announcement", help="Reference or link of the Ministry's announcement.")
    start = fields.Datetime(string="Since", default=fields.Datetime.now)
    end = fields.Datetime(string="Ended at", help="When the announced unavailability or failure ended: the deadlines "
                                                 "of the invoices issued meanwhile count from it.")

    def action_apply(self):
        self.ensure_one()
        company = self.company_id.sudo()
        if self.mode == company.l10n_pl_ksef_mode:
            raise UserError(_("The company is already in this KSeF mode."))
        if self.mode in (offline.UNAVAILABLE, offline.FAILURE, offline.TOTAL_FAILURE) and not self.reference:
            raise UserError(_("Enter the reference of the Ministry's announcement: this mode is only lawful when it "
                              "was announced."))
        if company.l10n_pl_ksef_mode in (offline.UNAVAILABLE, offline.FAILURE) and self.mode == offline.ONLINE:
            if not self.end:
                raise UserError(_("Enter when the announced unavailability or failure ended: the deadlines of the "
                                  "invoices issued meanwhile count from it."))
            waiting = company._l10n_pl_ksef_mode_ended(self.end)
            self.env['l10n_pl_ksef.document']._l10n_pl_ksef_plan_next_runs()
            return self._done(_("Back online. %s invoices issued offline have their deadline now.", len(waiting)))
        company.write({'l10n_pl_ksef_mode': self.mode, 'l10n_pl_ksef_mode_reference': self.reference,
                       'l10n_pl_ksef_mode_start': self.start, 'l10n_pl_ksef_mode_end': self.end})
        return self._done(_("KSeF mode: %s.", dict(KSEF_MODES)[self.mode]))

    def _done(self, message):
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'type': 'success', 'title': _("KSeF mode"), 'message': message,
            'next': {'type': 'ir.actions.act_window_close'}}}
