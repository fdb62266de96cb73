"""account.move -> FA(3) data (the dataclasses of ksef.fa3). The Odoo layer never writes XML itself.

Amounts come from the journal items Odoo already computed (product lines' subtotals, tax lines), so the
company's rounding method (per line or global), cash rounding and the booked PLN amounts are honoured
exactly. Every record is read through the recordset being mapped, so the ORM prefetches it for all
invoices at once: the number of SQL queries does not grow with the number of invoices or lines.
"""
import datetime
import re
from decimal import ROUND_HALF_UP, Decimal

from odoo import _, api, fields, models
from odoo.tools import html2plaintext

from ..ksef import fa3, identifiers
from ..ksef.fa3.checks import BUCKETS

SIMPLIFIED_LIMITS = {'PLN': Decimal('450'), 'EUR': Decimal('100')}   # art. 106e ust. 5 pkt 3
GREECE_VAT_PREFIX = {'GR': 'EL'}
LINE_TEXT_MAX, FOOTER_TEXT_MAX, TEXT_MAX = 512, 3500, 256


def _dec(value, places):
    """Float from the ORM -> Decimal with at most ``places`` decimals and no trailing zeros."""
    quantum = Decimal(1).scaleb(-places)
    value = Decimal(repr(float(value or 0.0))).quantize(quantum, rounding=ROUND_HALF_UP).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _money(value, currency):
    return Decimal(repr(currency.round(value or 0.0))).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


def _clip(text, size):
    text = (text or '').strip()
    return text[:size] or None


class AccountMove(models.Model):
    _inherit = 'account.move'

    # ------------------------------------------------------------------------------------------------
    # Public entry points
    # ------------------------------------------------------------------------------------------------

    def _l10n_pl_ksef_get_fa3_invoices(self, created_at=None):
        """{move: ksef.fa3.Invoice} for posted customer invoices and credit notes. Raises nothing for bad
        data: the checks (``_l10n_pl_ksef_check_invoices``) and ``fa3.validate_invoice`` report it."""
        created_at = created_at or fields.Datetime.now().replace(tzinfo=datetime.timezone.utc)
        context = self._l10n_pl_ksef_mapping_context()
        return {move: move._l10n_pl_ksef_get_fa3_data(created_at, context) for move in self}

    def _l10n_pl_ksef_get_fa3_data(self, created_at, context=None):
        self.ensure_one()
        context = context or self._l10n_pl_ksef_mapping_context()
        body = self._l10n_pl_ksef_fa3_body(context)
        return fa3.Invoice(
            header=fa3.Header(created_at=created_at, system_info=f'Odoo {context["odoo_version"]} l10n_pl_ksef'),
            seller=self._l10n_pl_ksef_fa3_seller(),
            buyer=self._l10n_pl_ksef_fa3_buyer(context, body.invoice_type),
            third_parties=[self._l10n_pl_ksef_fa3_third_party(party, context)
                           for party in self.l10n_pl_ksef_third_party_ids],
            body=body,
            footer=self._l10n_pl_ksef_fa3_footer(),
        )

    @api.model
    def _l10n_pl_ksef_mapping_context(self):
        """Values shared by every invoice of one mapping run (read once, not per invoice)."""
        from odoo.release import version
        return {'odoo_version': version}

    # ------------------------------------------------------------------------------------------------
    # Invoice type
    # ------------------------------------------------------------------------------------------------

    def _l10n_pl_ksef_product_lines(self):
        # filtered() would narrow the prefetch set to this invoice: keep the whole batch's, so that taxes,
        # products and units of every invoice being mapped are read in one query each
        lines = self.line_ids
        return lines.filtered(lambda line: line.display_type == 'product').with_prefetch(lines._prefetch_ids)

    def _l10n_pl_ksef_is_downpayment(self):
        """An invoice whose product lines are all positive down-payment lines of sale orders (sale)."""
        lines = self._l10n_pl_ksef_product_lines()
        return bool(lines) and 'is_downpayment' in lines._fields and all(
            line.is_downpayment and line.quantity > 0 for line in lines)

    def _l10n_pl_ksef_deducted_downpayment_lines(self):
        lines = self._l10n_pl_ksef_product_lines()
        if 'is_downpayment' not in lines._fields:
            return lines.browse()
        return lines.filtered(lambda line: line.is_downpayment and line.quantity < 0)

    def _l10n_pl_ksef_invoice_type(self):
        if self.move_type == 'out_refund':
            original = self.reversed_entry_id
            if original and original._l10n_pl_ksef_is_downpayment():
                return 'KOR_ZAL'
            if original and original._l10n_pl_ksef_deducted_downpayment_lines():
                return 'KOR_ROZ'
            return 'KOR'
        if self._l10n_pl_ksef_is_downpayment():
            return 'ZAL'
        if self._l10n_pl_ksef_deducted_downpayment_lines():
            return 'ROZ'
        if self._l10n_pl_ksef_is_simplified():
            return 'UPR'
        return 'VAT'

    def _l10n_pl_ksef_is_simplified(self):
        limit = SIMPLIFIED_LIMITS.get(self.currency_id.name)
        return bool(self.company_id.l10n_pl_ksef_simplified_invoices and limit is not None
                    and self.commercial_partner_id.vat and Decimal(repr(self.amount_total)) <= limit)

    # ------------------------------------------------------------------------------------------------
    # Parties
    # ------------------------------------------------------------------------------------------------

    @api.model
    def _l10n_pl_ksef_fa3_address(self, partner):
        line1 = ', '.join(filter(None, [partner.street, partner.street2]))
        line2 = ' '.join(filter(None, [partner.zip, partner.city]))
        if not line1:
            line1, line2 = line2, None
        return fa3.Address(country=partner.country_id.code or 'PL', line1=_clip(line1, LINE_TEXT_MAX) or '-',
                           line2=_clip(line2, LINE_TEXT_MAX))

    @api.model
    def _l10n_pl_ksef_fa3_contacts(self, partner):
        email, phone = _clip(partner.email, 255), _clip(re.sub(r'[^\d+]', '', partner.phone or ''), 16)
        return [fa3.Contact(email=email, phone=phone)] if email or phone else []

    def _l10n_pl_ksef_fa3_seller(self):
        company = self.company_id
        return fa3.Seller(
            nip=identifiers.normalize_nip(company.vat),
            name=_clip(company.name, LINE_TEXT_MAX),
            address=self._l10n_pl_ksef_fa3_address(company.partner_id),
            # the seller's EU VAT prefix matters where the buyer needs it: intra-Community goods and services
            eu_prefix='PL' if self._l10n_pl_ksef_rate_codes() & {'0 WDT', 'np II'} else None,
            contacts=self._l10n_pl_ksef_fa3_contacts(company.partner_id),
        )

    @api.model
    def _l10n_pl_ksef_partner_identity(self, partner, context):
        """The FA(3) identification of a buyer-like party: Polish NIP, EU VAT number (KodUE + NrVatUE),
        another country's tax ID (KodKraju + NrID), or none (consumer)."""
        entered = (partner.vat or '').strip()
        vat = re.sub(r'[\s.-]', '', entered.upper())
        country = partner.country_id.code
        if not vat:
            return {'no_id': True}
        prefix = vat[:2] if vat[:2].isalpha() else None
        if country == 'PL' or prefix == 'PL' or (not country and not prefix):
            return {'nip': identifiers.normalize_nip(vat)}
        eu_code = GREECE_VAT_PREFIX.get(country, country)
        if eu_code in fa3.EU_COUNTRIES or (prefix and GREECE_VAT_PREFIX.get(prefix, prefix) in fa3.EU_COUNTRIES):
            code = GREECE_VAT_PREFIX.get(prefix, prefix) if prefix else eu_code
            return {'eu_country': code, 'eu_vat_number': vat[2:] if prefix else vat}
        return {'country': country, 'tax_id': entered[:50]}   # a foreign number as the buyer writes it

    def _l10n_pl_ksef_fa3_buyer(self, context, invoice_type):
        partner = self.commercial_partner_id
        roles = set(self.l10n_pl_ksef_third_party_ids.mapped('role'))
        simplified = invoice_type == 'UPR'
        return fa3.Buyer(
            **self._l10n_pl_ksef_partner_identity(partner, context),
            name=_clip(partner.name, LINE_TEXT_MAX),
            address=None if simplified else self._l10n_pl_ksef_fa3_address(self.partner_id),
            contacts=[] if simplified else self._l10n_pl_ksef_fa3_contacts(self.partner_id),
            customer_number=_clip(partner.ref, TEXT_MAX),
            jst='8' in roles,
            vat_group='10' in roles,
        )

    def _l10n_pl_ksef_fa3_third_party(self, party, context):
        partner = party.partner_id
        identity = self._l10n_pl_ksef_partner_identity(partner.commercial_partner_id, context)
        vat = identity.get('nip')
        if vat and partner.ref and identifiers.is_valid_internal_id(partner.ref):
            identity = {'internal_id': partner.ref}   # an internal unit (NIP-NNNNN) identified by its IDWew
        return fa3.ThirdParty(
            **identity,
            name=_clip(partner.name, LINE_TEXT_MAX),
            address=self._l10n_pl_ksef_fa3_address(partner),
            role=int(party.role),
            share=_dec(party.share, 6) if party.share else None,
        )

    # ------------------------------------------------------------------------------------------------
    # Body
    # ------------------------------------------------------------------------------------------------

    def _l10n_pl_ksef_sign(self):
        """FA(3) corrections carry differences: a credit note's amounts are negative."""
        return -1 if self.move_type == 'out_refund' else 1

    def _l10n_pl_ksef_vat_taxes(self, line):
        return line.tax_ids.filtered(lambda tax: tax.l10n_pl_ksef_rate_code)

    def _l10n_pl_ksef_rate_codes(self):
        return set(self._l10n_pl_ksef_product_lines().tax_ids.mapped('l10n_pl_ksef_rate_code')) - {False}

    def _l10n_pl_ksef_exchange_rate(self):
        """PLN for one unit of the invoice currency, at most 6 decimals (FA(3) TIlosci); None in PLN.
        Odoo stores the inverse (currency per PLN) in invoice_currency_rate."""
        if self.currency_id == self.company_id.currency_id or not self.invoice_currency_rate:
            return None
        return _dec(1.0 / self.invoice_currency_rate, 6)

    def _l10n_pl_ksef_fa3_body(self, context):
        invoice_type = self._l10n_pl_ksef_invoice_type()
        sign = self._l10n_pl_ksef_sign()
        rate = self._l10n_pl_ksef_exchange_rate()
        totals, rounding = self._l10n_pl_ksef_fa3_totals(sign)
        total = _money(sign * self.amount_total, self.currency_id) - rounding
        lines = [] if invoice_type in ('ZAL', 'KOR_ZAL') else self._l10n_pl_ksef_fa3_lines(sign, rate)
        body = fa3.InvoiceBody(
            currency=self.currency_id.name,
            issue_date=self.invoice_date,
            number=self.name,
            total=total,
            invoice_type=invoice_type,
            supply_date=self.delivery_date if self.delivery_date and self.delivery_date != self.invoice_date else None,
            totals=totals,
            annotations=self._l10n_pl_ksef_fa3_annotations(total),
            related_parties=bool(self.commercial_partner_id.l10n_pl_links_with_customer),
            lines=lines,
            payment=self._l10n_pl_ksef_fa3_payment(),
            settlement=self._l10n_pl_ksef_fa3_settlement(rounding, total),
        )
        if invoice_type in ('KOR', 'KOR_ZAL', 'KOR_ROZ'):
            self._l10n_pl_ksef_fa3_correction(body)
        if invoice_type in ('ZAL', 'KOR_ZAL'):
            body.order = self._l10n_pl_ksef_fa3_order()
            body.advance_exchange_rate = rate
        if invoice_type in ('ROZ', 'KOR_ROZ'):
            body.advance_invoices = self._l10n_pl_ksef_fa3_advance_refs()
        return body

    def _l10n_pl_ksef_fa3_totals(self, sign):
        """Per-bucket net (product lines' subtotals), VAT (tax lines, invoice currency) and VAT in PLN
        (tax lines' balance), and the cash-rounding amount that is not part of any bucket."""
        values = {}
        foreign = self.currency_id != self.company_id.currency_id
        for line in self._l10n_pl_ksef_product_lines():
            for tax in self._l10n_pl_ksef_vat_taxes(line)[:1]:
                net_attr = 'net_oss' if tax.l10n_pl_ksef_rate_code == 'oss' else BUCKETS[tax.l10n_pl_ksef_rate_code][0]
                values[net_attr] = values.get(net_attr, Decimal(0)) + sign * _money(line.price_subtotal, self.currency_id)
        # journal items hold balances; amount x direction_sign is the amount as printed on the document
        rounding = Decimal(0)
        for line in self.line_ids:
            if line.display_type == 'rounding':
                rounding += sign * _money(line.amount_currency * self.direction_sign, self.currency_id)
            if line.display_type != 'tax' or not line.tax_line_id.l10n_pl_ksef_rate_code:
                continue
            code = line.tax_line_id.l10n_pl_ksef_rate_code
            _net, vat_attr, pln_attr, percent = BUCKETS.get(code, ('net_oss', 'vat_oss', None, True))
            if percent is None:
                continue  # 0 %, exempt, np, oo: no VAT bucket
            values[vat_attr] = values.get(vat_attr, Decimal(0)) + sign * _money(
                line.amount_currency * self.direction_sign, self.currency_id)
            if foreign and pln_attr:
                values[pln_attr] = values.get(pln_attr, Decimal(0)) + sign * _money(
                    line.balance * self.direction_sign, self.company_id.currency_id)
        for net_attr, vat_attr, pln_attr, percent in BUCKETS.values():
            if percent is not None and net_attr in values:
                values.setdefault(vat_attr, Decimal('0.00'))
                if foreign:
                    values.setdefault(pln_attr, Decimal('0.00'))
        if 'net_oss' in values:
            values.setdefault('vat_oss', Decimal('0.00'))
        return fa3.TaxTotals(**values), rounding

    def _l10n_pl_ksef_fa3_lines(self, sign, rate):
        lines = []
        product_lines = self._l10n_pl_ksef_product_lines()
        deductions = self._l10n_pl_ksef_deducted_downpayment_lines()
        for line in (product_lines - deductions).with_prefetch(product_lines._prefetch_ids):
            lines.append(self._l10n_pl_ksef_fa3_line(line, len(lines) + 1, sign, rate))
        return lines

    def _l10n_pl_ksef_fa3_line(self, line, number, sign, rate):
        currency = self.currency_id
        tax = self._l10n_pl_ksef_vat_taxes(line)[:1]
        code = tax.l10n_pl_ksef_rate_code or None
        product = line.product_id
        price_included = any(line.tax_ids.mapped('price_include'))
        gross_value = sign * _money(line.price_total, currency)
        discount = None
        if line.discount and sign > 0:
            discount = _money(line.price_unit * line.quantity * line.discount / 100.0, currency)
        procedure = tax.l10n_pl_ksef_procedure or self._l10n_pl_ksef_voucher_procedure()
        return fa3.InvoiceLine(
            number=number,
            name=_clip(line.name or product.display_name, LINE_TEXT_MAX),
            unit=_clip(line.product_uom_id.name, TEXT_MAX),
            quantity=sign * _dec(line.quantity, 6),
            unit_price_net=None if price_included else _dec(line.price_unit, 8),
            unit_price_gross=_dec(line.price_unit, 8) if price_included else None,
            discount=discount,
            net=sign * _money(line.price_subtotal, currency),
            gross=gross_value if price_included else None,
            rate=None if code == 'oss' else code,
            oss_rate=_dec(tax.amount, 6) if code == 'oss' else None,
            annex_15=bool(product.l10n_pl_ksef_annex_15),
            index=_clip(product.default_code, 50),
            gtin=product.barcode if product.barcode and re.fullmatch(r'\d{8}|\d{12,14}', product.barcode) else None,
            gtu=product.l10n_pl_vat_gtu or None,
            procedure=procedure or None,
            exchange_rate=rate,
        )

    def _l10n_pl_ksef_voucher_procedure(self):
        if self.l10n_pl_vat_b_spv:
            return 'B_SPV'
        if self.l10n_pl_vat_b_spv_dostawa:
            return 'B_SPV_DOSTAWA'
        if self.l10n_pl_vat_b_mpv_prowizja:
            return 'B_MPV_PROWIZJA'
        return None

    def _l10n_pl_ksef_fa3_annotations(self, total):
        taxes = self._l10n_pl_ksef_product_lines().tax_ids
        codes = set(taxes.mapped('l10n_pl_ksef_rate_code'))
        basis_type, basis = self._l10n_pl_ksef_exemption_basis()
        annotations = fa3.Annotations(
            cash_accounting=bool(self.company_id.l10n_pl_ksef_cash_accounting),
            reverse_charge='oo' in codes,
            split_payment=self._l10n_pl_ksef_split_payment_required(total),
            simplified_triangular=any(taxes.mapped('l10n_pl_ksef_triangular')),
        )
        if 'zw' in codes and basis:
            setattr(annotations, {'statute': 'exemption_statute', 'directive': 'exemption_directive',
                                  'other': 'exemption_other'}[basis_type or 'statute'], _clip(basis, TEXT_MAX))
        return annotations

    def _l10n_pl_ksef_exemption_basis(self):
        """(type, text) of the legal basis of the exempt lines: the taxes' own, else the fiscal position's.
        Several different bases are joined (FA(3) has room for one)."""
        taxes = self._l10n_pl_ksef_product_lines().tax_ids.filtered(lambda t: t.l10n_pl_ksef_rate_code == 'zw')
        with_basis = taxes.filtered('l10n_pl_ksef_exemption_basis')
        if with_basis:
            texts = list(dict.fromkeys(with_basis.mapped('l10n_pl_ksef_exemption_basis')))
            return with_basis[0].l10n_pl_ksef_exemption_basis_type, '; '.join(texts)
        position = self.fiscal_position_id
        if taxes and position.l10n_pl_ksef_exemption_basis:
            return position.l10n_pl_ksef_exemption_basis_type, position.l10n_pl_ksef_exemption_basis
        return None, None

    def _l10n_pl_ksef_split_payment_required(self, total):
        """MPP is mandatory above 15,000 PLN gross with annex-15 goods or services (art. 108a ust. 1a)."""
        annex = any(self._l10n_pl_ksef_product_lines().product_id.mapped('l10n_pl_ksef_annex_15'))
        gross_pln = abs(Decimal(repr(self.amount_total_signed)))
        return bool(annex and gross_pln > Decimal(15000) and self.move_type == 'out_invoice')

    def _l10n_pl_ksef_fa3_payment(self):
        term_lines = self.line_ids.filtered(lambda l: l.display_type == 'payment_term' and l.date_maturity)
        terms = [fa3.PaymentTerm(due_date=date) for date in sorted(set(term_lines.mapped('date_maturity')))]
        bank = self.partner_bank_id
        payment = fa3.Payment(
            terms=terms if self.move_type == 'out_invoice' else [],
            method=fa3.PAYMENT_TRANSFER if bank else None,
            bank_accounts=[fa3.BankAccount(number=bank.sanitized_acc_number or bank.acc_number,
                                           swift=bank.bank_bic or None,
                                           bank_name=_clip(bank.bank_name, TEXT_MAX))] if bank else [],
        )
        if self.move_type == 'out_invoice' and self.payment_state in ('paid', 'in_payment', 'partial'):
            self._l10n_pl_ksef_fa3_paid(payment)
        if not (payment.terms or payment.bank_accounts or payment.paid_date or payment.partial_payments):
            return None
        return payment

    def _l10n_pl_ksef_fa3_paid(self, payment):
        partials = [p for p in self._get_all_reconciled_invoice_partials() if not p['is_exchange']]
        if not partials:
            return
        if self.payment_state in ('paid', 'in_payment'):
            payment.paid_date = max(p['aml'].date for p in partials)
            return
        payment.partially_paid = True
        payment.partial_payments = [
            fa3.PartialPayment(amount=_money(p['amount'], self.currency_id), payment_date=p['aml'].date)
            for p in sorted(partials, key=lambda p: p['aml'].date)]

    def _l10n_pl_ksef_fa3_settlement(self, rounding, total):
        """Cash rounding is not a supply: it is shown as a charge or deduction outside the tax base."""
        if not rounding:
            return None
        reason = _("Cash rounding")
        adjustment = [fa3.Adjustment(amount=abs(rounding), reason=reason)]
        if rounding > 0:
            return fa3.Settlement(charges=adjustment, charges_total=abs(rounding), to_pay=total + rounding)
        return fa3.Settlement(deductions=adjustment, deductions_total=abs(rounding), to_pay=total + rounding)

    def _l10n_pl_ksef_fa3_footer(self):
        company = self.company_id
        text = _clip(html2plaintext(self.narration or ''), FOOTER_TEXT_MAX) if self.narration else None
        registry = fa3.Registry(full_name=_clip(company.name, TEXT_MAX),
                                krs=company.l10n_pl_ksef_krs or None, regon=company.l10n_pl_ksef_regon or None,
                                bdo=company.l10n_pl_ksef_bdo or None)
        has_registry = registry.krs or registry.regon or registry.bdo
        if not text and not has_registry:
            return None
        return fa3.Footer(infos=[fa3.FooterInfo(text=text)] if text else [],
                          registries=[registry] if has_registry else [])

    # ------------------------------------------------------------------------------------------------
    # Corrections, advances
    # ------------------------------------------------------------------------------------------------

    def _l10n_pl_ksef_fa3_correction(self, body):
        original = self.reversed_entry_id
        body.correction_reason = _clip(self.l10n_pl_ksef_correction_reason or self.ref, TEXT_MAX)
        body.correction_type = int(self.l10n_pl_ksef_correction_type) if self.l10n_pl_ksef_correction_type else None
        if original:
            body.corrected_invoices = [fa3.CorrectedInvoice(
                issue_date=original.invoice_date, number=original.name,
                ksef_number=original.l10n_pl_ksef_number or None)]

    def _l10n_pl_ksef_fa3_order(self):
        """Zamowienie: the sale order(s) the advance is paid on (value and lines)."""
        source = self.reversed_entry_id if self.move_type == 'out_refund' else self
        lines = source._l10n_pl_ksef_product_lines()
        orders = lines.sale_line_ids.order_id if 'sale_line_ids' in lines._fields else False
        if not orders:
            return None
        order_lines = orders.order_line.filtered(lambda l: not l.display_type and not l.is_downpayment)
        items = []
        for line in order_lines:
            tax = line.tax_id.filtered('l10n_pl_ksef_rate_code')[:1]
            code = tax.l10n_pl_ksef_rate_code or None
            items.append(fa3.OrderLine(
                number=len(items) + 1, name=_clip(line.name, LINE_TEXT_MAX),
                unit=_clip(line.product_uom.name, TEXT_MAX), quantity=_dec(line.product_uom_qty, 6),
                unit_price_net=_dec(line.price_unit, 8), net=_money(line.price_subtotal, line.currency_id),
                vat=_money(line.price_tax, line.currency_id), rate=None if code == 'oss' else code,
                gtu=line.product_id.l10n_pl_vat_gtu or None,
                annex_15=bool(line.product_id.l10n_pl_ksef_annex_15)))
        return fa3.Order(value=_money(sum(orders.mapped('amount_total')), self.currency_id), lines=items)

    def _l10n_pl_ksef_fa3_advance_refs(self):
        source = self.reversed_entry_id if self.move_type == 'out_refund' else self
        deductions = source._l10n_pl_ksef_deducted_downpayment_lines()
        advances = deductions._get_downpayment_lines().move_id.filtered(
            lambda m: m.state == 'posted' and m.move_type == 'out_invoice' and m != source)
        return [fa3.AdvanceInvoiceRef(ksef_number=advance.l10n_pl_ksef_number)
                if advance.l10n_pl_ksef_number else fa3.AdvanceInvoiceRef(number_outside_ksef=advance.name)
                for advance in advances.sorted('invoice_date')]
