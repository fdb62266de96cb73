"""Inbound documents: one per KSeF number received by a company, its XML kept exactly as it came, the metadata
KSeF gave and a state. The sync creates them in batch; an unusable file is kept too (state error, with why),
so nothing received is ever lost and the other invoices go on."""
from decimal import Decimal

from odoo import _, api, models
from odoo.exceptions import UserError

from ..ksef import crypto, fa3, identifiers
from ..ksef.errors import InvalidInvoiceError
from .ksef_time import odoo_datetime

# KSeF's metadata names the FA(3) invoice types (RodzajFaktury) differently
FA3_TYPES = {'Vat': 'VAT', 'Kor': 'KOR', 'Zal': 'ZAL', 'Roz': 'ROZ', 'Upr': 'UPR', 'KorZal': 'KOR_ZAL',
             'KorRoz': 'KOR_ROZ'}


class L10nPlKsefDocument(models.Model):
    _inherit = 'l10n_pl_ksef.document'

    @api.depends('direction', 'invoice_number', 'seller_name', 'ksef_number')
    def _compute_display_name(self):
        super()._compute_display_name()
        for document in self.filtered(lambda d: d.direction == 'in'):
            document.display_name = f"{document.invoice_number or document.ksef_number} ({document.seller_name or '?'})"

    # --- created by the sync ------------------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_create_inbounds(self, company, subject_type, found):
        """Inbound documents of ``company`` for ``found`` ({KSeF number: (metadata, xml bytes or None)}) that the
        company does not hold yet, with their XML attachments, in one go."""
        documents = self.sudo().with_context(active_test=False)
        known = set(documents.search([('company_id', '=', company.id), ('direction', '=', 'in'),
                                      ('ksef_number', 'in', list(found))]).mapped('ksef_number'))
        new = [(number, metadata, xml) for number, (metadata, xml) in found.items() if number not in known]
        if not new:
            return self
        created = documents.create([self._l10n_pl_ksef_inbound_values(company, subject_type, metadata, xml)
                                    for _number, metadata, xml in new])
        with_file = [(document, xml) for document, (_number, _metadata, xml) in zip(created, new) if xml]
        if with_file:
            attachments = self.env['ir.attachment'].sudo().create([{
                'name': f'{document.ksef_number}.xml', 'raw': xml, 'mimetype': 'application/xml',
                'res_model': self._name, 'res_id': document.id, 'company_id': company.id,
            } for document, xml in with_file])
            created.flush_recordset()
            # one statement instead of a write per document (a package holds up to 10,000 invoices)
            self.env.cr.execute("""
                UPDATE l10n_pl_ksef_document d SET attachment_id = v.attachment_id
                  FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::int[]) AS attachment_id) v
                 WHERE d.id = v.id
            """, ([document.id for document, _xml in with_file], attachments.ids))
            created.invalidate_recordset(['attachment_id'])
        if created.filtered(lambda d: d.state == 'received'):
            # the bill maker runs right after this transaction commits
            self._l10n_pl_ksef_trigger_bill_makers()
        return self.browse(created.ids)

    @api.model
    def _l10n_pl_ksef_inbound_values(self, company, subject_type, metadata, xml):
        seller = metadata.get('seller') or {}
        values = {
            'direction': 'in', 'state': 'received', 'company_id': company.id, 'subject_type': subject_type,
            'ksef_number': metadata['ksefNumber'], 'seller_nip': seller.get('nip'), 'seller_name': seller.get('name'),
            'invoice_number': metadata.get('invoiceNumber'), 'issue_date': metadata.get('issueDate') or False,
            'invoice_type': FA3_TYPES.get(metadata.get('invoiceType'), metadata.get('invoiceType')),
            'currency_code': metadata.get('currency'), 'net_amount': metadata.get('netAmount') or 0.0,
            'vat_amount': metadata.get('vatAmount') or 0.0, 'gross_amount': metadata.get('grossAmount') or 0.0,
            'acquisition_date': odoo_datetime(metadata.get('acquisitionDate')),
            'permanent_storage_date': odoo_datetime(metadata.get('permanentStorageDate')),
            'invoicing_mode': (metadata.get('invoicingMode') or '').lower() or False,
            'xml_hash': crypto.sha256_b64(xml) if xml else False,
        }
        problem = self._l10n_pl_ksef_file_problem(metadata, xml)
        if problem:
            values.update(state='error', message=problem)
        return values

    @api.model
    def _l10n_pl_ksef_file_problem(self, metadata, xml):
        """None, or why the received file cannot be used, in the user's language."""
        if metadata.get('fileRefused'):
            return _("KSeF's package held a file for this invoice that was not read (%s). Download it again with "
                     "'Fetch from KSeF', 'Download one invoice'.", self._l10n_pl_ksef_refusal_text(metadata['fileRefused']))
        if not xml:
            return _("KSeF's package held no file for this invoice. Download it again with 'Fetch from KSeF', "
                     "'Download one invoice'.")
        try:
            fa3.parse(xml)
        except InvalidInvoiceError as error:
            return _("The FA(3) file cannot be read: %s", '; '.join(problem.message for problem in error.problems[:5]))
        except (ValueError, TypeError, ArithmeticError) as error:
            return _("The FA(3) file cannot be read: %s", error)
        if metadata.get('invoiceHash') and metadata['invoiceHash'] != crypto.sha256_b64(xml):
            return _("The file differs from the one KSeF holds (its SHA-256 does not match KSeF's): it was damaged in "
                     "transit. Download it again.")
        return None

    @api.model
    def _l10n_pl_ksef_refusal_text(self, code):
        """Why an entry of an export package was not read (ksef.client.REFUSALS), in the user's language."""
        return {
            'unsafe-name': _("its name points outside the package"),
            'not-invoice': _("it is not an invoice file"),
            'too-large': _("it is larger than an invoice may be"),
            'package-too-large': _("the package was larger than allowed"),
            'damaged': _("it is damaged"),
        }.get(code, code)

    # --- one invoice on explicit request ---------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_download_one(self, company, ksef_number):
        """The invoice ``ksef_number`` of ``company``: the document it already holds, else downloaded now (one
        call of KSeF's 64-an-hour single downloads, for a user who asked for this one invoice)."""
        ksef_number = (ksef_number or '').strip()
        if not identifiers.is_valid_ksef_number(ksef_number):
            raise UserError(_("%s is not a valid KSeF number (NIP-date-code-checksum, 35 characters).", ksef_number))
        existing = self.sudo().search([('company_id', '=', company.id), ('direction', '=', 'in'),
                                       ('ksef_number', '=', ksef_number)])
        if existing:
            return self.browse(existing.ids)
        xml = company._l10n_pl_ksef_run(lambda client, tokens: client.download_invoice(tokens, ksef_number))
        metadata, subject_type = _metadata_from_file(ksef_number, xml, company)
        return self._l10n_pl_ksef_create_inbounds(company, subject_type, {ksef_number: (metadata, xml)})

    # --- list actions --------------------------------------------------------------------------------

    def action_l10n_pl_ksef_fetch_now(self):
        """'Fetch from KSeF now' on the Received from KSeF list (shown with or without a selection): the sync
        of the current company, at once; the list shows what arrived."""
        return self.env['l10n_pl_ksef.sync']._l10n_pl_ksef_fetch_now(
            self.env.company, then={'type': 'ir.actions.client', 'tag': 'soft_reload'})

    def action_l10n_pl_ksef_ignore(self):
        """Not ours to book (a duplicate, a mistake of the seller): set aside, kept on record."""
        if any(document.direction != 'in' or document.state not in ('received', 'error') for document in self):
            raise UserError(_("Only received invoices without a bill (or with an error) can be ignored."))
        self.write({'state': 'ignored'})

    def action_l10n_pl_ksef_unignore(self):
        """Back to what it was: received, or error when its file cannot be used."""
        if any(document.direction != 'in' or document.state != 'ignored' for document in self):
            raise UserError(_("Only ignored invoices can be taken back."))
        for document in self:
            document.state = 'error' if document.message and not document.move_id else 'received'

    def action_l10n_pl_ksef_download_xml(self):
        self.ensure_one()
        if not self.attachment_id:
            raise UserError(_("KSeF gave no file for this invoice."))
        return {'type': 'ir.actions.act_url', 'url': f'/web/content/{self.attachment_id.id}?download=true',
                'target': 'download'}


def _metadata_from_file(ksef_number, xml, company):
    """(metadata as KSeF's exports give it, subject type) read from the invoice itself (a single download comes
    without metadata)."""
    metadata = {'ksefNumber': ksef_number}
    try:
        invoice = fa3.parse(xml)
    except (InvalidInvoiceError, ValueError, TypeError, ArithmeticError):
        return metadata, False
    body, totals = invoice.body, invoice.body.totals
    net = sum((getattr(totals, attr) or Decimal(0) for attr in fa3.checks.NET_ATTRS), Decimal(0))
    vat = sum((getattr(totals, attr) or Decimal(0) for attr in fa3.checks.VAT_ATTRS), Decimal(0))
    metadata.update({
        'seller': {'nip': invoice.seller.nip, 'name': invoice.seller.name}, 'invoiceNumber': body.number,
        'issueDate': body.issue_date.isoformat(), 'invoiceType': body.invoice_type, 'currency': body.currency,
        'netAmount': float(net), 'vatAmount': float(vat), 'grossAmount': float(body.total or 0),
    })
    nip = identifiers.normalize_nip(company.vat)
    if invoice.buyer.nip and invoice.buyer.nip == nip:
        return metadata, 'Subject2'
    if any(party.nip == nip for party in invoice.third_parties):
        return metadata, 'Subject3'
    if invoice.authorized_party and invoice.authorized_party.nip == nip:
        return metadata, 'SubjectAuthorized'
    return metadata, False
