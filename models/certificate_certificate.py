"""KSeF certificates (Authentication, Offline) kept in Odoo's certificates, and the daily warning before they
expire: a KSeF certificate cannot be renewed, a new one must be enrolled in time."""
from odoo import _, api, fields, models

KSEF_CERTIFICATE_TYPES = [('authentication', 'Authentication'), ('offline', 'Offline')]
KSEF_TYPE_NAMES = {'authentication': 'Authentication', 'offline': 'Offline'}   # the API's certificateType
# days before date_end at which the administrator is warned; 0 = expired. Kept in order of urgency.
EXPIRY_WARNINGS = [('30', 30), ('7', 7), ('expired', 0)]
EXPIRY_WARNING_SELECTION = [('30', '30 days before expiry'), ('7', '7 days before expiry'), ('expired', 'Expired')]


class CertificateCertificate(models.Model):
    _inherit = 'certificate.certificate'

    l10n_pl_ksef_type = fields.Selection(
        KSEF_CERTIFICATE_TYPES, string="KSeF certificate type", copy=False,
        help="Set on the KSeF certificates Odoo enrolled: Authentication logs in to KSeF, Offline signs the "
             "KOD II QR codes of offline invoices.")
    l10n_pl_ksef_serial = fields.Char(string="KSeF serial number", copy=False, index='btree_not_null')
    l10n_pl_ksef_expiry_warning = fields.Selection(
        EXPIRY_WARNING_SELECTION, string="KSeF expiry warning given", copy=False,
        help="The last expiry warning given to the administrator, so that each one is given once.")

    @api.model
    def _l10n_pl_ksef_cron_warn_expiry(self, today=None):
        """Daily: ask the company's administrator to enroll a new KSeF certificate 30 and 7 days before one held
        in Odoo expires, and once it has expired. ``today`` (a date) lets tests move the calendar."""
        today = today or fields.Date.context_today(self)
        certificates = self.sudo().search([('l10n_pl_ksef_type', '!=', False), ('date_end', '!=', False)])
        for certificate in certificates:
            certificate._l10n_pl_ksef_warn_expiry(today)

    def _l10n_pl_ksef_warn_expiry(self, today):
        self.ensure_one()
        due = self._l10n_pl_ksef_expiry_warning_due(today)
        if not due:
            return
        expiry = self.date_end.date()
        if due == 'expired':
            summary = _("KSeF certificate %(name)s expired on %(date)s", name=self.name, date=expiry)
        elif due == '7':
            summary = _("KSeF certificate %(name)s expires in a week, on %(date)s", name=self.name, date=expiry)
        else:
            summary = _("KSeF certificate %(name)s expires on %(date)s", name=self.name, date=expiry)
        self.company_id._l10n_pl_ksef_ask_admin(summary, self._l10n_pl_ksef_renewal_note(), max(expiry, today))
        self.l10n_pl_ksef_expiry_warning = due

    def _l10n_pl_ksef_expiry_warning_due(self, today):
        """The most urgent warning reached today, if it is more urgent than the one already given."""
        days_left = (self.date_end.date() - today).days
        reached = [code for code, days in EXPIRY_WARNINGS if (days_left <= days if days else days_left < 0)]
        if not reached:
            return False
        codes = [code for code, _days in EXPIRY_WARNINGS]
        given = codes.index(self.l10n_pl_ksef_expiry_warning) if self.l10n_pl_ksef_expiry_warning else -1
        most_urgent = reached[-1]
        return most_urgent if codes.index(most_urgent) > given else False

    def _l10n_pl_ksef_renewal_note(self):
        if self.l10n_pl_ksef_type == 'offline':
            use = _("Without it, offline invoices get no KOD II QR code.")
        else:
            use = _("Without it, Odoo cannot log in to KSeF to send and receive invoices.")
        return _("%(use)s Enroll a new KSeF %(type)s certificate from Settings > KSeF > KSeF certificates (log in "
                 "with the company's qualified seal or a valid KSeF certificate), then revoke this one there.",
                 use=use, type=self._l10n_pl_ksef_type_label(self.l10n_pl_ksef_type))

    @api.model
    def _l10n_pl_ksef_type_label(self, ksef_type):
        return dict(self._fields['l10n_pl_ksef_type']._description_selection(self.env))[ksef_type]

