"""KOD I, the KSeF verification QR code printed on every invoice issued through KSeF (MF's QR code rules):
a link to the invoice in KSeF by seller NIP, issue date and the SHA-256 of the FA(3) file, labelled with the KSeF
number, or OFFLINE while the invoice has none yet."""
import base64

from odoo import _, models
from odoo.exceptions import UserError

from ..ksef import identifiers, qr


class AccountMove(models.Model):
    _inherit = 'account.move'

    def _l10n_pl_ksef_qr_codes(self):
        """[{'image', 'label', 'url', 'caption'}] to print on the invoice (empty when it was never sent to KSeF)."""
        self.ensure_one()
        document = self.sudo().l10n_pl_ksef_document_ids.filtered(
            lambda d: d.state not in ('cancelled', 'rejected') and d.attachment_id).sorted('id')[-1:]
        if not document or not self.invoice_date or document.offline_mode == 'total_failure':
            return []   # never queued, or issued in a total failure (no QR codes then, as the law says)
        qr_base = self.company_id.sudo()._l10n_pl_ksef_client().environment.qr_url
        url = qr.kod1_url(qr_base, identifiers.normalize_nip(self.company_id.vat), self.invoice_date,
                          document._l10n_pl_ksef_xml())
        label = document.ksef_number or qr.LABEL_OFFLINE
        codes = [_code(url, label, _("Check this invoice in KSeF (KOD I)") if document.ksef_number else
                       _("Not in KSeF yet: the invoice will be there under this link (KOD I)"))]
        if document.offline and document.offline_mode != 'total_failure':
            codes.append(self._l10n_pl_ksef_kod2(document, qr_base))
        return codes

    def _l10n_pl_ksef_kod2(self, document, qr_base):
        """KOD II of an invoice issued offline: who issued it, signed with the company's KSeF Offline certificate."""
        company = self.company_id.sudo()
        certificate = company.l10n_pl_ksef_offline_certificate_id
        if not certificate:
            raise UserError(company._l10n_pl_ksef_offline_certificate_problem())
        key, x509_certificate = company._l10n_pl_ksef_signing_credentials(certificate)
        serial = certificate.l10n_pl_ksef_serial or format(x509_certificate.serial_number, 'X')
        context_type, context_value = company._l10n_pl_ksef_context()
        url = qr.kod2_url(qr_base, context_type, context_value, identifiers.normalize_nip(company.vat), serial,
                          document._l10n_pl_ksef_xml(), key)
        return _code(url, qr.LABEL_CERTIFICATE, _("Issued offline by the holder of a KSeF certificate (KOD II)"))


def _code(url, label, caption):
    return {'image': 'data:image/png;base64,' + base64.b64encode(qr.png(url, label)).decode(), 'label': label,
            'url': url, 'caption': caption}
