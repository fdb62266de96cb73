import datetime

from odoo import fields, models

SMALL_VALUE_LIMIT = 10_000          # PLN gross of the invoices issued in a month, transitional rule of 2026
SMALL_VALUE_UNTIL = datetime.date(2026, 12, 31)


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_batch_threshold = fields.Integer(
        string="KSeF batch above", default=20,
        help="More invoices than this at once go in a batch session (one upload); fewer go one by one in an online "
             "session. KSeF limits online sending to 180 invoices per hour per context.")
    l10n_pl_ksef_send_on_post = fields.Boolean(
        string="Send to KSeF on posting",
        help="Queue every invoice for KSeF when it is posted; the scheduled action sends it within minutes.")

    l10n_pl_ksef_obligation_date = fields.Date(
        string="KSeF mandatory from", default=datetime.date(2026, 4, 1),
        help="1 February 2026 for taxpayers whose sales in 2024 exceeded 200 million PLN gross; 1 April 2026 for "
             "everyone else. Invoices dated before it may stay outside KSeF.")
    l10n_pl_ksef_small_value_exception = fields.Boolean(
        string="Small-value exception (2026)",
        help="Until 31 December 2026 invoices may be issued outside KSeF while the gross value of the invoices "
             "issued in the month stays within 10,000 PLN; the invoice that passes the limit and every later one "
             "that month must go through KSeF.")
    l10n_pl_ksef_send_consumer_invoices = fields.Boolean(
        string="Send invoices to consumers", default=True,
        help="Also send to KSeF the invoices of buyers without a NIP (consumers); they are delivered to the buyer "
             "outside KSeF, with the KOD I QR code.")

    def _l10n_pl_ksef_is_configured(self):
        """The company can log in to KSeF unattended, or holds a login signed outside Odoo."""
        self.ensure_one()
        company = self.sudo()
        if company.l10n_pl_ksef_environment == 'custom' and not company.l10n_pl_ksef_custom_url:
            return False
        return {
            'token': bool(company.l10n_pl_ksef_token),
            'certificate': bool(company.l10n_pl_ksef_certificate_id),
            'external': bool(company.l10n_pl_ksef_refresh_token),
        }.get(company.l10n_pl_ksef_auth_method, False)


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_batch_threshold = fields.Integer(related='company_id.l10n_pl_ksef_batch_threshold', readonly=False)
    l10n_pl_ksef_send_on_post = fields.Boolean(related='company_id.l10n_pl_ksef_send_on_post', readonly=False)
    l10n_pl_ksef_obligation_date = fields.Date(related='company_id.l10n_pl_ksef_obligation_date', readonly=False)
    l10n_pl_ksef_small_value_exception = fields.Boolean(related='company_id.l10n_pl_ksef_small_value_exception',
                                                        readonly=False)
    l10n_pl_ksef_send_consumer_invoices = fields.Boolean(related='company_id.l10n_pl_ksef_send_consumer_invoices',
                                                         readonly=False)
