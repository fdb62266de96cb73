"""Received FA(3) invoices become draft vendor bills (issue 8).

Each inbound document is turned into values first (parse, vendor, currency, taxes, products: data problems
are collected per document), then the bills of a batch are made by one ``create`` (a benchmark needs many bills
a second); a document that fails is rolled back alone and kept in state 'error' with a message that says what to
fix, so one bad invoice never blocks the others. The same method retries it once the configuration is fixed.
"""
import datetime
import logging
import re
from decimal import Decimal, ROUND_HALF_UP

from psycopg2 import errors as pg_errors

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import split_every

from ..ksef import fa3, identifiers
from ..ksef.errors import KsefError
from ..ksef.fa3.checks import BUCKETS

_logger = logging.getLogger(__name__)

CENT = Decimal('0.01')
BILL_BATCH = 200
FREQUENT_ACCOUNTS = 'l10n_pl_ksef_frequent_accounts'   # cursor cache key: see _l10n_pl_ksef_make_bills
# FA(3) buckets whose lines tell nothing (ZAL: the advance, ROZ: the rest to pay) -> the KSeF rate codes they hold,
# the usual one first (22 and 7 are historic rates, 4 and 3 the taxi flat rates)
BUCKET_RATE_CODES = {
    'net_basic': ('23', '22'), 'net_reduced_1': ('8', '7'), 'net_reduced_2': ('5',), 'net_taxi': ('4', '3'),
    'net_oss': ('oss',), 'net_zero_domestic': ('0 KR',), 'net_zero_wdt': ('0 WDT',), 'net_zero_export': ('0 EX',),
    'net_exempt': ('zw',), 'net_np_i': ('np I',), 'net_np_ii': ('np II',), 'net_reverse_charge': ('oo',),
    'net_margin': (None,),
}
# invoice types booked from their tax buckets rather than from their lines (see BUCKET_RATE_CODES)
BUCKET_TYPES = ('ZAL', 'ROZ', 'KOR_ZAL', 'KOR_ROZ')
PERCENT = {code: percent for code, (_n, _v, _p, percent) in BUCKETS.items()}
PL_ZIP_CITY = re.compile(r'^\s*([0-9]{2}-[0-9]{3})\s+(.+)$')
VENDOR_NIP_INDEX = 'res_partner_l10n_pl_ksef_vendor_nip_uniq'


class _VendorRaceFilter(logging.Filter):
    """Odoo logs every refused query as an error; the unique index of the vendors refusing a second vendor for
    one NIP is expected (two workers at once, handled by the caller), not an error for the log. A filter on the
    logger rather than mute_logger, which switches the logger off for every thread while one is inside it."""

    def filter(self, record):
        return VENDOR_NIP_INDEX not in record.getMessage()


logging.getLogger('odoo.sql_db').addFilter(_VendorRaceFilter())


class AccountAccount(models.Model):
    _inherit = 'account.account'

    @api.model
    def _get_most_frequent_account_for_partner(self, company_id, partner_id, move_type=None, journal_id=None):
        memo = self.env.cr.cache.get(FREQUENT_ACCOUNTS)
        if memo is None:
            return super()._get_most_frequent_account_for_partner(company_id, partner_id, move_type, journal_id)
        key = (company_id, partner_id, move_type, journal_id)
        if key not in memo:
            memo[key] = super()._get_most_frequent_account_for_partner(company_id, partner_id, move_type, journal_id)
        return memo[key]


class L10nPlKsefBillError(Exception):
    """A data or configuration problem of one received invoice: its message says what to fix."""


def _dec(value):
    return Decimal(str(value or 0))


def _money(value):
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _normalize_text(text):
    """The line text as the learned mapping compares it: case, spacing and end punctuation do not count."""
    return re.sub(r'\s+', ' ', (text or '').strip().lower()).strip(' .,;:-') or False


class L10nPlKsefDocument(models.Model):
    _inherit = 'l10n_pl_ksef.document'

    # --- entry points --------------------------------------------------------------------------------

    def action_l10n_pl_ksef_create_bills(self):
        """Buttons "Create bill" / "Retry" and the list action: the selected received documents, now."""
        bills = self._l10n_pl_ksef_create_bills()
        failed = self.filtered(lambda d: d.state == 'error')
        if len(bills) == 1 and not failed:
            return {'type': 'ir.actions.act_window', 'res_model': 'account.move', 'res_id': bills.id,
                    'view_mode': 'form', 'views': [(False, 'form')]}
        message = _("Bills created: %(created)s. Not created (see their message): %(failed)s.",
                    created=len(bills), failed=len(failed))
        return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': {
            'type': 'warning' if failed else 'success', 'title': _("Vendor bills from KSeF"), 'message': message,
            'sticky': bool(failed), 'next': {'type': 'ir.actions.client', 'tag': 'soft_reload'}}}

    @api.model
    def _cron_l10n_pl_ksef_create_bills(self, limit=2000):
        """Bills for what the sync received (and retries of errors, in case the configuration was fixed)."""
        pending = self.search([('direction', '=', 'in'), ('state', 'in', ('received', 'error'))],
                              order='state desc, id', limit=limit)   # 'received' before 'error'
        for company in pending.company_id:
            for batch in split_every(BILL_BATCH, pending.filtered(lambda d: d.company_id == company).ids, self.browse):
                batch.with_company(company)._l10n_pl_ksef_create_bills()
                self._l10n_pl_ksef_commit()
        if len(pending) == limit:
            self._l10n_pl_ksef_trigger_bill_makers()
        elif pending and self.search_count([('id', 'in', pending.ids), ('state', '=', 'received')], limit=1):
            # left by this run: held by another runner, changed by it meanwhile, or waiting for the vendor it
            # created; a minute later they are done or free (nothing stays 'received' unseen)
            self._l10n_pl_ksef_trigger_bill_makers(delay=60)

    @api.model
    def _l10n_pl_ksef_trigger_bill_makers(self, delay=0):
        """Every scheduled action that makes bills (two are shipped; an administrator may duplicate one for
        more parallel runners), so that each free cron thread takes a share of the documents."""
        at = fields.Datetime.now() + datetime.timedelta(seconds=delay) if delay else None
        for cron in self.env['ir.cron'].sudo().search([
                ('model_id.model', '=', self._name), ('code', 'like', '_cron_l10n_pl_ksef_create_bills')]):
            cron._trigger(at)

    def _l10n_pl_ksef_create_bills(self):
        """Draft vendor bills (credit notes for corrections) of the received documents of ``self`` in state
        received or error. Never raises for data problems: such a document goes to 'error' with what to fix.
        Returns the bills created."""
        documents = self.filtered(lambda d: d.direction == 'in' and d.state in ('received', 'error'))
        documents = documents._l10n_pl_ksef_lock(('received', 'error'))
        bills = self.env['account.move']
        for company in documents.company_id:
            of_company = documents.filtered(lambda d: d.company_id == company).with_company(company)
            for batch in split_every(BILL_BATCH, of_company.ids, of_company.browse):
                bills |= batch._l10n_pl_ksef_create_bill_batch()
        return bills

    # --- one batch -----------------------------------------------------------------------------------

    def _l10n_pl_ksef_create_bill_batch(self):
        cache = {}
        prepared = {}
        existing = self._l10n_pl_ksef_existing_bills()
        waiting_for_vendor = False
        for document in self:
            if document.ksef_number in existing:
                # booked before (e.g. by hand or a lost run): link it, never a second bill for one KSeF number
                document.write({'state': 'bill_created', 'move_id': existing[document.ksef_number].id, 'message': False})
                continue
            try:
                with self.env.cr.savepoint():
                    prepared[document] = document._l10n_pl_ksef_prepare_bill(cache)
            except Exception as error:  # noqa: BLE001 - one document's problem must never stop the others
                cache.clear()   # it may hold records the rollback removed
                if _is_vendor_race(error):
                    # another worker created this vendor at the same moment: the document stays 'received' and
                    # the next run finds the vendor, so no vendor is created twice
                    _logger.info("KSeF bills: document %s waits for a vendor another worker created", document.id)
                    waiting_for_vendor = True
                    continue
                document._l10n_pl_ksef_bill_failed(error)
        if waiting_for_vendor:
            self._l10n_pl_ksef_trigger_bill_makers()
        if not prepared:
            return self.env['account.move']
        try:
            with self.env.cr.savepoint():
                return self._l10n_pl_ksef_make_bills(prepared)
        except Exception:  # noqa: BLE001 - find the document that broke the batch: one by one
            _logger.info("KSeF bills: batch of %s failed, creating them one by one", len(prepared), exc_info=True)
        bills = self.env['account.move']
        for document, prepared_bill in prepared.items():
            try:
                with self.env.cr.savepoint():
                    bills |= self._l10n_pl_ksef_make_bills({document: prepared_bill})
            except Exception as error:  # noqa: BLE001
                document._l10n_pl_ksef_bill_failed(error)
        return bills

    def _l10n_pl_ksef_existing_bills(self):
        numbers = [n for n in self.mapped('ksef_number') if n]
        if not numbers:
            return {}
        bills = self.env['account.move'].search([('company_id', '=', self.env.company.id),
                                                 ('move_type', 'in', ('in_invoice', 'in_refund')),
                                                 ('l10n_pl_ksef_number', 'in', numbers)])
        return {bill.l10n_pl_ksef_number: bill for bill in bills}

    def _l10n_pl_ksef_bill_failed(self, error):
        self.ensure_one()
        if isinstance(error, (L10nPlKsefBillError, UserError, ValidationError)):
            message = error.args[0] if error.args else str(error)
        elif isinstance(error, KsefError):
            message = _("The FA(3) file cannot be read: %s", error)
        else:
            _logger.exception("KSeF bill of document %s failed", self.id, exc_info=error)
            message = _("Unexpected error, tell your administrator: %s", error)
        self.write({'state': 'error', 'message': message})

    def _l10n_pl_ksef_make_bills(self, prepared):
        """One create for the bills of ``prepared`` {document: (move values, invoice, xml)}, then the checks and
        links; the bills whose total is not the invoice's are removed again and their documents put in error."""
        # Odoo proposes the account of a line without product from the vendor's past lines, one query per line
        # that grows with the vendor's history: asked once per vendor and journal for the whole create (no line of
        # this create is in the database before all of them have their account, so every answer is the same)
        self.env.cr.cache[FREQUENT_ACCOUNTS] = {}
        try:
            bills = self.env['account.move'].with_context(
                tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True,
            ).create([values for values, _invoice, _xml in prepared.values()]).with_env(self.env)
        finally:
            self.env.cr.cache.pop(FREQUENT_ACCOUNTS, None)
        self.env['account.move.line']._l10n_pl_ksef_remember_proposals(bills)
        wrong = self.env['account.move']
        checks = list(zip(bills, prepared.keys(), (invoice for _values, invoice, _xml in prepared.values())))
        to_sync, direct_fixes = self.env['account.move'], []
        for bill, document, invoice in checks:
            fix = bill._l10n_pl_ksef_direct_rounding_fix(invoice)
            if fix is False:
                to_sync |= bill
            elif fix:
                direct_fixes += fix
        if direct_fixes:
            # one write for the whole batch: Odoo's balance check and its (skipped) line sync are entered once
            # instead of once per bill, which cost a tenth of the bills' time
            bills.with_context(skip_invoice_sync=True, skip_is_manually_modified=True, tracking_disable=True).write(
                {'line_ids': direct_fixes})
        # the other rounding fixes need Odoo's sync of the dynamic lines (payment terms): the bills are balanced
        # and synchronised once for them all instead of after every write
        container = {'records': to_sync}
        with to_sync._check_balanced(container), to_sync._sync_dynamic_lines(container):
            for bill, document, invoice in checks:
                if bill in to_sync:
                    problem = bill._l10n_pl_ksef_match_total(invoice)
                    if problem:
                        wrong |= bill
                        document.write({'state': 'error', 'message': problem})
        good = bills - wrong
        wrong.unlink()
        good._l10n_pl_ksef_link_corrected({bill: invoice for bill, (_values, invoice, _xml) in
                                           zip(bills, prepared.values()) if bill in good})
        self.env['ir.attachment'].create([{
            'name': f'{document.ksef_number or bill.ref}.xml', 'raw': xml, 'mimetype': 'application/xml',
            'res_model': 'account.move', 'res_id': bill.id, 'company_id': bill.company_id.id,
        } for bill, (document, (_values, _invoice, xml)) in zip(bills, prepared.items()) if bill in good])
        for bill, (document, (_values, invoice, _xml)) in zip(bills, prepared.items()):
            if bill in good:
                document.write({'state': 'bill_created', 'move_id': bill.id, 'message': False})
                bill._l10n_pl_ksef_post_bill_notes(invoice)
        return good

    # --- from the FA(3) to the bill's values --------------------------------------------------------

    def _l10n_pl_ksef_prepare_bill(self, cache):
        """(account.move values, parsed invoice, xml bytes) of this received document; raises
        L10nPlKsefBillError with what to fix."""
        self.ensure_one()
        if not self.attachment_id:
            raise L10nPlKsefBillError(_("The document has no FA(3) file: download it from KSeF again."))
        xml = self._l10n_pl_ksef_xml()
        invoice = fa3.parse(xml)
        body = invoice.body
        company = self.company_id
        partner = self._l10n_pl_ksef_bill_partner(invoice.seller, cache)
        currency = self._l10n_pl_ksef_bill_currency(body.currency, cache)
        journal = self._l10n_pl_ksef_bill_journal(cache)
        fiscal_position = self.env['account.fiscal.position'].with_company(company)._get_fiscal_position(partner)
        total = _dec(body.total)
        is_correction = body.invoice_type in fa3.CORRECTION_TYPES
        move_type = 'in_refund' if is_correction and total < 0 else 'in_invoice'
        sign = -1 if move_type == 'in_refund' else 1
        booking = {'partner': partner, 'fiscal_position': fiscal_position, 'sign': sign, 'cache': cache,
                   'currency': currency, 'move_type': move_type}
        if body.invoice_type in BUCKET_TYPES or not body.lines:
            lines = self._l10n_pl_ksef_bucket_lines(invoice, booking)
        else:
            lines = [self._l10n_pl_ksef_line_values(line, booking) for line in body.lines]
        values = {
            'move_type': move_type,
            'company_id': company.id,
            'journal_id': journal.id,
            'partner_id': partner.id,
            'currency_id': currency.id,
            'fiscal_position_id': fiscal_position.id,
            'invoice_date': body.issue_date,
            'ref': body.number,
            'l10n_pl_ksef_number': self.ksef_number,
            'l10n_pl_ksef_acquisition_date': self.acquisition_date,
            'invoice_line_ids': [Command.create(line) for line in lines],
        }
        self._l10n_pl_ksef_base_line_amounts(lines, booking)
        if body.supply_date:
            values['delivery_date'] = body.supply_date
        values.update(self._l10n_pl_ksef_payment_values(body.payment, body.number, partner, cache))
        if is_correction:
            values.update(self._l10n_pl_ksef_correction_values(body))
        return values, invoice, xml

    def _l10n_pl_ksef_bill_journal(self, cache):
        if 'journal' not in cache:
            cache['journal'] = self.env['account.journal'].search(
                [*self.env['account.journal']._check_company_domain(self.company_id), ('type', '=', 'purchase')],
                order='sequence, id', limit=1)
        if not cache['journal']:
            raise L10nPlKsefBillError(_("Company %s has no purchase journal: create one.", self.company_id.name))
        return cache['journal']

    def _l10n_pl_ksef_bill_currency(self, code, cache):
        currencies = cache.setdefault('currencies', {})
        if code not in currencies:
            currencies[code] = self.env['res.currency'].with_context(active_test=False).search(
                [('name', '=', code)], limit=1)
        currency = currencies[code]
        if not currency:
            raise L10nPlKsefBillError(_("Currency %s is unknown to Odoo: create it.", code))
        if not currency.active:
            raise L10nPlKsefBillError(_("Currency %s is not active: activate it in the accounting settings, then "
                                        "retry.", code))
        return currency

    # --- lines ----------------------------------------------------------------------------------------

    def _l10n_pl_ksef_line_values(self, line, booking):
        # rows showing the state before a correction count negative; a credit note books the difference positive
        sign = booking['sign'] * (-1 if line.before_correction else 1)
        code = line.rate or ('oss' if line.oss_rate is not None else None)
        quantity = _dec(line.quantity) if line.quantity is not None else Decimal(1)
        net = self._l10n_pl_ksef_line_net(line, code, quantity)
        unit_price = line.unit_price_net
        if unit_price is None and line.unit_price_gross is not None:
            # Gross prices (P_9B) are converted to net: the company's purchase taxes exclude the price, and a
            # price-included twin of every tax would double the taxes in the chart and the VAT reports. Tax per
            # rate on the total (FA(3)) vs per line (Odoo) is reconciled by _l10n_pl_ksef_match_total.
            percent = PERCENT.get(code)
            unit_price = _dec(line.unit_price_gross) * 100 / (100 + percent) if percent else _dec(line.unit_price_gross)
        discount = Decimal(0)
        if line.discount and unit_price and quantity:
            discount = _dec(line.discount) / (quantity * _dec(unit_price)) * 100
        quantity, price_unit, discount = self._l10n_pl_ksef_fit_line(quantity, unit_price, discount, net)
        partner = booking['partner']
        product, account = self._l10n_pl_ksef_line_product(line, partner, booking['cache'])
        values = {
            'name': line.name or line.index or _("Line %s", line.number),
            'quantity': float(quantity * sign),
            'price_unit': float(price_unit),
            'discount': float(discount),
            'tax_ids': [Command.set(self._l10n_pl_ksef_line_taxes(code, product, booking).ids)],
            'l10n_pl_ksef_line_text': _normalize_text(line.name),
        }
        if product:
            values['product_id'] = product.id
        if account:
            values['account_id'] = account.id
        uom = self._l10n_pl_ksef_line_uom(line.unit, product, booking['cache'])
        if uom:
            values['product_uom_id'] = uom.id
        return values

    def _l10n_pl_ksef_line_net(self, line, code, quantity):
        if line.net is not None:
            return _dec(line.net)
        if line.unit_price_net is not None:
            return _money(quantity * _dec(line.unit_price_net) - _dec(line.discount))
        gross = _dec(line.gross) if line.gross is not None else _money(
            quantity * _dec(line.unit_price_gross) - _dec(line.discount))
        percent = PERCENT.get(code)
        return gross - _money(gross * percent / (100 + percent)) if percent else gross

    def _l10n_pl_ksef_fit_line(self, quantity, unit_price, discount, net):
        """(quantity, unit price, discount %) as Odoo stores them (its precisions) whose subtotal is the line's
        net P_11: the invoice's own figures when they give it, else the net spread on the quantity, else one
        unit at the net (the quantity is then in the line text only)."""
        precision = self.env['decimal.precision']
        price_digits = precision.precision_get('Product Price')
        discount_digits = precision.precision_get('Discount')

        def subtotal(qty, price, disc):
            return _money(qty * price * (1 - disc / 100))

        candidates = []
        if unit_price is not None:
            candidates.append((quantity, round(_dec(unit_price), price_digits), round(discount, discount_digits)))
        if quantity:
            candidates.append((quantity, round(net / quantity, price_digits), Decimal(0)))
        for qty, price, disc in candidates:
            if subtotal(qty, price, disc) == net:
                return qty, price, disc
        return Decimal(1), net, Decimal(0)

    def _l10n_pl_ksef_bucket_lines(self, invoice, booking):
        """Advance (ZAL), settlement (ROZ) and their corrections: FA(3) puts what this invoice charges in the tax
        buckets (its lines, if any, describe the whole order), so the bill has one line per bucket."""
        body = invoice.body
        order_codes = {line.rate for line in (body.order.lines if body.order else [])} | {
            line.rate for line in body.lines}
        label = {'ZAL': _("Advance payment %s", body.number), 'KOR_ZAL': _("Correction of the advance payment %s",
                                                                           body.number),
                 'ROZ': _("Rest to pay after the advance payments, %s", body.number)}.get(
            body.invoice_type, _("Invoice %s", body.number))
        lines = []
        for attribute, codes in BUCKET_RATE_CODES.items():
            net = getattr(body.totals, attribute)
            if not net:
                continue
            code = next((c for c in codes if c in order_codes), codes[0])
            lines.append({
                'name': label if code is None else f'{label} ({code})',
                'quantity': 1.0,
                'price_unit': float(_dec(net) * booking['sign']),
                'tax_ids': [Command.set(self._l10n_pl_ksef_line_taxes(code, None, booking).ids)],
            })
        if not lines:
            raise L10nPlKsefBillError(_("Invoice %s has neither lines nor tax totals: nothing to book.", body.number))
        return lines

    def _l10n_pl_ksef_line_taxes(self, code, product, booking):
        """The company's purchase tax with KSeF rate ``code`` (the product's own one first), through the vendor's
        fiscal position. No code (margin scheme): no tax."""
        if code is None:
            return self.env['account.tax']
        own = product.supplier_taxes_id.filtered(
            lambda t: t.l10n_pl_ksef_rate_code == code and t.company_id == self.company_id)[:1] if product else None
        tax = own or self._l10n_pl_ksef_purchase_tax(code, booking['cache'])
        return booking['fiscal_position'].map_tax(tax)

    def _l10n_pl_ksef_base_line_amounts(self, lines, booking):
        """The tax report tags and amounts of the product ``lines``, computed by Odoo's own tax helpers exactly as
        its tax sync writes them on every line right after the create (one write per line, a third of the SQL of
        a bill); given at create, the sync finds nothing to write. Not in a foreign currency (the amounts depend
        on the rate) nor with cash-basis taxes (their tags depend on the move): Odoo writes them as usual. Should
        Odoo compute other values, its sync still writes them: a wrong guess costs a write, never a wrong bill."""
        company = self.company_id
        if booking['currency'] != company.currency_id:
            return
        AccountTax = self.env['account.tax']
        taxes = [AccountTax.browse(line['tax_ids'][0][2]) for line in lines]
        if any(t.tax_exigibility != 'on_invoice' for t in AccountTax.union(*taxes).flatten_taxes_hierarchy()):
            return
        is_refund = booking['move_type'] == 'in_refund'
        base_lines = [AccountTax._prepare_base_line_for_taxes_computation(
            None, tax_ids=line_taxes, price_unit=line['price_unit'], quantity=line['quantity'],
            discount=line.get('discount', 0.0), currency_id=company.currency_id, rate=1.0,
            sign=-1 if is_refund else 1, is_refund=is_refund,
            product_id=self.env['product.product'].browse(line.get('product_id')),
        ) for line, line_taxes in zip(lines, taxes)]
        AccountTax._add_tax_details_in_base_lines(base_lines, company)
        AccountTax._round_base_lines_tax_details(base_lines, company)
        AccountTax._add_accounting_data_in_base_lines_tax_details(base_lines, company)
        for line, (_base_line, amounts) in zip(lines, AccountTax._prepare_tax_lines(base_lines, company)[
                'base_lines_to_update']):
            line.update(amounts)

    def _l10n_pl_ksef_purchase_tax(self, code, cache):
        taxes = cache.setdefault('taxes', {})
        if code not in taxes:
            taxes[code] = self.env['account.tax'].search([
                *self.env['account.tax']._check_company_domain(self.company_id),
                ('type_tax_use', '=', 'purchase'), ('l10n_pl_ksef_rate_code', '=', code),
            ], order='sequence, id', limit=1)
        if not taxes[code]:
            raise L10nPlKsefBillError(_(
                "No purchase tax with KSeF rate %(code)s in company %(company)s: create one or set its KSeF rate "
                "(Accounting > Configuration > Taxes, field \"KSeF rate (P_12)\"), then retry.",
                code=code, company=self.company_id.name))
        return taxes[code]

    def _l10n_pl_ksef_line_uom(self, unit, product, cache):
        if not unit:
            return None
        uoms = cache.setdefault('uoms', {})
        key = unit.strip().lower().rstrip('.')
        if 'all' not in uoms:
            uoms['all'] = {u.name.strip().lower().rstrip('.'): u for u in self.env['uom.uom'].search([])}
        uom = uoms['all'].get(key)
        if uom and product and product.uom_id.category_id != uom.category_id:
            return None
        return uom

    def _l10n_pl_ksef_line_product(self, line, partner, cache):
        """(product, account): by the seller's code (Indeks, their product code on the vendor's pricelist), by
        GTIN (barcode), else what the accountant chose for this text of this vendor before."""
        vendor = partner.commercial_partner_id
        if line.index:
            codes = cache.setdefault('vendor_codes', {})
            if vendor.id not in codes:
                infos = self.env['product.supplierinfo'].search([
                    ('partner_id', '=', vendor.id), ('product_code', '!=', False),
                    ('company_id', 'in', (False, self.company_id.id))])
                codes[vendor.id] = {info.product_code: info.product_id or info.product_tmpl_id.product_variant_id
                                    for info in infos}
            product = codes[vendor.id].get(line.index)
            if product:
                return product, None
        if line.gtin:
            product = self.env['product.product'].search([('barcode', '=', line.gtin),
                                                          ('company_id', 'in', (False, self.company_id.id))], limit=1)
            if product:
                return product, None
        mappings = cache.setdefault('mappings', {})
        if vendor.id not in mappings:
            mappings[vendor.id] = self.env['l10n_pl_ksef.product.mapping']._l10n_pl_ksef_of_vendor(
                self.company_id, vendor)
        mapping = mappings[vendor.id].get(_normalize_text(line.name))
        if mapping:
            return mapping.product_id, mapping.account_id
        return None, None

    # --- parties, payment, corrections ----------------------------------------------------------------

    def _l10n_pl_ksef_bill_partner(self, seller, cache):
        partners = cache.setdefault('partners', {})
        nip = identifiers.normalize_nip(seller.nip)
        if nip not in partners:
            partners[nip] = self.env['res.partner']._l10n_pl_ksef_find_by_tax_id(
                self.company_id, [nip, f'PL{nip}'] + ([f'{seller.eu_prefix}{nip}'] if seller.eu_prefix else []))
            if not partners[nip]:
                partners[nip] = self._l10n_pl_ksef_create_vendor(seller, nip)
        return partners[nip]

    def _l10n_pl_ksef_create_vendor(self, seller, nip):
        country = self.env['res.country'].search([('code', '=', (seller.address.country or 'PL').upper())], limit=1)
        values = {'name': seller.name, 'is_company': True, 'vat': f'PL{nip}', 'country_id': country.id,
                  'street': seller.address.line1, 'company_id': False, 'l10n_pl_ksef_vendor_nip': nip}
        zip_city = PL_ZIP_CITY.match(seller.address.line2 or '')
        if zip_city:
            values.update(zip=zip_city.group(1), city=zip_city.group(2))
        elif seller.address.line2:
            values['street2'] = seller.address.line2
        if seller.contacts:
            values.update(email=seller.contacts[0].email, phone=seller.contacts[0].phone)
        # accountants book bills without the right to edit contacts: the vendor is what the legal invoice names
        return self.env['res.partner'].sudo().create(values).sudo(False)

    def _l10n_pl_ksef_payment_values(self, payment, number, partner, cache):
        values = {'payment_reference': (payment and payment.ipksef) or number}
        if not payment:
            return values
        due_dates = [term.due_date for term in payment.terms if term.due_date]
        if due_dates:
            values.update(invoice_payment_term_id=False, invoice_date_due=min(due_dates))
        if payment.bank_accounts:
            values['partner_bank_id'] = self._l10n_pl_ksef_vendor_bank(payment.bank_accounts[0], partner, cache).id
        return values

    def _l10n_pl_ksef_vendor_bank(self, account, partner, cache):
        banks = cache.setdefault('banks', {})
        vendor = partner.commercial_partner_id
        sanitized = re.sub(r'\W+', '', account.number or '').upper()
        key = (vendor.id, sanitized)
        if key not in banks:
            # the vendor's accounts of every company: the bank account is the vendor's, not ours (and the billing
            # officers' rule of the account module lets accountants read them); created untrusted (Odoo only pays
            # to accounts someone allowed)
            Bank = self.env['res.partner.bank'].sudo()
            bank = Bank.with_context(active_test=False).search([('partner_id', '=', vendor.id),
                                                               ('sanitized_acc_number', '=', sanitized)], limit=1)
            banks[key] = (bank or Bank.create({'acc_number': account.number, 'partner_id': vendor.id})).sudo(False)
        return banks[key]

    def _l10n_pl_ksef_correction_values(self, body):
        return {'l10n_pl_ksef_correction_reason': body.correction_reason} if body.correction_reason else {}


class AccountMove(models.Model):
    _inherit = 'account.move'

    def _l10n_pl_ksef_total_difference(self, invoice):
        """The invoice's P_15 minus the bill's total (Decimal, in the bill's currency) and the FA(3) tolerance."""
        difference = abs(_dec(invoice.body.total)) - _dec(self.amount_total).quantize(CENT)
        return difference, CENT * max(1, len(invoice.body.lines))

    def _l10n_pl_ksef_direct_rounding_fix(self, invoice):
        """The line commands that put a rounding difference within the FA(3) tolerance on the VAT and the one
        payment term line directly (company currency, both sides at once, so Odoo need not compute the payment
        terms again from everything); [] when the totals agree; False when that is not possible (the caller
        leaves it to _l10n_pl_ksef_match_total under Odoo's sync of the dynamic lines)."""
        self.ensure_one()
        difference, tolerance = self._l10n_pl_ksef_total_difference(invoice)
        if not difference:
            return []
        tax_lines = self.line_ids.filtered(lambda l: l.display_type == 'tax' and l.amount_currency)
        terms = self.line_ids.filtered(lambda l: l.display_type == 'payment_term')
        if (abs(difference) > tolerance or not tax_lines or len(terms) != 1
                or self.currency_id != self.company_id.currency_id):
            return False
        change = (-1 if self.move_type == 'in_refund' else 1) * float(difference)
        tax_line = tax_lines[:1]
        tax_amount = tax_line.currency_id.round(tax_line.amount_currency + change)
        term_amount = terms.currency_id.round(terms.amount_currency - change)
        return [Command.update(tax_line.id, {'amount_currency': tax_amount, 'balance': tax_amount}),
                Command.update(terms.id, {'amount_currency': term_amount, 'balance': term_amount})]

    def _l10n_pl_ksef_match_total(self, invoice):
        """None when the bill's total is the invoice's P_15 (a rounding difference within the FA(3) tolerance is
        put on the VAT, as the invoice computes VAT per rate on the totals and Odoo may per line; the caller has
        Odoo synchronise the payment terms); else what is wrong, with the two amounts."""
        self.ensure_one()
        difference, tolerance = self._l10n_pl_ksef_total_difference(invoice)
        if not difference:
            return None
        tax_lines = self.line_ids.filtered(lambda l: l.display_type == 'tax' and l.amount_currency)
        if abs(difference) <= tolerance:
            if tax_lines:
                tax_lines[:1].amount_currency += (-1 if self.move_type == 'in_refund' else 1) * float(difference)
            return None
        return _("The bill's total %(bill)s %(currency)s is not the invoice's total (P_15) %(invoice)s: check the "
                 "taxes of its KSeF rates (amount, price included) and the invoice, then retry.",
                 bill=self.amount_total, currency=self.currency_id.name, invoice=abs(_dec(invoice.body.total)))

    def _l10n_pl_ksef_link_corrected(self, invoices):
        """Corrections to the bill they correct (by its KSeF number), looked up after the batch's create so that
        an original received in the same batch is found too."""
        wanted = {bill: [c.ksef_number for c in invoice.body.corrected_invoices if c.ksef_number]
                  for bill, invoice in invoices.items() if invoice.body.invoice_type in fa3.CORRECTION_TYPES}
        numbers = {number for numbers in wanted.values() for number in numbers}
        if not numbers:
            return
        originals = self.search([('company_id', 'in', self.company_id.ids), ('move_type', '=', 'in_invoice'),
                                 ('l10n_pl_ksef_number', 'in', list(numbers))])
        by_number = {(o.company_id, o.l10n_pl_ksef_number): o for o in originals}
        for bill, numbers in wanted.items():
            original = next((by_number[(bill.company_id, n)] for n in numbers if (bill.company_id, n) in by_number), None)
            if original and original != bill:
                bill.reversed_entry_id = original

    def _l10n_pl_ksef_post_bill_notes(self, invoice):
        """What the accountant should know that the bill's fields cannot say."""
        body = invoice.body
        notes = []
        if body.invoice_type in fa3.CORRECTION_TYPES and not self.reversed_entry_id:
            numbers = ', '.join(filter(None, (c.ksef_number or c.number for c in body.corrected_invoices)))
            notes.append(_("The corrected bill (%s) was not found in Odoo: link the credit note by hand if it exists.",
                           numbers or body.corrected_period or '-'))
        if body.invoice_type in ('ROZ', 'KOR_ROZ') and body.advance_invoices:
            ksef_numbers = [a.ksef_number for a in body.advance_invoices if a.ksef_number]
            advances = self.search([('company_id', '=', self.company_id.id), ('move_type', '=', 'in_invoice'),
                                    ('l10n_pl_ksef_number', 'in', ksef_numbers)]) if ksef_numbers else self.browse()
            found = {bill.l10n_pl_ksef_number: bill for bill in advances}
            names = [found[a.ksef_number].display_name if a.ksef_number in found
                     else (a.ksef_number or a.number_outside_ksef) for a in body.advance_invoices]
            notes.append(_("Settles the advance invoices: %s. Only the rest is booked on this bill.", ', '.join(names)))
        for note in notes:
            self.with_context(no_new_invoice=True).message_post(body=note)


class ResPartner(models.Model):
    _inherit = 'res.partner'

    # set on the vendors this addon creates from received invoices; unique among active partners, so that two
    # workers making bills at once cannot both create the vendor of one NIP (the second one waits and retries)
    l10n_pl_ksef_vendor_nip = fields.Char(string="Created from KSeF for NIP", copy=False, readonly=True)

    def init(self):
        super().init()
        self.env.cr.execute(f"""
            CREATE UNIQUE INDEX IF NOT EXISTS {VENDOR_NIP_INDEX} ON res_partner (l10n_pl_ksef_vendor_nip)
             WHERE active AND l10n_pl_ksef_vendor_nip IS NOT NULL
        """)

    @api.model
    def _l10n_pl_ksef_find_by_tax_id(self, company, tax_ids):
        """The partner whose tax ID is one of ``tax_ids`` (spaces, dots and hyphens ignored): of ``company``
        before shared ones, companies before their contacts, the oldest first."""
        wanted = tuple({re.sub(r'[^A-Z0-9]', '', t.upper()) for t in tax_ids if t})
        if not wanted:
            return self.browse()
        self.env['res.partner'].flush_model(['vat', 'company_id', 'parent_id', 'active'])
        self.env.cr.execute("""
            SELECT id FROM res_partner
             WHERE active AND regexp_replace(upper(vat), '[^A-Z0-9]', '', 'g') IN %s
               AND (company_id IS NULL OR company_id = %s)
             ORDER BY company_id IS NULL, parent_id IS NOT NULL, id
             LIMIT 1
        """, (wanted, company.id))
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()


def _is_vendor_race(error):
    """The unique index of the vendors created from KSeF refused a second vendor for one NIP, or PostgreSQL
    stopped a transaction that could not see the other worker's new vendor."""
    if isinstance(error, pg_errors.SerializationFailure):
        return True
    return isinstance(error, pg_errors.UniqueViolation) and error.diag.constraint_name == VENDOR_NIP_INDEX
