"""What the accountant chose for a vendor's line text on bills made from KSeF, used on the vendor's next bills.

When a bill made from KSeF is posted, every line whose product or account differs from what Odoo proposed when
it created the bill teaches a mapping (company, vendor, normalized line text) -> (product, account)."""
from odoo import api, fields, models


class L10nPlKsefProductMapping(models.Model):
    _name = 'l10n_pl_ksef.product.mapping'
    _description = "KSeF learned product of a vendor's line text"
    _order = 'partner_id, name'
    _check_company_auto = True

    company_id = fields.Many2one('res.company', required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one('res.partner', string="Vendor", required=True, index=True, ondelete='cascade')
    name = fields.Char(string="Line text", required=True,
                       help="The vendor's line text (P_7), in lower case with single spaces.")
    product_id = fields.Many2one('product.product', string="Product", ondelete='cascade', check_company=True)
    account_id = fields.Many2one('account.account', string="Account", ondelete='cascade', check_company=True)

    _sql_constraints = [
        ('l10n_pl_ksef_mapping_unique', 'unique(company_id, partner_id, name)',
         "A vendor's line text is mapped once per company."),
    ]

    @api.model
    def _l10n_pl_ksef_of_vendor(self, company, vendor):
        """{line text: mapping} of ``vendor`` in ``company``."""
        return {m.name: m for m in self.search([('company_id', '=', company.id), ('partner_id', '=', vendor.id)])}

    @api.model
    def _l10n_pl_ksef_learn(self, lines):
        """Remember the product and account of ``lines`` (bill lines made from KSeF) for their vendor's text."""
        for line in lines:
            key = (line.company_id, line.move_id.commercial_partner_id, line.l10n_pl_ksef_line_text)
            mapping = self.search([('company_id', '=', key[0].id), ('partner_id', '=', key[1].id),
                                   ('name', '=', key[2])], limit=1)
            values = {'product_id': line.product_id.id, 'account_id': line.account_id.id}
            if mapping:
                mapping.write(values)
            else:
                self.create({'company_id': key[0].id, 'partner_id': key[1].id, 'name': key[2], **values})


class AccountMoveLine(models.Model):
    _inherit = 'account.move.line'

    # set on the lines of bills made from KSeF: the vendor's text, and what Odoo proposed for it
    # what the vendor wrote and what Odoo proposed for it: posting compares them with the accountant's choice
    l10n_pl_ksef_line_text = fields.Char(string="KSeF line text", copy=False, readonly=True)
    l10n_pl_ksef_proposed_product_id = fields.Many2one('product.product', string="Product proposed from KSeF",
                                                       copy=False, readonly=True)
    l10n_pl_ksef_proposed_account_id = fields.Many2one('account.account', string="Account proposed from KSeF",
                                                       copy=False, readonly=True)

    @api.model
    def _l10n_pl_ksef_remember_proposals(self, bills):
        """What Odoo proposed (product, account) on the new bills' lines, in one statement for the batch."""
        if not bills:
            return
        self.env.flush_all()
        self.env.cr.execute("""
            UPDATE account_move_line
               SET l10n_pl_ksef_proposed_product_id = product_id, l10n_pl_ksef_proposed_account_id = account_id
             WHERE move_id IN %s AND l10n_pl_ksef_line_text IS NOT NULL
        """, (tuple(bills.ids),))
        self.invalidate_model(['l10n_pl_ksef_proposed_product_id', 'l10n_pl_ksef_proposed_account_id'])


class AccountMove(models.Model):
    _inherit = 'account.move'

    def _post(self, soft=True):
        posted = super()._post(soft)
        corrected = posted.filtered(lambda m: m.is_purchase_document() and m.l10n_pl_ksef_number).invoice_line_ids.filtered(
            lambda l: l.l10n_pl_ksef_line_text and (l.product_id != l.l10n_pl_ksef_proposed_product_id
                                                    or l.account_id != l.l10n_pl_ksef_proposed_account_id))
        if corrected:
            self.env['l10n_pl_ksef.product.mapping']._l10n_pl_ksef_learn(corrected)
        return posted
