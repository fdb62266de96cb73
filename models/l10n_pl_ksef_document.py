"""One record per attempt to send an invoice to KSeF (and, later, per invoice received from it): the frozen FA(3)
file and its hash, the references KSeF gave, the outcome. The outbox: the XML and its hash are committed before
any network call, so after a crash we always know what was tried and reconcile by the hash, never by resending."""
import base64
import logging

from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..ksef import crypto

_logger = logging.getLogger(__name__)


class L10nPlKsefDocument(models.Model):
    _name = 'l10n_pl_ksef.document'
    _description = "KSeF document"
    _order = 'id desc'
    _check_company_auto = True
    _rec_name = 'display_name'

    direction = fields.Selection([('out', 'Sent'), ('in', 'Received')], required=True, default='out', index=True)
    # the invoice sent, or the bill made from a received invoice; a document outlives a deleted draft (the record of
    # what was received or tried stays)
    move_id = fields.Many2one('account.move', string="Invoice", index=True, ondelete='set null', check_company=True)
    company_id = fields.Many2one('res.company', required=True, index=True, default=lambda self: self.env.company)
    # Outbound states (the sender and the status job move documents along these arrows only):
    #
    #   to_send --(locked, marked before the HTTP call)--> sending --(KSeF gave the invoice reference)--> sent
    #      ^                                                  |                                            |
    #      |   (crash or timeout: reconciled by the frozen     |                                            v
    #      +---- hash in the session's invoice list; resent    |                          accepted (200, or 440
    #            only when KSeF holds no such invoice) --------+                          duplicate adopted)
    #      ^                                                                                      | rejected (4xx)
    #      +--- 5xx, 550, unavailable, 429: retried at retry_at (the same document, same XML) ----+
    #
    # A new attempt (after a fix) is a new document: rejected documents stay as the record of what KSeF refused.
    #
    # Inbound states (one document per KSeF number received, its XML kept as it came):
    #
    #   received --(draft vendor bill created)--> bill_created
    #      |  ^
    #      |  +--(retry, after the configuration is fixed)-- error (why, kept visible; never blocks the others)
    #      +--(an accountant decides it is not ours to book)--> ignored --(retry)--> received
    state = fields.Selection([
        ('to_send', 'To send'),
        ('sending', 'Sending'),
        ('sent', 'Sent, waiting for KSeF'),
        ('accepted', 'Accepted'),
        ('rejected', 'Rejected'),
        ('cancelled', 'Cancelled'),
        ('received', 'Received'),
        ('bill_created', 'Bill created'),
        ('ignored', 'Ignored'),
        ('error', 'Error'),
    ], required=True, default='to_send', index=True, copy=False)
    # received invoices: who they came from and what they say (KSeF's metadata), and as whom we received them
    subject_type = fields.Selection([('Subject2', 'Buyer'), ('Subject3', 'Third party'),
                                     ('SubjectAuthorized', 'Authorised subject')], string="Received as", readonly=True)
    seller_nip = fields.Char(string="Seller NIP", readonly=True, index='btree_not_null')
    seller_name = fields.Char(string="Seller", readonly=True)
    invoice_number = fields.Char(string="Invoice number", readonly=True)
    issue_date = fields.Date(string="Issue date", readonly=True)
    invoice_type = fields.Char(string="Invoice type", readonly=True, help="FA(3) RodzajFaktury: VAT, KOR, ZAL ...")
    currency_code = fields.Char(string="Currency", readonly=True)
    net_amount = fields.Float(string="Net", readonly=True)
    vat_amount = fields.Float(string="VAT", readonly=True)
    gross_amount = fields.Float(string="Gross", readonly=True)
    attachment_id = fields.Many2one('ir.attachment', string="FA(3) file", readonly=True, copy=False)
    xml_hash = fields.Char(string="SHA-256 of the FA(3) file", readonly=True, index='btree_not_null',
                           help="Base64 SHA-256 of the XML exactly as sent: how KSeF and we recognise the invoice.")
    session_type = fields.Selection([('online', 'Online session'), ('batch', 'Batch session')], readonly=True)
    session_reference = fields.Char(string="Session reference", readonly=True, index='btree_not_null')
    invoice_reference = fields.Char(string="Invoice reference", readonly=True)
    sent_at = fields.Datetime(string="Sent at", readonly=True)
    ksef_number = fields.Char(string="KSeF number", readonly=True, index='btree_not_null')
    acquisition_date = fields.Datetime(string="Acquisition date", readonly=True,
                                       help="When KSeF assigned the KSeF number: the legal date of issue in KSeF.")
    permanent_storage_date = fields.Datetime(string="Stored permanently", readonly=True)
    invoicing_mode = fields.Selection([('online', 'Online'), ('offline', 'Offline')], readonly=True)
    offline = fields.Boolean(string="Issued offline", readonly=True,
                             help="Issued while the company was in an offline mode: sent with offlineMode.")
    offline_mode = fields.Selection(
        [('offline24', 'Offline24'), ('unavailable', 'KSeF unavailable'), ('failure', 'KSeF failure'),
         ('total_failure', 'Total failure')], string="Offline mode", readonly=True)
    corrected_hash = fields.Char(
        string="Technical correction of", readonly=True,
        help="SHA-256 of the offline file KSeF rejected for technical reasons, which this file replaces (korekta "
             "techniczna: same business content, sent with hashOfCorrectedInvoice).")
    deadline = fields.Date(string="Send by", readonly=True, index='btree_not_null',
                           help="The last day the law allows to send this invoice to KSeF (empty: counted from the "
                                "end of an announced unavailability or failure, not known yet).")
    upo_attachment_id = fields.Many2one('ir.attachment', string="UPO", readonly=True, copy=False)
    status_code = fields.Integer(string="KSeF status code", readonly=True)
    message = fields.Text(string="KSeF message", readonly=True)
    retry_at = fields.Datetime(string="Retry at", readonly=True, index='btree_not_null')
    attempts = fields.Integer(readonly=True, default=0)
    outcome_unknown = fields.Boolean(readonly=True, help="KSeF gave no answer to the sending: the status job "
                                                        "looks the invoice up by its hash before anything is sent again.")

    def init(self):
        # one inbound document per KSeF number and company: the sync may see an invoice twice (windows overlap)
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS l10n_pl_ksef_document_inbound_unique
                ON l10n_pl_ksef_document (company_id, ksef_number) WHERE direction = 'in'
        """)

    @api.depends('move_id', 'state')
    def _compute_display_name(self):
        labels = dict(self._fields['state']._description_selection(self.env))
        for document in self:
            document.display_name = f"{document.move_id.name or '/'} ({labels.get(document.state, '')})"

    @api.ondelete(at_uninstall=False)
    def _never_unlink_accepted_or_in_flight(self):
        if any(document.state in ('sending', 'sent', 'accepted') for document in self):
            raise UserError(_("A KSeF document that was sent or accepted is part of the legal record and cannot be "
                              "deleted."))

    # --- the outbox ----------------------------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_create_outbound(self, move, xml):
        """Freeze the FA(3) bytes of ``move`` as a new document to send, with its hash."""
        return self._l10n_pl_ksef_create_outbounds([(move, xml)])

    @api.model
    def _l10n_pl_ksef_create_outbounds(self, frozen):
        """The same for every (move, FA(3) bytes) of ``frozen``, in one go: the documents, in that order."""
        attachments = self.env['ir.attachment'].create([{
            'name': move._l10n_pl_ksef_fa3_filename(), 'raw': xml, 'mimetype': 'application/xml',
            'res_model': 'account.move', 'res_id': move.id, 'company_id': move.company_id.id,
        } for move, xml in frozen])
        return self.create([{'move_id': move.id, 'company_id': move.company_id.id, 'attachment_id': attachment.id,
                             'xml_hash': crypto.sha256_b64(xml), **move._l10n_pl_ksef_offline_values()}
                            for (move, xml), attachment in zip(frozen, attachments)])

    def _l10n_pl_ksef_xml(self):
        self.ensure_one()
        return base64.b64decode(self.attachment_id.with_context(bin_size=False).datas)

    def _l10n_pl_ksef_lock(self, states):
        """The documents of ``self`` in ``states`` that no other worker holds, locked for this transaction. None
        when another worker changed one of them since this transaction began: under Odoo's repeatable read
        PostgreSQL refuses to lock such a row, and that worker has done (or is doing) the work; the caller's
        next run, in a new transaction, sees it."""
        if not self:
            return self
        self.env.flush_all()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute("""
                    SELECT id FROM l10n_pl_ksef_document
                     WHERE id IN %s AND state IN %s
                     ORDER BY id
                       FOR UPDATE SKIP LOCKED
                """, (tuple(self.ids), tuple(states)), log_exceptions=False)
                ids = [row[0] for row in self.env.cr.fetchall()]
        except pg_errors.SerializationFailure:
            _logger.info("KSeF: documents %s changed by another worker meanwhile; left to the next run", self.ids[:5])
            return self.browse()
        locked = self.browse(ids)
        locked.invalidate_recordset()
        return locked
