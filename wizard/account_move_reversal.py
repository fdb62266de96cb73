from odoo import fields, models

from ..models.account_move import CORRECTION_TYPES


class AccountMoveReversal(models.TransientModel):
    _inherit = 'account.move.reversal'

    l10n_pl_ksef_correction_type = fields.Selection(
        selection=CORRECTION_TYPES, string="Correction effect",
        help="When the correction takes effect for VAT (FA(3) TypKorekty).",
    )

    def _prepare_default_reversal(self, move):
        # EXTENDS 'account': the reason given here is the FA(3) correction reason of the credit note
        values = super()._prepare_default_reversal(move)
        if move.l10n_pl_ksef_applicable:
            values['l10n_pl_ksef_correction_reason'] = self.reason or False
            values['l10n_pl_ksef_correction_type'] = self.l10n_pl_ksef_correction_type or False
        return values
