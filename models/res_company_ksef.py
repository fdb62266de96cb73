"""KSeF connection of a company: environment, authentication context and method, and the cached tokens that
let scheduled actions authenticate unattended. Every secret is readable by system administrators only."""
import base64
import datetime

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.translate import LazyTranslate

from ..ksef import identifiers
from ..ksef.client import (ENVIRONMENTS, AuthTokens, KsefClient, Secret, Token, custom_environment,
                           load_signing_credentials)
from ..ksef.errors import AuthenticationError, KsefApiError, KsefError, PermissionDeniedError
from .ksef_time import odoo_datetime

_lt = LazyTranslate(__name__)


class L10nPlKsefAccessEnded(UserError):
    """KSeF refused the company's cached access during a call: forgotten, the next attempt logs in again (a
    matter of minutes, nothing for an administrator to fix)."""

ENVIRONMENT_SELECTION = [('test', 'TEST'), ('demo', 'DEMO'), ('prod', 'Production'), ('custom', 'Other server')]
CONTEXT_TYPES = [('Nip', 'NIP'), ('InternalId', 'Internal ID (NIP-NNNNN)'), ('NipVatUe', 'NIP-VAT UE'),
                 ('PeppolId', 'Peppol ID')]
LOGIN_FIELDS = {'l10n_pl_ksef_environment', 'l10n_pl_ksef_custom_url', 'l10n_pl_ksef_context_type',
                'l10n_pl_ksef_context_value', 'l10n_pl_ksef_auth_method', 'l10n_pl_ksef_token',
                'l10n_pl_ksef_certificate_id', 'vat'}
FORGOTTEN_TOKENS = {'l10n_pl_ksef_access_token': False, 'l10n_pl_ksef_access_valid_until': False,
                    'l10n_pl_ksef_refresh_token': False, 'l10n_pl_ksef_refresh_valid_until': False}
# what a valid context of each type looks like, said to users instead of the checker's English reason
CONTEXT_FORMATS = {
    'Nip': _lt("10 digits, the last one a check digit"),
    'InternalId': _lt("the NIP, a hyphen and five digits, the last one a check digit (NIP-NNNNN)"),
    'NipVatUe': _lt("the Polish NIP, a hyphen and an EU VAT number with its country prefix, e.g. 5265877635-DE123456789"),
    'PeppolId': _lt("P, two capital letters and six digits, e.g. PPL123456"),
}
AUTH_STATUS_MESSAGES = {
    415: _lt("The authenticating subject holds no permission in this context: grant it in KSeF first."),
    425: _lt("The login was revoked in KSeF by its user before it finished: log in again."),
    450: _lt("KSeF refused the token: it is wrong, revoked or inactive. Generate a new KSeF token."),
    460: _lt("KSeF refused the certificate: it is invalid, revoked or its chain is not trusted."),
    470: _lt("The person the certificate identifies is recorded as deceased."),
    480: _lt("Authentication is blocked for this context (security incident). Contact KSeF support."),
    500: _lt("KSeF could not finish the login (unknown error on its side): try again later; if it repeats, contact "
             "KSeF support."),
    550: _lt("KSeF cancelled the login (a system operation on its side): try again."),
}


class ResCompany(models.Model):
    # activities on the company: what its KSeF connection needs from an administrator (sign again, renew)
    _name = 'res.company'
    _inherit = ['res.company', 'mail.activity.mixin']

    l10n_pl_ksef_environment = fields.Selection(
        ENVIRONMENT_SELECTION, string="KSeF environment", default='test', required=True,
        help="TEST and DEMO are the Ministry's test environments; invoices sent to Production are legally issued.")
    l10n_pl_ksef_custom_url = fields.Char(
        string="KSeF server URL", help="Another KSeF-compatible server, e.g. the local emulator http://127.0.0.1:8765/v2.")
    l10n_pl_ksef_context_type = fields.Selection(CONTEXT_TYPES, string="KSeF context type", default='Nip',
                                                 required=True)
    l10n_pl_ksef_context_value = fields.Char(
        string="KSeF context", help="Whom the company acts for in KSeF; empty means the company's own NIP.")
    l10n_pl_ksef_legal_form = fields.Selection(
        [('entity', 'Company, partnership or other organisation'), ('person', 'Natural person running a business')],
        string="Legal form for KSeF", default='entity', required=True,
        help="The law allows different login methods: a natural person may use the trusted profile or a qualified "
             "signature; an organisation logs in with a qualified seal or through a person it authorised.")
    l10n_pl_ksef_auth_method = fields.Selection(
        [('token', 'KSeF token'), ('certificate', 'Certificate (KSeF certificate or qualified seal)'),
         ('external', 'Signed outside Odoo (trusted profile or qualified signature)')],
        string="KSeF authentication", default='token', required=True,
        help="Signed outside Odoo: a person downloads the login request, signs it and uploads it; the login then "
             "lasts 7 days and an activity asks to sign again before it ends.")
    l10n_pl_ksef_certificate_id = fields.Many2one(
        'certificate.certificate', string="KSeF login certificate", groups='base.group_system', copy=False,
        domain="[('company_id', 'in', [id, False])]",
        help="A KSeF certificate of type Authentication or a qualified electronic seal, with its private key.")
    l10n_pl_ksef_token = fields.Char(
        string="KSeF token", groups='base.group_system', copy=False,
        help="KSeF accepts token logins only until the end of 2026: enroll a KSeF certificate before then.")
    l10n_pl_ksef_access_token = fields.Char(string="KSeF access token (cached)", groups='base.group_system', copy=False)
    l10n_pl_ksef_access_valid_until = fields.Datetime(string="KSeF access token valid until", groups='base.group_system', copy=False)
    l10n_pl_ksef_refresh_token = fields.Char(string="KSeF refresh token (cached)", groups='base.group_system', copy=False)
    l10n_pl_ksef_refresh_valid_until = fields.Datetime(string="KSeF refresh token valid until", groups='base.group_system', copy=False)

    @api.constrains('l10n_pl_ksef_context_type', 'l10n_pl_ksef_context_value')
    def _check_l10n_pl_ksef_context(self):
        for company in self.filtered('l10n_pl_ksef_context_value'):
            problem = company._l10n_pl_ksef_context_problem(company.l10n_pl_ksef_context_type,
                                                            company.l10n_pl_ksef_context_value)
            if problem:
                raise ValidationError(problem)

    def _l10n_pl_ksef_context_problem(self, context_type, value):
        """None, or what is wrong with a KSeF context, in the user's language."""
        if not identifiers.check_context(context_type, value):
            return None
        labels = dict(self._fields['l10n_pl_ksef_context_type']._description_selection(self.env))
        return _("The KSeF context %(value)s is not a valid %(type)s: it must be %(format)s.", value=value,
                 type=labels.get(context_type, context_type), format=CONTEXT_FORMATS[context_type]._translate(self.env.lang))

    def write(self, vals):
        # cached tokens belong to one server, context and credential: a change of any of them needs a new login
        if LOGIN_FIELDS & set(vals):
            vals = dict(vals, **FORGOTTEN_TOKENS)
        return super().write(vals)

    def _l10n_pl_ksef_context(self):
        self.ensure_one()
        value = self._l10n_pl_ksef_default_context()
        if not value:
            raise UserError(_("Set the company's NIP (tax ID) or the KSeF context first."))
        return self.l10n_pl_ksef_context_type, value

    def _l10n_pl_ksef_client(self):
        self.ensure_one()
        return ksef_client(self.env, self.l10n_pl_ksef_environment, self.l10n_pl_ksef_custom_url)

    def _l10n_pl_ksef_default_context(self):
        self.ensure_one()
        return self.l10n_pl_ksef_context_value or identifiers.normalize_nip(self.vat) or False

    def _l10n_pl_ksef_tokens(self, client=None):
        """Access for KSeF API calls: the cached tokens while the refresh token lasts (the access token refreshed
        a minute before it expires), else a new login. Works unattended for the token and certificate methods."""
        self.ensure_one()
        client = client or self._l10n_pl_ksef_client()
        company = self.sudo()
        ksef_context = self._l10n_pl_ksef_context()
        tokens = company._l10n_pl_ksef_cached_tokens(client, ksef_context)
        if tokens is None:
            tokens = company._l10n_pl_ksef_login(client, ksef_context)
            company._l10n_pl_ksef_store_tokens(tokens)
        return tokens

    def _l10n_pl_ksef_cached_tokens(self, client, ksef_context):
        """The cached tokens with a fresh access token, or None when a new login is needed."""
        refresh_until = self.l10n_pl_ksef_refresh_valid_until
        if not self.l10n_pl_ksef_refresh_token or not refresh_until or \
                refresh_until <= fields.Datetime.now() + datetime.timedelta(minutes=5):
            return None
        tokens = AuthTokens('', _token(self.l10n_pl_ksef_access_token, self.l10n_pl_ksef_access_valid_until),
                            _token(self.l10n_pl_ksef_refresh_token, refresh_until), ksef_context)
        before = tokens.access.value
        try:
            client.fresh_access(tokens)
        except AuthenticationError:
            return None   # the refresh token was ended in KSeF: log in again
        if tokens.access.value != before:
            self._l10n_pl_ksef_store_tokens(tokens)
        return tokens

    def _l10n_pl_ksef_login(self, client, ksef_context):
        if self.l10n_pl_ksef_auth_method == 'external':
            # nobody can sign for a person unattended: the person signs a new login in the set-up wizard
            raise UserError(_("The company's KSeF login signed outside Odoo has ended (such a login lasts 7 days). "
                              "Sign a new one: Settings, KSeF, Set up the KSeF connection."))
        try:
            if self.l10n_pl_ksef_auth_method == 'certificate':
                key, certificate = self._l10n_pl_ksef_signing_credentials()
                return client.login_with_certificate(ksef_context[0], ksef_context[1], key, certificate)
            return client.login_with_token(ksef_context[0], ksef_context[1], self._l10n_pl_ksef_token_secret())
        except AuthenticationError as error:
            raise UserError(self._l10n_pl_ksef_auth_message(error)) from None

    def _l10n_pl_ksef_signing_credentials(self, certificate=None):
        """The private key and certificate of the login certificate (or of ``certificate``, e.g. the Offline one),
        as Odoo's certificate module keeps them."""
        certificate = certificate or self.l10n_pl_ksef_certificate_id
        if not certificate.pem_certificate or not certificate.private_key_id.pem_key or certificate.private_key_id.public:
            raise UserError(_("Choose a KSeF login certificate with its private key (Settings, KSeF)."))
        if not certificate.is_valid:
            raise UserError(_("The KSeF login certificate %s is not valid today: renew it.", certificate.name))
        pem_key = certificate.private_key_id.with_context(bin_size=False).pem_key
        pem_certificate = certificate.with_context(bin_size=False).pem_certificate
        return load_signing_credentials(base64.b64decode(pem_key) + base64.b64decode(pem_certificate))

    def _l10n_pl_ksef_token_secret(self):
        if not self.l10n_pl_ksef_token:
            raise UserError(_("Enter the KSeF token of the company (Settings, KSeF)."))
        return Secret(self.l10n_pl_ksef_token)

    def _l10n_pl_ksef_auth_message(self, error):
        message = AUTH_STATUS_MESSAGES.get(error.code)
        return message._translate(self.env.lang) if message else _("KSeF refused the authentication: %s", error.description or error.code)

    def _l10n_pl_ksef_store_tokens(self, tokens):
        # tokens are committed right away where allowed: a second login would end the first session's refresh
        self.sudo().write({
            'l10n_pl_ksef_access_token': tokens.access.value.reveal(),
            'l10n_pl_ksef_access_valid_until': odoo_datetime(tokens.access.valid_until),
            'l10n_pl_ksef_refresh_token': tokens.refresh.value.reveal(),
            'l10n_pl_ksef_refresh_valid_until': odoo_datetime(tokens.refresh.valid_until),
        })
        self._l10n_pl_ksef_commit()

    def _l10n_pl_ksef_forget_access(self):
        """KSeF refused the cached access token (it ended the session early): it is not used again. The next call
        refreshes it with the refresh token, or logs in again when KSeF ended that too; a login signed outside
        Odoo (7 days) is thus kept while KSeF still honours it. Committed where allowed, so that a failing job does
        not keep using it."""
        self.sudo().write({'l10n_pl_ksef_access_token': False, 'l10n_pl_ksef_access_valid_until': False})
        self._l10n_pl_ksef_commit()

    def _l10n_pl_ksef_access_ended(self, error):
        return L10nPlKsefAccessEnded(_("KSeF ended the login session (%s); the next attempt logs in again.",
                                       error.description or error.code or error.status))

    def _l10n_pl_ksef_run(self, operation):
        """``operation(client, tokens)`` with the company's KSeF access; whatever KSeF answers that is not a
        result becomes a UserError in plain words (the client's messages never contain secrets)."""
        self.ensure_one()
        client = self._l10n_pl_ksef_client()
        try:
            return operation(client, self._l10n_pl_ksef_tokens(client))
        except AuthenticationError as error:
            # the login itself fails as a UserError (_l10n_pl_ksef_login): this is KSeF refusing the cached access
            # (never inside a savepoint: the forgetting is committed)
            self._l10n_pl_ksef_forget_access()
            raise self._l10n_pl_ksef_access_ended(error) from None
        except PermissionDeniedError as error:
            raise UserError(_("KSeF refused: the login lacks the permission for this (%s). Log in with a method "
                              "that holds it, e.g. the company's qualified seal.", error.description or error.code)) from None
        except KsefApiError as error:
            raise UserError(_("KSeF refused the request: %s", error)) from None
        except KsefError as error:
            raise UserError(_("KSeF could not be reached: %s", error)) from None

    def _l10n_pl_ksef_admins(self):
        """Who is asked to act on the company's KSeF credentials: its administrators (settings access)."""
        self.ensure_one()
        admins = self.env.ref('base.group_system').sudo().users.filtered(
            lambda user: self in user.company_ids and not user.share and user.active)
        return admins.sorted('id')[:1] or self.env.ref('base.user_admin', raise_if_not_found=False) or self.env.user

    def _l10n_pl_ksef_ask_admin(self, summary, note, deadline):
        """A to-do activity on the company for its administrator, once per summary while it stays open."""
        self.ensure_one()
        company = self.sudo()
        if company.activity_ids.filtered(lambda activity: activity.summary == summary):
            return company.env['mail.activity']
        return company.activity_schedule('mail.mail_activity_data_todo', date_deadline=deadline, summary=summary,
                                         note=note, user_id=company._l10n_pl_ksef_admins().id)

    def action_l10n_pl_ksef_test_connection(self):
        """Log in now (no cache) and say in plain words whether it works."""
        self.ensure_one()
        company = self.sudo()
        if company.l10n_pl_ksef_auth_method != 'external':   # a login signed outside Odoo cannot be repeated here
            company.write(FORGOTTEN_TOKENS)
        try:
            tokens = company._l10n_pl_ksef_tokens()
        except KsefError as error:
            raise UserError(_("KSeF could not be reached: %s", error)) from None
        return {
            'type': 'ir.actions.client', 'tag': 'display_notification',
            'params': {'type': 'success', 'title': _("KSeF connection works"),
                       'message': _("Authenticated in context %(type)s %(value)s.", type=tokens.context[0],
                                    value=tokens.context[1])},
        }


    def _l10n_pl_ksef_plan_signing_again(self, refresh_valid_until):
        """After a login signed outside Odoo: one activity asking to sign again a day before it ends."""
        self.ensure_one()
        summary = _("Sign the KSeF login again")
        self.sudo().activity_ids.filtered(lambda activity: activity.summary == summary).unlink()
        deadline = (refresh_valid_until - datetime.timedelta(days=1)).date()
        return self._l10n_pl_ksef_ask_admin(summary, _(
            "The KSeF login of %(company)s, signed outside Odoo, ends on %(end)s UTC. Until then scheduled actions "
            "send and fetch invoices; after that they stop. Sign a new login in Settings, KSeF, Set up the KSeF "
            "connection, or switch the company to a KSeF certificate, which logs in unattended.",
            company=self.name, end=fields.Datetime.to_string(refresh_valid_until)), deadline)


def ksef_client(env, environment, custom_url=None):
    """A client for one of the environments of the selection (custom: the given server URL)."""
    if environment == 'custom':
        if not custom_url:
            raise UserError(env._("Enter the URL of the KSeF server."))
        try:
            return KsefClient(custom_environment(custom_url))
        except ValueError:
            raise UserError(env._("The KSeF server URL %s is not an http:// or https:// address of a server "
                                  "(e.g. https://ksef.example.com/v2).", custom_url)) from None
    return KsefClient(ENVIRONMENTS[{'test': 'TEST', 'demo': 'DEMO', 'prod': 'PRD'}[environment]])


def _token(value, valid_until):
    moment = (valid_until or fields.Datetime.now()).replace(tzinfo=datetime.timezone.utc)
    return Token(Secret(value or ''), moment)
