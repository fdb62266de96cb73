"""Active KSeF authentication sessions of the company's context, listed live from KSeF and ended from Odoo
(ending one stops its refresh token; access tokens already issued work until they expire)."""
from odoo import Command, _, fields, models

from ..models.res_company_ksef import FORGOTTEN_TOKENS
from ..models.ksef_time import odoo_datetime


class L10nPlKsefSessionWizard(models.TransientModel):
    _name = 'l10n_pl_ksef.session.wizard'
    _inherit = ['l10n_pl_ksef.live.wizard']
    _description = "KSeF login sessions"

    line_ids = fields.One2many('l10n_pl_ksef.session.wizard.line', 'wizard_id', string="Active KSeF login sessions")
    notice = fields.Char(string="Notice", readonly=True)

    def _l10n_pl_ksef_read_lines(self):
        self.ensure_one()
        items = self.company_id._l10n_pl_ksef_run(lambda client, access: client.auth_sessions(access))
        self.line_ids = [Command.clear()] + [Command.create(self._line_values(item)) for item in items]

    def _line_values(self, item):
        method = item.get('authenticationMethodInfo') or {}
        status = item.get('status') or {}
        return {
            'reference': item['referenceNumber'],
            'started': odoo_datetime(item.get('startDate')),
            'method': method.get('displayName') or item.get('authenticationMethod'),
            'status': ' '.join(filter(None, (str(status.get('code') or ''), status.get('description')))),
            'is_current': bool(item.get('isCurrent')),
            'token_redeemed': bool(item.get('isTokenRedeemed')),
            'last_refresh': odoo_datetime(item.get('lastTokenRefreshDate')),
            'refresh_valid_until': odoo_datetime(item.get('refreshTokenValidUntil')),
        }

    def action_refresh(self):
        self.notice = False
        self._load_lines()
        return self._reopen()


class L10nPlKsefSessionWizardLine(models.TransientModel):
    _name = 'l10n_pl_ksef.session.wizard.line'
    _description = "KSeF login session"
    _order = 'started desc, id'

    wizard_id = fields.Many2one('l10n_pl_ksef.session.wizard', required=True, ondelete='cascade')
    reference = fields.Char(string="Reference", readonly=True)
    started = fields.Datetime(string="Started", readonly=True)
    method = fields.Char(string="Login method", readonly=True)
    status = fields.Char(string="Status", readonly=True)
    is_current = fields.Boolean(string="Odoo's session", readonly=True,
                                help="The session Odoo itself uses for this company's KSeF calls.")
    token_redeemed = fields.Boolean(string="Tokens issued", readonly=True)
    last_refresh = fields.Datetime(string="Last refresh", readonly=True)
    refresh_valid_until = fields.Datetime(string="Refresh token valid until", readonly=True)

    def action_end(self):
        """End the session in KSeF. Ending Odoo's own session also drops the tokens Odoo cached for it."""
        self.ensure_one()
        wizard, company = self.wizard_id, self.wizard_id.company_id
        company._l10n_pl_ksef_run(lambda client, access: client.end_auth_session(access, self.reference))
        if not self.is_current:
            wizard._load_lines()
            return wizard._reopen()
        # no reload: listing needs a session, and a new login right away would undo what was asked
        company.sudo().write(FORGOTTEN_TOKENS)
        self.unlink()
        wizard.notice = _("Odoo's own KSeF session was ended: Odoo logs in again at its next KSeF call.")
        return wizard._reopen()
