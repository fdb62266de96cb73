"""A readable view of any FA(3) file KSeF holds (received invoices first of all), laid out like the Ministry's own
visualisation: parties, lines, VAT per rate, payment, KSeF number and KOD I."""
import base64

from odoo import _, models
from odoo.exceptions import UserError

from ..ksef import fa3, qr
from ..ksef.errors import InvalidInvoiceError

# TaxTotals buckets in FA(3) order: (net field, VAT field, label)
RATE_BUCKETS = [
    ('net_basic', 'vat_basic', '23% / 22%'), ('net_reduced_1', 'vat_reduced_1', '8% / 7%'),
    ('net_reduced_2', 'vat_reduced_2', '5%'), ('net_taxi', 'vat_taxi', '4% / 3%'), ('net_oss', 'vat_oss', 'OSS'),
    ('net_zero_domestic', None, '0% KR'), ('net_zero_wdt', None, '0% WDT'), ('net_zero_export', None, '0% EX'),
    ('net_exempt', None, 'zw'), ('net_np_i', None, 'np I'), ('net_np_ii', None, 'np II'),
    ('net_reverse_charge', None, 'oo'), ('net_margin', None, 'marża'),
]


class L10nPlKsefDocument(models.Model):
    _inherit = 'l10n_pl_ksef.document'

    def _l10n_pl_ksef_visualisation(self):
        """Everything the printed FA(3) shows, read from the file itself (not from what Odoo made of it)."""
        self.ensure_one()
        if not self.attachment_id:
            raise UserError(_("This KSeF document has no FA(3) file to show."))
        xml = self._l10n_pl_ksef_xml()
        try:
            invoice = fa3.parse(xml)
        except InvalidInvoiceError as error:
            raise UserError(_("The FA(3) file cannot be read: %s", error)) from None
        totals = invoice.body.totals
        buckets = [{'label': label, 'net': getattr(totals, net), 'vat': getattr(totals, vat) if vat else None}
                   for net, vat, label in RATE_BUCKETS if getattr(totals, net) is not None]
        qr_base = self.company_id.sudo()._l10n_pl_ksef_client().environment.qr_url
        link = qr.kod1_url(qr_base, invoice.seller.nip, invoice.body.issue_date, xml)
        label = self.ksef_number or qr.LABEL_OFFLINE
        return {
            'invoice': invoice, 'body': invoice.body, 'buckets': buckets, 'ksef_number': self.ksef_number,
            'qr_link': link, 'qr_image': 'data:image/png;base64,' + base64.b64encode(qr.png(link, label)).decode(),
            'payment': invoice.body.payment,
        }
