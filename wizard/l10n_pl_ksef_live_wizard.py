"""What the KSeF management wizards (tokens, login sessions, certificates, permissions) share: one company, lists
loaded live from KSeF (KSeF is the source of truth: nothing is kept once the wizard closes), and the wizard
reopened in place after each action."""
from odoo import api, fields, models


class L10nPlKsefLiveWizard(models.AbstractModel):
    _name = 'l10n_pl_ksef.live.wizard'
    _description = "KSeF management wizard"

    company_id = fields.Many2one('res.company', string="Company", required=True, readonly=True,
                                 default=lambda self: self.env.company)

    @api.model
    def _l10n_pl_ksef_open(self, company):
        wizard = self.create({'company_id': company.id})
        wizard._load_lines()
        return wizard._reopen()

    def _load_lines(self):
        """Fill the wizard's lines from KSeF."""
        raise NotImplementedError

    def _reopen(self):
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'name': self.env['ir.model']._get(self._name).name,
                'res_model': self._name, 'res_id': self.id, 'view_mode': 'form', 'target': 'new'}
