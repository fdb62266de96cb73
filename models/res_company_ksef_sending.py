from odoo import fields, models


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_batch_threshold = fields.Integer(
        string="KSeF batch above", default=20,
        help="More invoices than this at once go in a batch session (one upload); fewer go one by one in an online "
             "session. KSeF limits online sending to 180 invoices per hour per context.")
    l10n_pl_ksef_send_on_post = fields.Boolean(
        string="Send to KSeF on posting",
        help="Queue every invoice for KSeF when it is posted; the scheduled action sends it within minutes.")

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
