"""What the KSeF management wizards (tokens, login sessions, certificates, permissions) share: one company, lists
loaded live from KSeF (KSeF is the source of truth: nothing is kept once the wizard closes), and the wizard
reopened in place after each action."""
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)
# what reading an answer of an unexpected shape raises in a wizard (a field missing, a value of another type or
# outside a selection)
_ANSWER_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError)


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
        """Fill the wizard's lines from KSeF; an answer the wizard cannot read is said in plain words, not as a
        crash."""
        try:
            self._l10n_pl_ksef_read_lines()
        except _ANSWER_ERRORS as error:
            _logger.warning("KSeF answer not readable by %s", self._name, exc_info=True)
            raise UserError(_("KSeF's answer could not be read (%(error)s: %(detail)s). Try again later; if it "
                              "persists, KSeF may have changed its answers: tell your Odoo partner.",
                              error=type(error).__name__, detail=str(error)[:120])) from None

    def _l10n_pl_ksef_read_lines(self):
        """Read the wizard's lines from KSeF (each wizard its own)."""
        raise NotImplementedError

    def _reopen(self):
        self.ensure_one()
        return {'type': 'ir.actions.act_window', 'name': self.env['ir.model']._get(self._name).name,
                'res_model': self._name, 'res_id': self.id, 'view_mode': 'form', 'target': 'new'}
