"""KSeF certificates of the subject the company logs in as: limits and list loaded live from KSeF (the source of
truth), enrollment of Authentication and Offline certificates, revocation."""

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..models.certificate_certificate import KSEF_CERTIFICATE_TYPES
from ..models.ksef_time import odoo_datetime

KSEF_STATUSES = [('Active', 'Active'), ('Blocked', 'Blocked'), ('Revoked', 'Revoked'), ('Expired', 'Expired')]
ENROLLED_TYPES = {'authentication': ['authentication'], 'offline': ['offline'],
                  'both': ['authentication', 'offline']}


class L10nPlKsefCertificateWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.certificate.wizard'
    _inherit = ['l10n_pl_ksef.live.wizard']
    _description = "KSeF certificates"

    can_request = fields.Boolean(string="Can request a certificate", readonly=True)
    enrollments_remaining = fields.Integer(string="Requests left", readonly=True)
    enrollments_limit = fields.Integer(string="Requests limit", readonly=True)
    certificates_remaining = fields.Integer(string="Active certificates left", readonly=True)
    certificates_limit = fields.Integer(string="Active certificates limit", readonly=True)
    line_ids = fields.One2many('l10n_pl_ksef.certificate.wizard.line', 'wizard_id', string="KSeF certificates",
                               readonly=True)
    message = fields.Text(readonly=True)

    name = fields.Char(string="Name", default=lambda self: f"Odoo {fields.Date.context_today(self)}",
                       help="5 to 100 letters, digits, spaces, '_' or '-'; shown in KSeF's list of certificates.")
    ksef_type = fields.Selection(
        KSEF_CERTIFICATE_TYPES + [('both', 'Authentication and Offline')], string="Type", required=True,
        default='authentication',
        help="Authentication: Odoo logs in to KSeF with it. Offline: it signs the KOD II QR codes of invoices issued "
             "offline. A certificate has one type only: 'both' enrolls two.")
    key_type = fields.Selection([('ec', 'EC P-256 (recommended)'), ('rsa', 'RSA 2048')], string="Key type",
                                default='ec', required=True)

    def _l10n_pl_ksef_read_lines(self):
        self.ensure_one()
        limits, certificates = self.company_id._l10n_pl_ksef_run(
            lambda client, tokens: (client.certificate_limits(tokens), client.certificates(tokens)))
        held = self.env['certificate.certificate'].search([
            ('company_id', '=', self.company_id.id),
            ('l10n_pl_ksef_serial', 'in', [item['certificateSerialNumber'] for item in certificates])])
        Line = self.env['l10n_pl_ksef.certificate.wizard.line']
        held_by_serial = {certificate.l10n_pl_ksef_serial: certificate for certificate in held}
        self.write({
            'can_request': limits['canRequest'],
            'enrollments_remaining': limits['enrollment']['remaining'],
            'enrollments_limit': limits['enrollment']['limit'],
            'certificates_remaining': limits['certificate']['remaining'],
            'certificates_limit': limits['certificate']['limit'],
            'line_ids': [Command.clear()] + [
                Command.create(Line._values_from_ksef(item, held_by_serial)) for item in certificates],
        })

    def action_refresh(self):
        self._load_lines()
        self.message = False
        return self._reopen()

    def action_enroll(self):
        """Enroll the chosen type(s); each certificate is kept in Odoo as soon as KSeF issued it."""
        self.ensure_one()
        company = self.company_id
        company._l10n_pl_ksef_check_certificate_name(self.name)
        # every enrollment first, with the login known to work; the company switches to the new login after
        enrolled, problems = [], []
        for ksef_type in ENROLLED_TYPES[self.ksef_type]:
            try:
                enrolled.append(company._l10n_pl_ksef_enroll_certificate(self.name, ksef_type, self.key_type))
            except UserError as error:
                if not enrolled:
                    raise
                # what KSeF already issued is kept and used all the same
                problems.append(_("The %(type)s certificate was not enrolled: %(error)s", error=error.args[0],
                                  type=self.env['certificate.certificate']._l10n_pl_ksef_type_label(ksef_type)))
        messages = [company._l10n_pl_ksef_use_certificate(certificate) for certificate in enrolled]
        self._load_lines()
        self.message = '\n'.join(messages + problems)
        return self._reopen()


class L10nPlKsefCertificateWizardLine(models.TransientModel):
    _name = 'l10n_pl_ksef.certificate.wizard.line'
    _description = "KSeF certificate (as listed by KSeF)"
    _order = 'valid_to desc, id'

    wizard_id = fields.Many2one('l10n_pl_ksef.certificate.wizard', required=True, ondelete='cascade')
    name = fields.Char(readonly=True)
    ksef_type = fields.Selection(KSEF_CERTIFICATE_TYPES, string="Type", readonly=True)
    serial = fields.Char(string="Serial number", readonly=True)
    status = fields.Selection(KSEF_STATUSES, readonly=True)
    valid_from = fields.Datetime(readonly=True)
    valid_to = fields.Datetime(readonly=True)
    certificate_id = fields.Many2one('certificate.certificate', string="In Odoo", readonly=True)
    key_in_odoo = fields.Boolean(string="Key in Odoo", readonly=True,
                                 help="Odoo holds the private key: it can use this certificate.")

    @api.model
    def _values_from_ksef(self, item, held_by_serial):
        certificate = held_by_serial.get(item['certificateSerialNumber'], self.env['certificate.certificate'])
        return {
            'name': item['name'], 'ksef_type': (item.get('type') or '').lower() or False,
            'serial': item['certificateSerialNumber'], 'status': item.get('status'),
            'valid_from': odoo_datetime(item.get('validFrom')), 'valid_to': odoo_datetime(item.get('validTo')),
            'certificate_id': certificate.id,
            'key_in_odoo': bool(certificate.private_key_id and not certificate.private_key_id.public),
        }

    def action_revoke(self):
        self.ensure_one()
        wizard = self.wizard_id
        message = wizard.company_id._l10n_pl_ksef_revoke_certificate(self.serial)
        self.write({'status': 'Revoked', 'key_in_odoo': False})
        try:
            # no savepoint: KSeF's refusal comes before anything is written, and a refused login is forgotten
            # (committed) on the way
            wizard._load_lines()
        except UserError:
            pass   # the revoked certificate was the company's login: the message says to choose another one
        wizard.message = message
        return wizard._reopen()
