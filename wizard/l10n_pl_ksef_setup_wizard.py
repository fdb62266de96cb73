"""The set-up wizard: environment, context and a login method the law allows for the company's legal form, tested
against KSeF before it is saved. A login signed outside Odoo (trusted profile, qualified signature on a card) goes
through a downloaded AuthTokenRequest that must come back signed within the challenge's ten minutes."""
import base64

from cryptography import x509

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..ksef import xades
from ..ksef.errors import AuthenticationError, KsefApiError, KsefError
from ..models.res_company_ksef import CONTEXT_TYPES, ENVIRONMENT_SELECTION, ksef_client
from ..models.ksef_time import odoo_datetime

# what the law lets each legal form log in with, and the company's login method each one becomes
PERSON_METHODS = [
    ('trusted_profile', 'Trusted profile (Profil Zaufany) or the national node, signed outside Odoo'),
    ('qualified_signature', 'Qualified electronic signature, signed outside Odoo'),
    ('ksef_certificate', 'KSeF certificate (logs in unattended)'),
    ('token', 'KSeF token (accepted until the end of 2026)'),
]
ENTITY_METHODS = [
    ('qualified_seal', 'Qualified electronic seal of the company (logs in unattended)'),
    ('ksef_certificate', 'KSeF certificate (logs in unattended)'),
    ('token', 'KSeF token (accepted until the end of 2026)'),
    ('authorised_person', 'A person the company authorised signs (trusted profile or qualified signature)'),
]
COMPANY_METHOD = {'trusted_profile': 'external', 'qualified_signature': 'external', 'authorised_person': 'external',
                  'qualified_seal': 'certificate', 'ksef_certificate': 'certificate', 'token': 'token'}


class L10nPlKsefSetupWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.setup.wizard'
    _description = "KSeF connection set-up"

    company_id = fields.Many2one('res.company', required=True, readonly=True, default=lambda self: self.env.company)
    legal_form = fields.Selection(
        [('entity', 'Company, partnership or other organisation'), ('person', 'Natural person running a business')],
        string="The company is", required=True, default=lambda self: self.env.company.l10n_pl_ksef_legal_form)
    environment = fields.Selection(ENVIRONMENT_SELECTION, string="KSeF environment", required=True,
                                   default=lambda self: self.env.company.l10n_pl_ksef_environment)
    custom_url = fields.Char(string="KSeF server URL", default=lambda self: self.env.company.l10n_pl_ksef_custom_url)
    context_type = fields.Selection(CONTEXT_TYPES, string="Context type", required=True,
                                    default=lambda self: self.env.company.l10n_pl_ksef_context_type)
    context_value = fields.Char(string="Context", default=lambda self: self.env.company._l10n_pl_ksef_default_context())
    person_method = fields.Selection(PERSON_METHODS, string="Login method (natural person)",
                                     default=lambda self: self._default_method('person'))
    entity_method = fields.Selection(ENTITY_METHODS, string="Login method (organisation)",
                                     default=lambda self: self._default_method('entity'))
    method = fields.Char(compute='_compute_method')
    token = fields.Char(string="KSeF token")
    certificate_id = fields.Many2one(
        'certificate.certificate', string="Certificate", domain="[('company_id', 'in', [company_id, False])]",
        default=lambda self: self.env.company.l10n_pl_ksef_certificate_id)
    certificate_identity = fields.Char(compute='_compute_certificate_identity', string="KSeF sees")
    certificate_fingerprint = fields.Char(compute='_compute_certificate_identity', string="SHA-256 fingerprint")
    subject_identifier_type = fields.Selection(
        [('certificateSubject', "NIP or PESEL in the certificate"),
         ('certificateFingerprint', "The certificate's fingerprint")],
        string="Identify the signer by", default='certificateSubject', required=True,
        help="A certificate without NIP or PESEL (e.g. a foreign qualified signature) is identified by its SHA-256 "
             "fingerprint, which must hold permissions in this context.")
    request_xml = fields.Binary(string="Login request to sign", readonly=True, attachment=False)
    request_filename = fields.Char(default='AuthTokenRequest.xml')
    request_expires = fields.Datetime(string="Sign and upload before", readonly=True)
    signed_xml = fields.Binary(string="Signed login request", attachment=False)
    signed_filename = fields.Char()

    @api.model
    def _default_method(self, legal_form):
        """The method the company logs in with now (opening the wizard to look must not switch it), else the
        one that logs in unattended for the legal form."""
        current = {'token': 'token', 'certificate': 'qualified_seal' if legal_form == 'entity' else 'ksef_certificate',
                   'external': 'authorised_person' if legal_form == 'entity' else 'trusted_profile'}
        default = 'qualified_seal' if legal_form == 'entity' else 'trusted_profile'
        company = self.env.company
        if not company._l10n_pl_ksef_is_configured():
            return default
        return current.get(company.l10n_pl_ksef_auth_method, default)

    @api.depends('legal_form', 'person_method', 'entity_method')
    def _compute_method(self):
        for wizard in self:
            wizard.method = wizard.person_method if wizard.legal_form == 'person' else wizard.entity_method

    @api.depends('certificate_id')
    def _compute_certificate_identity(self):
        for wizard in self:
            wizard.certificate_identity = wizard.certificate_fingerprint = False
            certificate = wizard._certificate()
            if certificate is None:
                continue
            subject, _method = xades.certificate_identity(certificate)
            wizard.certificate_fingerprint = xades.certificate_fingerprint(certificate)
            wizard.certificate_identity = f"{subject['type'].upper()} {subject['value']}" if subject else False

    def _certificate(self):
        if not self.certificate_id.pem_certificate:
            return None
        pem = self.certificate_id.sudo().with_context(bin_size=False).pem_certificate
        return x509.load_pem_x509_certificate(base64.b64decode(pem))

    # --- saving a method that logs in unattended -------------------------------------------------------

    def action_save_and_test(self):
        """Save the choices on the company and log in once; a refusal rolls everything back with the reason."""
        self.ensure_one()
        method = COMPANY_METHOD[self.method]
        if method == 'external':
            raise UserError(_("This method is signed outside Odoo: download the login request, sign it and upload it."))
        values = self._company_values(method)
        if method == 'token':
            if not self.token:
                raise UserError(_("Paste the KSeF token generated in KSeF (or in Odoo: KSeF tokens)."))
            values['l10n_pl_ksef_token'] = self.token
        else:
            self._check_certificate()
            values['l10n_pl_ksef_certificate_id'] = self.certificate_id.id
        self.company_id.sudo().write(values)
        self.token = False   # the secret now lives on the company only
        return self._done(self.company_id.action_l10n_pl_ksef_test_connection())

    def _company_values(self, method):
        self._check_context()
        return {'l10n_pl_ksef_legal_form': self.legal_form, 'l10n_pl_ksef_environment': self.environment,
                'l10n_pl_ksef_custom_url': self.custom_url, 'l10n_pl_ksef_context_type': self.context_type,
                'l10n_pl_ksef_context_value': self.context_value, 'l10n_pl_ksef_auth_method': method}

    def _check_context(self):
        if self.environment == 'custom' and not self.custom_url:
            raise UserError(_("Enter the URL of the KSeF server."))
        if not self.context_value:
            raise UserError(_("Enter the KSeF context: the NIP (or other identifier) the company acts for."))
        problem = self.company_id._l10n_pl_ksef_context_problem(self.context_type, self.context_value)
        if problem:
            raise UserError(problem)

    def _check_certificate(self):
        certificate = self.certificate_id
        if not certificate or not certificate.private_key_id or certificate.private_key_id.public:
            raise UserError(_("Choose a certificate with its private key (upload the PKCS#12 file, or the PEM "
                              "certificate and key, in Settings, Certificates)."))
        if self.method == 'qualified_seal' and not self.certificate_identity:
            raise UserError(_("The certificate %(name)s carries no NIP, so it is not a qualified seal KSeF can read. "
                              "KSeF knows it only by its fingerprint %(fingerprint)s: grant permissions to that "
                              "fingerprint (KSeF permissions) or choose the company's seal.",
                              name=certificate.name, fingerprint=self.certificate_fingerprint))

    def _done(self, notification):
        notification['params']['next'] = {'type': 'ir.actions.act_window_close'}
        return notification

    # --- a login signed outside Odoo ---------------------------------------------------------------

    def action_prepare_request(self):
        """A fresh challenge as an AuthTokenRequest XML to download and sign within ten minutes."""
        self.ensure_one()
        self._check_context()
        client = self._client()
        try:
            _challenge, xml, expires = client.auth_token_request(self.context_type, self.context_value,
                                                                 self.subject_identifier_type)
        except KsefError as error:
            raise UserError(_("KSeF could not be reached: %s", error)) from None
        self.write({'request_xml': base64.b64encode(xml), 'request_expires': odoo_datetime(expires), 'signed_xml': False,
                    'signed_filename': False,
                    'request_filename': f'AuthTokenRequest-{self.context_value}-{expires:%Y%m%d-%H%M%S}.xml'})
        return self._reopen()

    def action_login_with_signed_request(self):
        """Finish the login with the uploaded signed file and keep it for 7 days of unattended work."""
        self.ensure_one()
        if not self.request_xml:
            raise UserError(_("Download the login request first, then sign it and upload the signed file."))
        if not self.signed_xml:
            raise UserError(_("Upload the signed login request (the XML file your signing application produced)."))
        if fields.Datetime.now() >= self.request_expires:
            raise UserError(_("The ten minutes to sign have passed (the request expired at %s UTC). Download a new "
                              "login request and sign it again.", fields.Datetime.to_string(self.request_expires)))
        tokens = self._login_with_signed_request(base64.b64decode(self.signed_xml))
        company = self.company_id.sudo()
        company.write(self._company_values('external'))
        company._l10n_pl_ksef_store_tokens(tokens)
        company._l10n_pl_ksef_plan_signing_again(odoo_datetime(tokens.refresh.valid_until))
        self.write({'request_xml': False, 'signed_xml': False})
        return self._done({
            'type': 'ir.actions.client', 'tag': 'display_notification',
            'params': {'type': 'success', 'title': _("KSeF connection works"), 'message': _(
                "Logged in to context %(type)s %(value)s until %(end)s UTC. An activity will ask to sign again "
                "before then.", type=self.context_type, value=self.context_value,
                end=fields.Datetime.to_string(odoo_datetime(tokens.refresh.valid_until)))}})

    def _login_with_signed_request(self, signed_xml):
        if b'Signature' not in signed_xml:
            raise UserError(_("The uploaded file is not signed: sign the downloaded login request with the trusted "
                              "profile or a qualified signature (XAdES, enveloped) and upload the result."))
        try:
            return self._client().login_with_signed_request(signed_xml, (self.context_type, self.context_value))
        except AuthenticationError as error:
            raise UserError(self.company_id._l10n_pl_ksef_auth_message(error)) from None
        except KsefApiError as error:
            raise UserError(_("KSeF refused the signed login request: %s. Download a new request and sign it "
                              "again.", error.description or error)) from None
        except KsefError as error:
            raise UserError(_("KSeF could not be reached: %s", error)) from None

    def _client(self):
        return ksef_client(self.env, self.environment, self.custom_url)   # the server chosen here, before it is saved

    def _reopen(self):
        return {'type': 'ir.actions.act_window', 'res_model': self._name, 'res_id': self.id, 'view_mode': 'form',
                'target': 'new', 'name': _("Set up the KSeF connection")}
