"""KSeF tokens of the company, managed from Odoo: listed live from KSeF, generated (the value shown once) and
revoked. KSeF stays the source of truth: nothing here outlives the wizard but the company's own login token."""
from odoo import Command, _, fields, models
from odoo.exceptions import UserError

from ..ksef.errors import KsefApiError
from ..models.ksef_time import odoo_datetime

TOKEN_STATUSES = [('Pending', 'Pending'), ('Active', 'Active'), ('Revoking', 'Revoking'), ('Revoked', 'Revoked'),
                  ('Failed', 'Failed')]
# KSeF's TokenPermissionType (open-api.json) -> the wizard's checkbox, whose label also names it in the list
TOKEN_PERMISSIONS = {
    'InvoiceRead': 'permission_invoice_read',
    'InvoiceWrite': 'permission_invoice_write',
    'CredentialsRead': 'permission_credentials_read',
    'CredentialsManage': 'permission_credentials_manage',
    'SubunitManage': 'permission_subunit_manage',
    'EnforcementOperations': 'permission_enforcement_operations',
    'Introspection': 'permission_introspection',
    'CollectiveIdentifierManage': 'permission_collective_identifier_manage',
}
DESCRIPTION_LENGTH = (5, 256)




class L10nPlKsefTokenWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.token.wizard'
    _inherit = ['l10n_pl_ksef.live.wizard']
    _description = "KSeF tokens"

    line_ids = fields.One2many('l10n_pl_ksef.token.wizard.line', 'wizard_id', string="Tokens in KSeF")
    state = fields.Selection([('manage', "Manage"), ('shown', "New token shown")], default='manage', required=True)
    notice = fields.Char(string="Notice", readonly=True)

    description = fields.Char(string="Description", size=DESCRIPTION_LENGTH[1],
                              help="What the token is for, 5 to 256 characters (KSeF shows it in the token list).")
    permission_invoice_read = fields.Boolean(string="Read invoices", default=True)
    permission_invoice_write = fields.Boolean(string="Issue invoices", default=True)
    permission_credentials_read = fields.Boolean(string="View credentials")
    permission_credentials_manage = fields.Boolean(string="Manage credentials")
    permission_subunit_manage = fields.Boolean(string="Manage subunits")
    permission_enforcement_operations = fields.Boolean(string="Enforcement operations")
    permission_introspection = fields.Boolean(string="Introspection (sessions and UPO)")
    permission_collective_identifier_manage = fields.Boolean(string="Manage collective identifiers")

    # the one deliberate display of a secret: kept only until the user leaves the "shown once" step
    token = fields.Char(string="New KSeF token", readonly=True, groups='base.group_system')
    token_reference = fields.Char(string="New token reference", readonly=True)

    def _own_token_reference(self):
        """The reference of the token the company logs in with: a KSeF token starts with its reference number
        (``<reference>|nip-<NIP>|<secret>``)."""
        token = self.company_id.sudo().l10n_pl_ksef_token
        return token.split('|', 1)[0] if token and '|' in token else False

    def _l10n_pl_ksef_read_lines(self):
        self.ensure_one()
        items = self.company_id._l10n_pl_ksef_run(lambda client, access: client.ksef_tokens(access))
        self.line_ids = [Command.clear()] + [Command.create(self._line_values(item)) for item in items]

    def _line_values(self, item):
        author = item.get('authorIdentifier') or {}
        return {
            'reference': item['referenceNumber'],
            'description': item.get('description'),
            'permissions': self._permission_labels(item.get('requestedPermissions') or []),
            'status': item['status'] if item.get('status') in dict(TOKEN_STATUSES) else False,
            'author': ' '.join(filter(None, (author.get('type'), author.get('value')))),
            'created_on': odoo_datetime(item.get('dateCreated')),
            'last_use': odoo_datetime(item.get('lastUseDate')),
        }

    def _permission_labels(self, permissions):
        # the checkbox labels, translated, name the permissions; one KSeF adds later shows as KSeF names it
        return ', '.join(self._fields[TOKEN_PERMISSIONS[name]]._description_string(self.env)
                         if name in TOKEN_PERMISSIONS else name for name in permissions)

    def _chosen_permissions(self):
        return [name for name, field_name in TOKEN_PERMISSIONS.items() if self[field_name]]

    def action_refresh(self):
        self.notice = False
        self._load_lines()
        return self._reopen()

    def action_generate(self):
        self.ensure_one()
        description, permissions = (self.description or '').strip(), self._chosen_permissions()
        if not DESCRIPTION_LENGTH[0] <= len(description) <= DESCRIPTION_LENGTH[1]:
            raise UserError(_("Describe the new token in 5 to 256 characters, e.g. what will use it."))
        if not permissions:
            raise UserError(_("Choose at least one permission for the new token."))
        reference, secret = self.company_id._l10n_pl_ksef_run(
            lambda client, access: self._create_in_ksef(client, access, permissions, description))
        self.write({'state': 'shown', 'token': secret.reveal(), 'token_reference': reference,
                    'description': False, 'notice': False})
        try:
            self._load_lines()
        except UserError as error:
            # the token exists in KSeF: showing it matters more than the list
            self.notice = _("The list could not be reloaded: %s", error)
        return self._reopen()

    def _create_in_ksef(self, client, access, permissions, description):
        try:
            return client.create_ksef_token(access, permissions, description)
        except KsefApiError as error:
            if str(error.code) != '26001':
                raise
            raise UserError(_("A token can only get permissions the company's current KSeF login holds, and this "
                              "login lacks some of the chosen ones (%s). Untick them, or generate the token while "
                              "the company logs in with its qualified seal.",
                              ', '.join(map(str, error.details)) or error.description)) from None

    def action_use_as_login_token(self):
        """The new token becomes the company's KSeF login (the company forgets its cached KSeF session)."""
        self.ensure_one()
        if not self.token:
            raise UserError(_("The new token is no longer available: generate another one."))
        self.company_id.write({'l10n_pl_ksef_token': self.token, 'l10n_pl_ksef_auth_method': 'token'})
        return self._forget_token(_("The company now logs in to KSeF with the token %s.", self.token_reference))

    def action_token_copied(self):
        return self._forget_token(False)

    def _forget_token(self, notice):
        self.write({'token': False, 'state': 'manage', 'notice': notice})
        return self._reopen()


class L10nPlKsefTokenWizardLine(models.TransientModel):
    _name = 'l10n_pl_ksef.token.wizard.line'
    _description = "KSeF token"
    _order = 'created_on desc, id'

    wizard_id = fields.Many2one('l10n_pl_ksef.token.wizard', required=True, ondelete='cascade')
    reference = fields.Char(string="Reference", readonly=True)
    description = fields.Char(string="Description", readonly=True)
    permissions = fields.Char(string="Permissions", readonly=True)
    status = fields.Selection(TOKEN_STATUSES, string="Status", readonly=True)
    author = fields.Char(string="Generated by", readonly=True)
    created_on = fields.Datetime(string="Generated on", readonly=True)
    last_use = fields.Datetime(string="Last used", readonly=True)
    is_company_login = fields.Boolean(string="Company login", compute='_compute_is_company_login',
                                      help="The token the company logs in to KSeF with.")

    def _compute_is_company_login(self):
        for line in self:
            line.is_company_login = bool(line.reference) and line.reference == line.wizard_id._own_token_reference()

    def action_revoke(self):
        """Revoke in KSeF. The company's own login token is cleared too: KSeF would refuse it from now on."""
        self.ensure_one()
        wizard, company = self.wizard_id, self.wizard_id.company_id
        company._l10n_pl_ksef_run(lambda client, access: client.revoke_ksef_token(access, self.reference))
        if self.is_company_login:
            company.write({'l10n_pl_ksef_token': False})
            if company.l10n_pl_ksef_auth_method == 'token':
                # no reload: without its token the company cannot log in to ask KSeF for the list
                self.status = 'Revoked'
                wizard.notice = _("The company's KSeF login token was revoked and removed from the company. Until "
                                  "you enter a new token or choose a login certificate (Settings, KSeF connection), "
                                  "Odoo cannot log in to KSeF for this company.")
                return wizard._reopen()
        wizard._load_lines()
        return wizard._reopen()
