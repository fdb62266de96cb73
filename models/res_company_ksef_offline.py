"""The company's KSeF mode (online, or one of the offline modes the law defines) and what it means for the invoices
issued meanwhile: sent later with offlineMode, by a deadline on the Polish business-day calendar."""
from odoo import _, fields, models

from ..ksef import offline

# online --(taxpayer's choice)--> offline24 --(back)--> online
# online --(Ministry announces unavailability | failure | total failure, with its reference)--> that mode
#        --(the announced end)--> online: pending invoices get their deadline from the end (7 business days after a
#                                  failure, the next business day after an unavailability)
KSEF_MODES = [
    (offline.ONLINE, 'Online'),
    (offline.OFFLINE24, 'Offline24 (our choice: send by the next business day)'),
    (offline.UNAVAILABLE, 'KSeF unavailable (announced: send by the next business day after it ends)'),
    (offline.FAILURE, 'KSeF failure / awaria (announced: send within 7 business days after it ends)'),
    (offline.TOTAL_FAILURE, 'Total failure (announced in the media: no KSeF, no QR codes)'),
]


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_mode = fields.Selection(KSEF_MODES, string="KSeF mode", default=offline.ONLINE, required=True)
    l10n_pl_ksef_mode_reference = fields.Char(string="Announcement", help="The Ministry's announcement of the "
                                              "unavailability or failure (BIP, KSeF status page), for the record.")
    l10n_pl_ksef_mode_start = fields.Datetime(string="Mode since")
    l10n_pl_ksef_mode_end = fields.Datetime(string="Announced end", help="When the announced unavailability or "
                                            "failure ended (or is announced to end).")

    def _l10n_pl_ksef_offline_values(self, invoice_date):
        """What an invoice issued now in the company's mode carries: offline flag, mode and deadline."""
        self.ensure_one()
        mode = self.l10n_pl_ksef_mode
        if mode == offline.ONLINE:
            return {'offline': False, 'offline_mode': False, 'deadline': invoice_date}
        end = self.l10n_pl_ksef_mode_end and fields.Datetime.context_timestamp(self, self.l10n_pl_ksef_mode_end).date()
        due = offline.deadline(mode, invoice_date, end) if mode in (offline.OFFLINE24, offline.TOTAL_FAILURE) or end \
            else False   # unavailability or failure still going on: the deadline counts from its end
        return {'offline': True, 'offline_mode': mode, 'deadline': due or False}

    def _l10n_pl_ksef_mode_ended(self, end):
        """Back online after an announced unavailability or failure ending at ``end``: the waiting offline invoices
        get their deadlines (a failure also extends those of earlier offline invoices)."""
        self.ensure_one()
        mode = self.l10n_pl_ksef_mode
        end_day = fields.Datetime.context_timestamp(self, end).date()
        waiting = self.env['l10n_pl_ksef.document'].search([
            ('company_id', '=', self.id), ('direction', '=', 'out'), ('offline', '=', True),
            ('state', 'in', ('to_send', 'sending', 'sent', 'rejected'))])
        for document in waiting:
            if document.offline_mode == mode:
                document.deadline = offline.deadline(mode, document.move_id.invoice_date or end_day, end_day)
            elif mode == offline.FAILURE:
                document.deadline = offline.extended_by_failure(document.deadline, end_day)
        self.write({'l10n_pl_ksef_mode': offline.ONLINE, 'l10n_pl_ksef_mode_end': end})
        return waiting

    def _l10n_pl_ksef_needs_offline_certificate(self):
        self.ensure_one()
        return self.l10n_pl_ksef_mode in (offline.OFFLINE24, offline.UNAVAILABLE, offline.FAILURE) \
            and not self.sudo().l10n_pl_ksef_offline_certificate_id

    def _l10n_pl_ksef_offline_certificate_problem(self):
        return _("Invoices issued offline carry KOD II, signed with the company's KSeF Offline certificate, and the "
                 "company has none: enroll one in Settings, KSeF certificates (type Offline), or switch back to "
                 "the online mode.")


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_mode = fields.Selection(related='company_id.l10n_pl_ksef_mode')
