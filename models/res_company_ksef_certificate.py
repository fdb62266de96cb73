"""KSeF certificates of a company: enroll (the key and CSR are made in Odoo), keep them in Odoo's certificates,
use them (login, KOD II) and revoke them. KSeF ties them to the subject that logged in with a signature."""
import base64
import logging
import re

from cryptography.hazmat.primitives import serialization

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

from ..ksef.errors import KsefApiError
from .certificate_certificate import KSEF_TYPE_NAMES

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# EnrollCertificateRequest.certificateName in the OpenAPI contract
CERTIFICATE_NAME = re.compile(r'^[a-zA-Z0-9_\- ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]{5,100}$')
SIGNATURE_LOGIN_ONLY = {'25001', '25002'}   # enrollment data / revocation refused to a token login
CERTIFICATE_REFUSALS = {
    '25003': _lt("KSeF refused the request: its data differ from the login's. Log in again with the company's "
                 "qualified seal and retry."),
    '25006': _lt("KSeF's limit of certificate requests is reached for this subject."),
    '25007': _lt("KSeF's limit of active certificates is reached: revoke the certificates you no longer use."),
    '25008': _lt("KSeF does not know this certificate for the subject logged in."),
    '25009': _lt("The certificate is already revoked, blocked or expired in KSeF."),
}


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_offline_certificate_id = fields.Many2one(
        'certificate.certificate', string="KSeF Offline certificate", groups='base.group_system', copy=False,
        domain="[('company_id', 'in', [id, False]), ('l10n_pl_ksef_type', '=', 'offline')]",
        help="The KSeF certificate of type Offline that signs the KOD II QR codes of invoices issued offline.")

    def _l10n_pl_ksef_run_signed(self, operation):
        """``_l10n_pl_ksef_run`` for what KSeF allows only after a signature login (certificates), with its
        refusals in plain words."""
        def guarded(client, tokens):
            try:
                return operation(client, tokens)
            except KsefApiError as error:
                if str(error.code) in SIGNATURE_LOGIN_ONLY:
                    raise UserError(_(
                        "KSeF manages certificates only after a login with a signature. Log in with the company's "
                        "qualified seal or signature first: in Settings > KSeF, choose the authentication "
                        "'Certificate' with the qualified seal (kept in Odoo's Certificates), test the connection, "
                        "then come back here.")) from None
                if str(error.code) in CERTIFICATE_REFUSALS:
                    raise UserError(CERTIFICATE_REFUSALS[str(error.code)]._translate(self.env.lang)) from None
                raise
        return self._l10n_pl_ksef_run(guarded)

    def _l10n_pl_ksef_check_certificate_name(self, name):
        if not CERTIFICATE_NAME.match(name or ''):
            raise UserError(_("The KSeF certificate name must have 5 to 100 characters: letters (Polish letters "
                              "too), digits, spaces, '_' or '-'."))

    def _l10n_pl_ksef_enroll_certificate(self, name, ksef_type, key_type='ec'):
        """Enroll one KSeF certificate (ksef_type: authentication | offline), wait for it and keep it in Odoo."""
        self.ensure_one()
        self._l10n_pl_ksef_check_certificate_name(name)
        key, certificate, serial = self._l10n_pl_ksef_run_signed(
            lambda client, tokens: client.enroll_certificate(tokens, name, KSEF_TYPE_NAMES[ksef_type], key_type))
        return self._l10n_pl_ksef_store_certificate(name, ksef_type, key, certificate, serial)

    def _l10n_pl_ksef_store_certificate(self, name, ksef_type, key, certificate, serial):
        """The first thing after KSeF issued a certificate: its private key exists nowhere else. The key is saved
        (and committed where allowed) before the certificate, so that no later failure can lose it."""
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key_record = self.env['certificate.key'].create({
            'name': f'KSeF {serial}.key', 'content': base64.b64encode(pem_key), 'company_id': self.id})
        self._l10n_pl_ksef_commit()
        type_label = self.env['certificate.certificate']._l10n_pl_ksef_type_label(ksef_type)
        try:
            with self.env.cr.savepoint():
                stored = self.env['certificate.certificate'].create({
                    'name': f'{name} ({type_label})', 'company_id': self.id,
                    'content': base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)),
                    'private_key_id': key_record.id, 'l10n_pl_ksef_type': ksef_type, 'l10n_pl_ksef_serial': serial})
        except Exception:
            _logger.exception("KSeF certificate %s issued but not stored", serial)
            raise UserError(_(
                "KSeF issued the certificate %(serial)s but Odoo could not store it. Its private key is kept in "
                "Settings > Certificates and Keys > Keys as '%(key)s': do not delete it; add the certificate "
                "(downloadable from KSeF) in Certificates with that key, or revoke it here.",
                serial=serial, key=key_record.name)) from None
        self._l10n_pl_ksef_commit()
        return stored

    def _l10n_pl_ksef_commit(self):
        # what KSeF did or gave (a certificate issued or revoked, tokens) must survive a later error
        if self.env['account.move.send']._can_commit():
            self.env.cr.commit()

    def _l10n_pl_ksef_use_certificate(self, certificate):
        """Put a freshly enrolled certificate to use; returns what was done, in plain words."""
        self.ensure_one()
        if certificate.l10n_pl_ksef_type == 'offline':
            self.l10n_pl_ksef_offline_certificate_id = certificate
            return _("Offline certificate %s enrolled: it signs the KOD II QR codes of offline invoices.",
                     certificate.name)
        previous = {'l10n_pl_ksef_auth_method': self.l10n_pl_ksef_auth_method,
                    'l10n_pl_ksef_certificate_id': self.l10n_pl_ksef_certificate_id.id}
        self.write({'l10n_pl_ksef_auth_method': 'certificate', 'l10n_pl_ksef_certificate_id': certificate.id})
        try:
            self.action_l10n_pl_ksef_test_connection()
        except UserError as error:
            self.write(previous)
            return _("Authentication certificate %(name)s enrolled, but the login with it failed (%(error)s): the "
                     "company keeps its previous login.", name=certificate.name, error=error.args[0])
        return _("Authentication certificate %s enrolled: the company now logs in to KSeF with it.", certificate.name)

    def _l10n_pl_ksef_revoke_certificate(self, serial):
        """Revoke in KSeF, then archive Odoo's copy and stop using it; returns what was done, in plain words."""
        self.ensure_one()
        self._l10n_pl_ksef_run_signed(lambda client, tokens: client.revoke_certificate(tokens, serial))
        held = self.env['certificate.certificate'].search([
            ('l10n_pl_ksef_serial', '=', serial), ('company_id', '=', self.id)])
        messages = [_("Certificate %s revoked in KSeF.", serial)]
        if self.l10n_pl_ksef_offline_certificate_id in held:
            self.l10n_pl_ksef_offline_certificate_id = False
            messages.append(_("The company has no Offline certificate any more: enroll a new one for KOD II."))
        if self.l10n_pl_ksef_certificate_id in held:
            self.l10n_pl_ksef_certificate_id = False
            messages.append(_("It was the company's KSeF login: choose another login (Settings > KSeF), e.g. the "
                              "qualified seal or a new Authentication certificate, before the next KSeF operation."))
        held.action_archive()
        self._l10n_pl_ksef_commit()
        return '\n'.join(messages)
