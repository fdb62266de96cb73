"""Living next to Odoo's own KSeF module, ``l10n_pl_edi`` (in later 18.0 releases, auto-installed with ``l10n_pl``).

Both modules can send an invoice to KSeF; an invoice must go there once. The rules:

- for a company connected to KSeF here, the ``pl_ksef`` option of ``l10n_pl_edi`` in the Send wizard is never
  applicable (nor ticked, nor honoured if a caller passes it): this addon sends that company's invoices;
- an invoice ``l10n_pl_edi`` sent (or is sending, or holds a KSeF number for) is never queued nor sent here; a
  document queued before it was sent there is cancelled by the sender instead of going;
- the take-over records here, as KSeF documents, the KSeF numbers, UPOs and rejections ``l10n_pl_edi`` already
  got, so the invoices show their KSeF state in this addon and corrections can name their KSeF numbers.

``l10n_pl_edi`` may be absent (Odoo 18.0 trees before early 2026): every access to its fields is guarded by a
look at the fields of the models, and nothing here fails without it."""
import logging

from lxml import etree

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import html2plaintext

from ..ksef import crypto
from .ksef_time import odoo_datetime

_logger = logging.getLogger(__name__)

PL_EDI_KEY = 'pl_ksef'   # l10n_pl_edi's extra EDI in account.move.send
# l10n_pl_edi statuses after which KSeF may not hold the invoice: anything else (sent, accepted, the offline
# statuses of l10n_pl_edi_qr_code ...) means it holds or is sending it
PL_EDI_NOT_HELD = (False, 'rejected')
PL_EDI_ATTACHMENT_FIELDS = ('l10n_pl_edi_attachment_file', 'l10n_pl_edi_upo_file')


def pl_edi_installed(env):
    """Whether Odoo's own KSeF module (l10n_pl_edi) is loaded in this registry."""
    return 'l10n_pl_edi_status' in env['account.move']._fields


def _l10n_pl_ksef_without_pl_edi(extra_edis):
    """``extra_edis`` (as ``account.move.send._get_all_extra_edis`` returns them) with l10n_pl_edi's ``pl_ksef``
    option made inapplicable to the invoices of companies connected to KSeF in this addon; its own test
    still decides for the other companies. Without ``pl_ksef`` the dict is returned as it is."""
    entry = extra_edis.get(PL_EDI_KEY)
    if not entry or getattr(entry.get('is_applicable'), '_l10n_pl_ksef_wrapped', False):
        return extra_edis
    original = entry.get('is_applicable')

    def is_applicable(move):
        if move.company_id and move.company_id._l10n_pl_ksef_is_configured():
            return False   # this addon sends the company's invoices: never both
        return original(move) if original else False

    is_applicable._l10n_pl_ksef_wrapped = True
    return dict(extra_edis, **{PL_EDI_KEY: dict(entry, is_applicable=is_applicable)})


class AccountMoveSend(models.AbstractModel):
    _inherit = 'account.move.send'

    @api.model
    def _get_all_extra_edis(self) -> dict:
        # EXTENDS 'account' (and l10n_pl_edi, loaded before this addon: same depth, earlier name)
        return _l10n_pl_ksef_without_pl_edi(super()._get_all_extra_edis())

    @api.model
    def _get_default_extra_edis(self, move) -> set:
        # EXTENDS 'account': also holds should l10n_pl_edi's override come above ours (installed in a running
        # server after this addon)
        extra_edis = super()._get_default_extra_edis(move)
        if PL_EDI_KEY in extra_edis and move.company_id and move.company_id._l10n_pl_ksef_is_configured():
            extra_edis = set(extra_edis) - {PL_EDI_KEY}
        return extra_edis

    @api.model
    def _call_web_service_before_invoice_pdf_render(self, invoices_data):
        # EXTENDS 'account': the last guard: whatever the caller chose, l10n_pl_edi never sends the invoices of a
        # company this addon sends for
        for move, data in invoices_data.items():
            chosen = data.get('extra_edis')
            if chosen and PL_EDI_KEY in chosen and move.company_id and move.company_id._l10n_pl_ksef_is_configured():
                kept = [key for key in chosen if key != PL_EDI_KEY]
                data['extra_edis'] = set(kept) if isinstance(chosen, set) else kept
        super()._call_web_service_before_invoice_pdf_render(invoices_data)


class AccountMove(models.Model):
    _inherit = 'account.move'

    def _l10n_pl_ksef_held_by_pl_edi(self):
        """The invoices of ``self`` that l10n_pl_edi sent to KSeF or is sending (it holds a KSeF number or any
        status but rejected): never sent from here."""
        if not self or not pl_edi_installed(self.env):
            return self.browse()
        return self.filtered(lambda m: m.l10n_pl_edi_number or m.l10n_pl_edi_status not in PL_EDI_NOT_HELD)

    def _l10n_pl_ksef_to_send(self):
        # EXTENDS l10n_pl_ksef: what l10n_pl_edi sent is never queued (send wizard, buttons, posting, corrections)
        moves = super()._l10n_pl_ksef_to_send()
        return moves - moves._l10n_pl_ksef_held_by_pl_edi()

    def action_l10n_pl_ksef_send(self):
        held = self._l10n_pl_ksef_held_by_pl_edi()
        if held and held == self:
            raise UserError(_("%s was sent to KSeF by Odoo's KSeF module (l10n_pl_edi): it is not sent again. Take "
                              "over its KSeF number in Settings, KSeF.", ', '.join(held.mapped('name'))))
        return super().action_l10n_pl_ksef_send()


class L10nPlKsefDocument(models.Model):
    _inherit = 'l10n_pl_ksef.document'

    def _l10n_pl_ksef_send(self):
        # EXTENDS l10n_pl_ksef: a document queued before l10n_pl_edi sent its invoice does not go
        if not pl_edi_installed(self.env):
            return super()._l10n_pl_ksef_send()
        held_moves = self.filtered(lambda d: d.state == 'to_send').move_id._l10n_pl_ksef_held_by_pl_edi()
        held = self.filtered(lambda d: d.state == 'to_send' and d.move_id in held_moves)._l10n_pl_ksef_lock(['to_send'])
        if held:
            held.write({'state': 'cancelled', 'retry_at': False, 'message': _(
                "Not sent: Odoo's KSeF module (l10n_pl_edi) already sent this invoice to KSeF.")})
        remaining = self - held
        if not remaining:
            return remaining
        return super(L10nPlKsefDocument, remaining)._l10n_pl_ksef_send()

    @api.model
    def _l10n_pl_ksef_take_over(self, items):
        """Record here what l10n_pl_edi got from KSeF. ``items``: one dict per invoice, plain data so that it does
        not depend on l10n_pl_edi's fields: ``move`` (account.move), ``status`` (l10n_pl_edi's status), ``number``
        (KSeF number), ``reference`` (KSeF's invoice reference), ``session`` (KSeF session reference), ``xml``
        (the FA(3) bytes l10n_pl_edi sent), ``upo`` (UPO bytes), ``message`` (l10n_pl_edi's explanation).

        - With a KSeF number: an **accepted** document with that number, the FA(3) file and its SHA-256 (which
          KOD I prints), the UPO and the acquisition date the UPO states; a document of ours still queued for
          that invoice is cancelled.
        - Rejected (no number): a **rejected** document with l10n_pl_edi's explanation; the invoice can be fixed
          and sent from here (KSeF does not hold it).
        - Sent, still waiting for KSeF's answer (or any other status of l10n_pl_edi): **left to l10n_pl_edi**, which
          follows its own sessions; nothing is recorded and this addon never sends it. A document 'sent' here
          would not do: the status job follows the sessions of this addon's login (an l10n_pl_edi session may be
          in another context and fail the whole company's run), would poll every 20 seconds while it waits, and
          sends again what KSeF cancelled (405, 500, 550), which would make a second submission of an invoice
          l10n_pl_edi handles. Running the take-over again once KSeF has answered records it then.

        Idempotent: an invoice with an accepted or in-flight document here, or (for a rejection) any document here,
        is skipped; so is a KSeF number another invoice of the company already holds.
        Returns the counts {'accepted', 'rejected', 'waiting', 'skipped'}."""
        counts = dict.fromkeys(('accepted', 'rejected', 'waiting', 'skipped'), 0)
        for item in items:
            move, number, status = item['move'], item.get('number'), item.get('status')
            documents = move.l10n_pl_ksef_document_ids.filtered(lambda d: d.state != 'cancelled')
            if number:
                if documents.filtered(lambda d: d.state in ('sending', 'sent', 'accepted')):
                    counts['skipped'] += 1
                elif self.env['account.move'].search_count([
                        ('company_id', '=', move.company_id.id), ('l10n_pl_ksef_number', '=', number),
                        ('id', '!=', move.id)], limit=1):
                    _logger.warning("KSeF number %s of %s (l10n_pl_edi) is already on another invoice: not taken "
                                    "over", number, move.name)
                    counts['skipped'] += 1
                else:
                    documents.filtered(lambda d: d.state == 'to_send').write({
                        'state': 'cancelled', 'retry_at': False,
                        'message': _("Not sent: Odoo's KSeF module (l10n_pl_edi) already sent this invoice to KSeF.")})
                    self._l10n_pl_ksef_take_over_accepted(item)
                    counts['accepted'] += 1
            elif status == 'rejected':
                if documents:
                    counts['skipped'] += 1
                else:
                    self._l10n_pl_ksef_take_over_rejected(item)
                    counts['rejected'] += 1
            elif status:
                counts['waiting'] += 1
        return counts

    @api.model
    def _l10n_pl_ksef_take_over_values(self, item):
        move, xml = item['move'], item.get('xml')
        values = {'direction': 'out', 'move_id': move.id, 'company_id': move.company_id.id,
                  'invoice_reference': item.get('reference') or False,
                  'session_reference': item.get('session') or False,
                  'session_type': 'online' if item.get('session') else False}
        if xml:
            values['attachment_id'] = self.env['ir.attachment'].create({
                'name': move._l10n_pl_ksef_fa3_filename(), 'raw': xml, 'mimetype': 'application/xml',
                'res_model': 'account.move', 'res_id': move.id, 'company_id': move.company_id.id}).id
            values['xml_hash'] = crypto.sha256_b64(xml)
        return values

    @api.model
    def _l10n_pl_ksef_take_over_accepted(self, item):
        move, number, upo = item['move'], item['number'], item.get('upo')
        acquired = _upo_acquisition_date(upo, number) if upo else False
        document = self.create(dict(
            self._l10n_pl_ksef_take_over_values(item), state='accepted', status_code=200, ksef_number=number,
            acquisition_date=acquired, invoicing_mode='online',
            message=_("Taken over from Odoo's KSeF module (l10n_pl_edi), which sent this invoice.")))
        if upo:
            document._l10n_pl_ksef_attach_upo(upo)
        move.with_context(skip_invoice_sync=True).write({'l10n_pl_ksef_number': number,
                                                         'l10n_pl_ksef_acquisition_date': acquired})
        move.with_context(no_new_invoice=True).message_post(
            body=_("KSeF number %s taken over from Odoo's KSeF module (l10n_pl_edi), which sent the invoice; it is "
                   "not sent again.", number),
            attachment_ids=(document.attachment_id | document.upo_attachment_id).ids)
        return document

    @api.model
    def _l10n_pl_ksef_take_over_rejected(self, item):
        move = item['move']
        message = _("KSeF rejected this invoice when Odoo's KSeF module (l10n_pl_edi) sent it. Fix it and send it "
                    "again from here.")
        if item.get('message'):
            message += '\n' + item['message']
        document = self.create(dict(self._l10n_pl_ksef_take_over_values(item), state='rejected', message=message))
        move.with_context(no_new_invoice=True).message_post(body=_(
            "The rejection by KSeF recorded by Odoo's KSeF module (l10n_pl_edi) is taken over: the invoice can be "
            "fixed and sent again from here."))
        return document


class ResCompany(models.Model):
    _inherit = 'res.company'

    def _l10n_pl_ksef_pl_edi_items(self):
        """What l10n_pl_edi recorded on the company's customer invoices, as plain data for the take-over."""
        self.ensure_one()
        if not pl_edi_installed(self.env):
            return []
        move_fields = self.env['account.move']._fields
        moves = self.env['account.move'].with_context(active_test=False).search([
            ('company_id', '=', self.id), ('move_type', 'in', ('out_invoice', 'out_refund')),
            '|', ('l10n_pl_edi_number', '!=', False), ('l10n_pl_edi_status', '!=', False)], order='id')
        if not moves:
            return []
        files = {}
        for attachment in self.env['ir.attachment'].sudo().search([
                ('res_model', '=', 'account.move'), ('res_id', 'in', moves.ids),
                ('res_field', 'in', PL_EDI_ATTACHMENT_FIELDS)], order='id'):
            files[attachment.res_id, attachment.res_field] = attachment.raw   # the latest of each kind
        return [{
            'move': move,
            'status': move.l10n_pl_edi_status,
            'number': move.l10n_pl_edi_number or False,
            'reference': move.l10n_pl_edi_ref or False,
            'session': 'l10n_pl_edi_session_id' in move_fields and move.l10n_pl_edi_session_id or False,
            'message': 'l10n_pl_edi_header' in move_fields and html2plaintext(move.l10n_pl_edi_header or '') or False,
            'xml': files.get((move.id, 'l10n_pl_edi_attachment_file')),
            'upo': files.get((move.id, 'l10n_pl_edi_upo_file')),
        } for move in moves]

    def action_l10n_pl_ksef_take_over_pl_edi(self):
        """Take over the KSeF numbers, UPOs and rejections Odoo's KSeF module (l10n_pl_edi) recorded on the
        company's invoices (see ``l10n_pl_ksef.document._l10n_pl_ksef_take_over``); says what was done."""
        self.ensure_one()
        if not pl_edi_installed(self.env):
            raise UserError(_("Odoo's KSeF module (l10n_pl_edi) is not installed: there is nothing to take over."))
        counts = self.env['l10n_pl_ksef.document']._l10n_pl_ksef_take_over(self._l10n_pl_ksef_pl_edi_items())
        return self._l10n_pl_ksef_take_over_notification(counts)

    def _l10n_pl_ksef_take_over_notification(self, counts):
        message = _("Taken over from l10n_pl_edi: %(accepted)s accepted, %(rejected)s rejected. Still waiting for "
                    "KSeF's answer in l10n_pl_edi: %(waiting)s (take over again once KSeF has answered). Already "
                    "recorded here or skipped: %(skipped)s.", **counts)
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'type': 'warning' if counts['waiting'] or counts['skipped'] else 'success',
            'title': _("KSeF numbers taken over"), 'message': message, 'sticky': bool(counts['waiting'])}}


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    l10n_pl_ksef_pl_edi_installed = fields.Boolean(
        string="Odoo's KSeF module (l10n_pl_edi) installed", compute='_compute_l10n_pl_ksef_pl_edi_installed')

    def _compute_l10n_pl_ksef_pl_edi_installed(self):
        self.l10n_pl_ksef_pl_edi_installed = pl_edi_installed(self.env)

    def action_l10n_pl_ksef_take_over_pl_edi(self):
        return self.company_id.action_l10n_pl_ksef_take_over_pl_edi()


def _upo_acquisition_date(upo, number):
    """When KSeF assigned ``number``, as the UPO states it (DataNadaniaNumeruKSeF), or False."""
    try:
        root = etree.fromstring(upo, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except (etree.XMLSyntaxError, ValueError):
        return False
    for document in root.iter('{*}Dokument'):
        if (document.findtext('{*}NumerKSeFDokumentu') or '').strip() == number:
            try:
                return odoo_datetime((document.findtext('{*}DataNadaniaNumeruKSeF') or '').strip())
            except ValueError:
                return False
    return False
