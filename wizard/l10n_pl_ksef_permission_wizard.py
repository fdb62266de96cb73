"""KSeF permissions of the company's context, managed from Odoo: who holds what (loaded live from KSeF, which is
the source of truth), grants to persons (NIP, PESEL or certificate fingerprint), entities (e.g. an accounting
office, with delegation), entity authorizations (self-billing, tax representative ...) and subunit
administrators (internal ID NIP-NNNNN), and revocation."""
import re

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

from ..ksef import identifiers
from ..models.ksef_time import odoo_datetime

_lt = LazyTranslate(__name__)

# every permission code of the contract (PersonPermissionType, EntityPermissionType, InvoicePermissionType ...)
PERMISSIONS = [
    ('InvoiceWrite', 'Issue invoices'),
    ('InvoiceRead', 'View invoices'),
    ('CredentialsManage', 'Manage permissions'),
    ('CredentialsRead', 'View permissions'),
    ('Introspection', 'View session history and UPO'),
    ('SubunitManage', 'Manage subunits'),
    ('EnforcementOperations', 'Enforcement operations (enforcement authorities and bailiffs)'),
    ('CollectiveIdentifierManage', 'Manage collective identifiers'),
    ('VatUeManage', 'Manage an EU entity'),
    ('SelfInvoicing', 'Self-billing'),
    ('TaxRepresentative', 'Tax representative'),
    ('RRInvoicing', 'VAT RR invoices (purchases from flat-rate farmers)'),
    ('PefInvoicing', 'PEF invoices (Peppol)'),
]
AUTHORIZATIONS = [code_label for code_label in PERMISSIONS
                  if code_label[0] in ('SelfInvoicing', 'TaxRepresentative', 'RRInvoicing', 'PefInvoicing')]
# the grant form's checkbox of each permission a person or an entity can be given
PERMISSION_CHECKBOXES = {
    'InvoiceWrite': 'invoice_write', 'InvoiceRead': 'invoice_read', 'CredentialsManage': 'credentials_manage',
    'CredentialsRead': 'credentials_read', 'Introspection': 'introspection', 'SubunitManage': 'subunit_manage',
    'EnforcementOperations': 'enforcement_operations', 'CollectiveIdentifierManage': 'collective_identifier_manage',
}
ENTITY_PERMISSIONS = ('InvoiceWrite', 'InvoiceRead')
IDENTIFIER_TYPES = [('Nip', 'NIP'), ('Pesel', 'PESEL'), ('Fingerprint', 'Certificate fingerprint (SHA-256)'),
                    ('PeppolId', 'Peppol ID')]
KINDS = [('person', 'Person'), ('entity', 'Entity (e.g. accounting office)'),
         ('authorization', 'Authorization (self-billing, tax representative ...)'),
         ('subunit', 'Subunit administrator')]
# limits of the contract (PersonDetails, EntityDetails, IdDocument, descriptions and subunit names)
LENGTHS = {'description': (5, 256), 'first_name': (2, 30), 'last_name': (2, 81), 'full_name': (5, 90),
           'subunit_name': (5, 256), 'id_document_type': (1, 20), 'id_document_number': (1, 20)}
OPERATION_FAILURES = {
    400: _lt("the operation failed"),
    410: _lt("the identifiers do not match each other or are in the wrong relation"),
    420: _lt("the login lacks the rights for this operation"),
    430: _lt("the company's context does not have the role or permission this needs"),
    440: _lt("KSeF does not allow this for these identifiers"),
    450: _lt("KSeF does not allow this for this identifier or its type"),
    500: _lt("an unknown error in KSeF"),
    550: _lt("KSeF cancelled the operation; try again later"),
}


class L10nPlKsefPermissionWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.permission.wizard'
    _inherit = ['l10n_pl_ksef.live.wizard']
    _description = "KSeF permissions"

    ksef_context = fields.Char(string="KSeF context", readonly=True)
    result_message = fields.Char(string="Result", readonly=True)
    line_ids = fields.One2many('l10n_pl_ksef.permission.wizard.line', 'wizard_id', string="Permissions")
    person_line_ids = fields.One2many('l10n_pl_ksef.permission.wizard.line', 'wizard_id', string="Persons",
                                      domain=[('kind', '=', 'person')])
    entity_line_ids = fields.One2many('l10n_pl_ksef.permission.wizard.line', 'wizard_id', string="Entities",
                                      domain=[('kind', '=', 'entity')])
    authorization_line_ids = fields.One2many('l10n_pl_ksef.permission.wizard.line', 'wizard_id',
                                             string="Authorizations", domain=[('kind', '=', 'authorization')])
    subunit_line_ids = fields.One2many('l10n_pl_ksef.permission.wizard.line', 'wizard_id', string="Subunits",
                                       domain=[('kind', '=', 'subunit')])

    # --- the grant form ---
    grant_kind = fields.Selection(KINDS, string="Grant to", default='person', required=True)
    identifier_type = fields.Selection(
        IDENTIFIER_TYPES[:3], string="Identified by", default='Pesel',
        help="A certificate with neither NIP nor PESEL is known by its SHA-256 fingerprint.")
    authorized_identifier_type = fields.Selection(
        [IDENTIFIER_TYPES[0], IDENTIFIER_TYPES[3]], string="Entity identified by", default='Nip')
    identifier = fields.Char(string="Identifier", help="NIP (10 digits), PESEL (11 digits), certificate fingerprint "
                                                       "(64 hexadecimal characters) or Peppol ID (PXX000000).")
    first_name = fields.Char(string="First name")
    last_name = fields.Char(string="Last name")
    person_identifier = fields.Char(
        string="Holder's NIP or PESEL", help="For a certificate without NIP or PESEL whose holder has one; "
                                             "otherwise give the date of birth and an identity document.")
    birth_date = fields.Date(string="Date of birth")
    id_document_type = fields.Char(string="Identity document", help="E.g. passport, identity card.")
    id_document_number = fields.Char(string="Document number")
    id_document_country_id = fields.Many2one('res.country', string="Issued in")
    full_name = fields.Char(string="Entity name")
    description = fields.Char(string="Description", help="Why the permission is given (5 to 256 characters).")
    invoice_write = fields.Boolean(string="Issue invoices")
    invoice_read = fields.Boolean(string="View invoices")
    credentials_manage = fields.Boolean(string="Manage permissions")
    credentials_read = fields.Boolean(string="View permissions")
    introspection = fields.Boolean(string="View session history and UPO")
    subunit_manage = fields.Boolean(string="Manage subunits")
    enforcement_operations = fields.Boolean(
        string="Enforcement operations", help="Only for a context with the role of enforcement authority or bailiff.")
    collective_identifier_manage = fields.Boolean(string="Manage collective identifiers")
    can_delegate = fields.Boolean(
        string="Can delegate", help="The entity (e.g. an accounting office) may pass the permissions on to its people.")
    authorization_permission = fields.Selection(AUTHORIZATIONS, string="Authorization", default='SelfInvoicing')
    internal_id = fields.Char(
        string="Internal ID", help="The subunit's identifier NIP-NNNNN; type only its four-digit number (e.g. 0001) "
                                   "and the check digit is added.")
    subunit_name = fields.Char(string="Subunit name")

    def action_refresh(self):
        self.ensure_one()
        self.result_message = False
        self._load_lines()
        return self._reopen()

    # --- the lists ---

    def _l10n_pl_ksef_read_lines(self):
        """Replace the lines by what KSeF holds now for the company's context."""
        self.ensure_one()
        found = self.company_id._l10n_pl_ksef_run(lambda client, tokens: (tokens.context, {
            'persons': client.query_permissions(tokens, 'persons', {'queryType': 'PermissionsInCurrentContext'}),
            'authorizations': client.query_permissions(tokens, 'authorizations', {'queryType': 'Granted'}),
            'subunits': client.query_permissions(tokens, 'subunits', {}),
        }))
        (context_type, context_value), lists = found
        values = [_person_or_entity_line(item) for item in lists['persons']] + \
            [_authorization_line(item) for item in lists['authorizations']] + \
            [_subunit_line(item) for item in lists['subunits']]
        self.line_ids.unlink()
        self.write({'ksef_context': f'{context_type} {context_value}',
                    'line_ids': [fields.Command.create(line) for line in values]})

    def _outcome(self, status, done):
        """The message of a finished operation (status 200); anything else is an error in plain words."""
        code = status.get('code')
        if code == 200:
            return done
        if code == 100:
            raise UserError(_("KSeF accepted the request but has not finished it yet. Press Refresh in a moment "
                              "to see whether it was carried out."))
        reason, description = OPERATION_FAILURES.get(code), status.get('description') or '-'
        if reason:
            raise UserError(_("KSeF did not carry out the operation: %(reason)s (status %(code)s: %(description)s).",
                              reason=reason._translate(self.env.lang), code=code, description=description))
        raise UserError(_("KSeF did not carry out the operation (status %(code)s): %(description)s",
                          code=code, description=description))

    # --- granting ---

    def action_grant(self):
        self.ensure_one()
        kind, body = self._grant_request()
        status = self.company_id._l10n_pl_ksef_run(lambda client, tokens: client.grant_permissions(tokens, kind, body))
        message = self._outcome(status, _("KSeF granted the permission to %s.", body['subjectIdentifier']['value']))
        self._load_lines()
        self.write(dict(self._empty_grant_form(), result_message=message))
        return self._reopen()

    def _empty_grant_form(self):
        return dict({name: False for name in PERMISSION_CHECKBOXES.values()}, identifier=False, first_name=False,
                    last_name=False, person_identifier=False, birth_date=False, id_document_type=False,
                    id_document_number=False, id_document_country_id=False, full_name=False, description=False,
                    can_delegate=False, internal_id=False, subunit_name=False)

    def _grant_request(self):
        """(kind of grant for the client, request body) of the form, checked before anything is sent."""
        self._check_length('description', _("Description"))
        if self.grant_kind == 'person':
            subject = self._person_subject()
            return 'persons', {'subjectIdentifier': subject, 'description': self.description,
                               'permissions': self._chosen_permissions(PERMISSION_CHECKBOXES),
                               'subjectDetails': self._person_details(subject)}
        if self.grant_kind == 'entity':
            subject = {'type': 'Nip', 'value': self._checked_nip(self.identifier)}
            permissions = [{'type': code, 'canDelegate': self.can_delegate}
                           for code in self._chosen_permissions(ENTITY_PERMISSIONS)]
            return 'entities', {'subjectIdentifier': subject, 'permissions': permissions,
                                'description': self.description, 'subjectDetails': self._entity_details()}
        if self.grant_kind == 'authorization':
            return 'authorizations', self._authorization_request()
        subject = self._person_subject()
        self._check_length('subunit_name', _("Subunit name"))
        return 'subunits', {'subjectIdentifier': subject, 'description': self.description,
                            'contextIdentifier': {'type': 'InternalId', 'value': self._checked_internal_id()},
                            'subunitName': self.subunit_name, 'subjectDetails': self._person_details(subject)}

    def _authorization_request(self):
        if self.authorized_identifier_type == 'PeppolId':
            value = (self.identifier or '').strip().upper()
            if identifiers.check_peppol_id(value):
                raise UserError(_("The Peppol ID %s is not valid: it has the form PXX000000 (P, two capital letters, "
                                  "six digits).", value))
        else:
            value = self._checked_nip(self.identifier)
        if not self.authorization_permission:
            raise UserError(_("Choose the authorization to grant."))
        return {'subjectIdentifier': {'type': self.authorized_identifier_type or 'Nip', 'value': value},
                'permission': self.authorization_permission, 'description': self.description,
                'subjectDetails': self._entity_details()}

    def _chosen_permissions(self, codes):
        chosen = [code for code in codes if self[PERMISSION_CHECKBOXES[code]]]
        if not chosen:
            raise UserError(_("Tick at least one permission to grant."))
        return chosen

    def _entity_details(self):
        self._check_length('full_name', _("Entity name"))
        return {'fullName': self.full_name.strip()}

    def _person_subject(self):
        kind = self.identifier_type
        if kind == 'Fingerprint':
            value = identifiers.normalize_fingerprint(self.identifier)
            if identifiers.check_fingerprint(value):
                raise UserError(_("The certificate fingerprint is not valid: it has exactly 64 hexadecimal "
                                  "characters. Copy the SHA-256 fingerprint of the certificate."))
            return {'type': 'Fingerprint', 'value': value}
        if kind == 'Pesel':
            return {'type': 'Pesel', 'value': self._checked_pesel(self.identifier)}
        if kind == 'Nip':
            return {'type': 'Nip', 'value': self._checked_nip(self.identifier)}
        raise UserError(_("Choose how the person is identified: NIP, PESEL or certificate fingerprint."))

    def _person_details(self, subject):
        """subjectDetails as the contract wants them for this identifier (names always; for a certificate
        fingerprint also the holder's NIP/PESEL, or the date of birth and an identity document)."""
        self._check_length('first_name', _("First name"))
        self._check_length('last_name', _("Last name"))
        names = {'firstName': self.first_name.strip(), 'lastName': self.last_name.strip()}
        if subject['type'] != 'Fingerprint':
            return {'subjectDetailsType': 'PersonByIdentifier', 'personById': names}
        holder = re.sub(r'[\s-]', '', self.person_identifier or '')
        if holder:
            kind = 'Nip' if len(holder) == 10 else 'Pesel'
            value = self._checked_nip(holder) if kind == 'Nip' else self._checked_pesel(holder)
            return {'subjectDetailsType': 'PersonByFingerprintWithIdentifier',
                    'personByFpWithId': dict(names, identifier={'type': kind, 'value': value})}
        if not self.birth_date or not self.id_document_country_id:
            raise UserError(_("For a certificate fingerprint, give the holder's NIP or PESEL, or else the date "
                              "of birth and an identity document (type, number, country)."))
        self._check_length('id_document_type', _("Identity document"))
        self._check_length('id_document_number', _("Document number"))
        return {'subjectDetailsType': 'PersonByFingerprintWithoutIdentifier', 'personByFpNoId': dict(
            names, birthDate=fields.Date.to_string(self.birth_date), idDocument={
                'type': self.id_document_type.strip(), 'number': self.id_document_number.strip(),
                'country': self.id_document_country_id.code.upper()})}

    def _check_length(self, name, label):
        shortest, longest = LENGTHS[name]
        if not shortest <= len((self[name] or '').strip()) <= longest:
            raise UserError(_("%(field)s must have %(shortest)s to %(longest)s characters.", field=label,
                              shortest=shortest, longest=longest))

    def _checked_nip(self, value):
        nip = identifiers.normalize_nip(value)
        if identifiers.check_nip(nip):
            raise UserError(_("The NIP %s is not valid: it has 10 digits, the last one a check digit.", value or ''))
        return nip

    def _checked_pesel(self, value):
        pesel = re.sub(r'\s', '', value or '')
        if identifiers.check_pesel(pesel):
            raise UserError(_("The PESEL %s is not valid: it has 11 digits, starts with the date of birth and ends "
                              "with a check digit.", value or ''))
        return pesel

    def _checked_internal_id(self):
        """The subunit's internal ID: the context NIP, a hyphen, four digits and the check digit KSeF computes."""
        nip = self.company_id._l10n_pl_ksef_context()[1].split('-')[0]
        value = re.sub(r'\s', '', self.internal_id or '')
        if re.fullmatch(r'\d{4}', value):
            value = f'{nip}-{value}{identifiers.internal_id_check_digit(nip + value)}'
        if identifiers.check_internal_id(value):
            raise UserError(_("The internal ID %s is not valid: it is the NIP, a hyphen and five digits, the last one "
                              "a check digit (type only the first four digits to have it added).", value))
        if not value.startswith(f'{nip}-'):
            raise UserError(_("The internal ID %(value)s must start with the company's NIP %(nip)s.",
                              value=value, nip=nip))
        return value


class L10nPlKsefPermissionWizardLine(models.TransientModel):
    _name = 'l10n_pl_ksef.permission.wizard.line'
    _description = "KSeF permission"
    _order = 'kind, name, identifier, permission_code'

    wizard_id = fields.Many2one('l10n_pl_ksef.permission.wizard', required=True, ondelete='cascade')
    kind = fields.Selection(KINDS, string="Kind", required=True, readonly=True)
    permission_id = fields.Char(string="KSeF permission ID", readonly=True)
    identifier_type = fields.Selection(IDENTIFIER_TYPES, string="Identified by", readonly=True)
    identifier = fields.Char(string="Identifier", readonly=True)
    name = fields.Char(string="Name", readonly=True)
    permission = fields.Selection(PERMISSIONS, string="Permission", readonly=True)
    permission_code = fields.Char(string="Permission code", readonly=True)
    description = fields.Char(string="Description", readonly=True)
    granted_on = fields.Datetime(string="Granted on", readonly=True)
    can_delegate = fields.Boolean(string="Can delegate", readonly=True)
    internal_id = fields.Char(string="Internal ID", readonly=True)
    subunit_name = fields.Char(string="Subunit name", readonly=True)

    def action_revoke(self):
        """Revoke in KSeF (authorizations have their own endpoint), wait for the outcome, show the lists again."""
        self.ensure_one()
        wizard, permission_id, authorization = self.wizard_id, self.permission_id, self.kind == 'authorization'
        status = wizard.company_id._l10n_pl_ksef_run(
            lambda client, tokens: client.revoke_permission(tokens, permission_id, authorization=authorization))
        message = wizard._outcome(status, _("KSeF revoked %(permission)s of %(who)s.",
                                            permission=self._permission_label(), who=self.name or self.identifier))
        wizard._load_lines()
        wizard.result_message = message
        return wizard._reopen()

    def _permission_label(self):
        return dict(self._fields['permission']._description_selection(self.env)).get(self.permission) \
            or self.permission_code


# --- KSeF list items to line values ---

KNOWN_PERMISSIONS = {code for code, _label in PERMISSIONS}


def _permission_values(code):
    return {'permission': code if code in KNOWN_PERMISSIONS else False, 'permission_code': code}


def _subject_values(identifier):
    identifier = identifier or {}
    kind = identifier.get('type')
    return {'identifier_type': kind if kind in dict(IDENTIFIER_TYPES) else False, 'identifier': identifier.get('value')}


def _person_name(details):
    return ' '.join(filter(None, [(details or {}).get('firstName'), (details or {}).get('lastName')])) or False




def _person_or_entity_line(item):
    entity = item.get('subjectEntityDetails')
    return dict(_subject_values(item.get('authorizedIdentifier')), **_permission_values(item.get('permissionScope')),
                kind='entity' if entity else 'person', permission_id=item['id'],
                name=entity['fullName'] if entity else _person_name(item.get('subjectPersonDetails')),
                description=item.get('description'), granted_on=odoo_datetime(item.get('startDate')),
                can_delegate=bool(item.get('canDelegate')))


def _authorization_line(item):
    return dict(_subject_values(item.get('authorizedEntityIdentifier')),
                **_permission_values(item.get('authorizationScope')), kind='authorization', permission_id=item['id'],
                name=(item.get('subjectEntityDetails') or {}).get('fullName') or False,
                description=item.get('description'), granted_on=odoo_datetime(item.get('startDate')))


def _subunit_line(item):
    return dict(_subject_values(item.get('authorizedIdentifier')), **_permission_values(item.get('permissionScope')),
                kind='subunit', permission_id=item['id'], name=_person_name(item.get('subjectPersonDetails')),
                internal_id=(item.get('subunitIdentifier') or {}).get('value'), subunit_name=item.get('subunitName'),
                description=item.get('description'), granted_on=odoo_datetime(item.get('startDate')))
