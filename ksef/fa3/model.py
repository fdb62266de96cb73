"""The FA(3) invoice as plain dataclasses.

Python names explain the meaning; each class's ``XML`` tuple names the FA(3) element of every attribute,
in the exact order of ``schemat_FA(3)_v1-0E.xsd`` (namespace ``http://crd.gov.pl/wzor/2025/06/25/13775/``).
Amounts are ``Decimal`` (never float), dates ``datetime.date``, timestamps ``datetime.datetime``.
Yes/no fields are ``bool``; flags that the XSD writes as "1 or absent" default to ``False``.

Where the XSD offers a choice, set the attributes of one branch only; the builder writes what is set and
the XSD validation reports a mix. Marker elements (``P_19``, ``P_19N``, ``NrKSeF``, ``NrKSeFN`` ...) are
derived from the data and never set by hand.
"""
import dataclasses
import datetime
from decimal import Decimal
from typing import List, Optional

from .xmlmap import (
    BOOL1, BOOL12, DATE, DATETIME, DEC, INT, Attr, Child, Const, Field, Flag, Group, Inline, Marker,
)

NAMESPACE = 'http://crd.gov.pl/wzor/2025/06/25/13775/'
ETD_NAMESPACE = 'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/'
FORM_CODE = {'systemCode': 'FA (3)', 'schemaVersion': '1-0E', 'value': 'FA'}

INVOICE_TYPES = ('VAT', 'KOR', 'ZAL', 'ROZ', 'UPR', 'KOR_ZAL', 'KOR_ROZ')
CORRECTION_TYPES = ('KOR', 'KOR_ZAL', 'KOR_ROZ')
# P_12 values (XSD TStawkaPodatku)
VAT_RATES = ('23', '22', '8', '7', '5', '4', '3', '0 KR', '0 WDT', '0 EX', 'zw', 'oo', 'np I', 'np II')
MARGIN_SCHEMES = ('travel', 'used_goods', 'works_of_art', 'antiques')
# XSD TKodyKrajowUE: the EU VAT prefixes FA(3) accepts in KodUE / PrefiksPodatnika (Greece is EL; XI is
# Northern Ireland for goods under the Windsor Framework)
EU_COUNTRIES = ('AT', 'BE', 'BG', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'EL', 'HR', 'HU', 'IE', 'IT', 'LV', 'LT',
                'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'XI')
# the member states as ISO 3166 country codes (Odoo countries): EL is GR, XI is no country of its own
EU_COUNTRIES_ISO = tuple('GR' if code == 'EL' else code for code in EU_COUNTRIES if code != 'XI')

dataclass = dataclasses.dataclass(kw_only=True)


# --- shared pieces ---------------------------------------------------------------------------------

@dataclass
class Address:
    country: str                      # KodKraju, ISO 3166 alpha-2
    line1: str                        # AdresL1
    line2: Optional[str] = None       # AdresL2
    gln: Optional[str] = None         # GLN (Global Location Number)

    XML = (
        Field('KodKraju', 'country', required=True),
        Field('AdresL1', 'line1', required=True),
        Field('AdresL2', 'line2'),
        Field('GLN', 'gln'),
    )


@dataclass
class Contact:
    email: Optional[str] = None
    phone: Optional[str] = None

    XML = (Field('Email', 'email'), Field('Telefon', 'phone'))


# Identification of a buyer-like party (XSD TPodmiot2): exactly one of the four branches.
_BUYER_ID = (
    Field('NIP', 'nip'),
    Field('KodUE', 'eu_country'),        # EU VAT number: country prefix ...
    Field('NrVatUE', 'eu_vat_number'),   # ... and the number without it
    Field('KodKraju', 'country'),        # other tax ID: optional country ...
    Field('NrID', 'tax_id'),             # ... and the number
    Field('BrakID', 'no_id', BOOL1),     # no identifier (consumer)
    Field('Nazwa', 'name'),
)


@dataclass
class BuyerIdentity:
    nip: Optional[str] = None
    eu_country: Optional[str] = None
    eu_vat_number: Optional[str] = None
    country: Optional[str] = None
    tax_id: Optional[str] = None
    no_id: bool = False
    name: Optional[str] = None

    XML = _BUYER_ID


# --- parties ---------------------------------------------------------------------------------------

@dataclass
class Seller:
    """Podmiot1: the seller (the taxpayer issuing the invoice)."""
    nip: str
    name: str
    address: Address
    eu_prefix: Optional[str] = None               # PrefiksPodatnika (e.g. PL for intra-EU supplies)
    eori: Optional[str] = None                    # NrEORI
    correspondence_address: Optional[Address] = None
    contacts: List[Contact] = dataclasses.field(default_factory=list)   # up to 3
    taxpayer_status: Optional[int] = None         # 1 liquidation, 2 restructuring, 3 bankruptcy, 4 inheritance

    XML = (
        Field('PrefiksPodatnika', 'eu_prefix'),
        Field('NrEORI', 'eori'),
        Group('DaneIdentyfikacyjne', (Field('NIP', 'nip', required=True), Field('Nazwa', 'name', required=True)),
              required=True),
        Child('Adres', 'address', Address, required=True),
        Child('AdresKoresp', 'correspondence_address', Address),
        Child('DaneKontaktowe', 'contacts', Contact, repeated=True),
        Field('StatusInfoPodatnika', 'taxpayer_status', INT),
    )


@dataclass
class Buyer:
    """Podmiot2: the buyer. Identify by ``nip``, by ``eu_country`` + ``eu_vat_number``, by ``tax_id``
    (with optional ``country``), or set ``no_id`` for a consumer."""
    nip: Optional[str] = None
    eu_country: Optional[str] = None
    eu_vat_number: Optional[str] = None
    country: Optional[str] = None
    tax_id: Optional[str] = None
    no_id: bool = False
    name: Optional[str] = None
    address: Optional[Address] = None
    eori: Optional[str] = None
    correspondence_address: Optional[Address] = None
    contacts: List[Contact] = dataclasses.field(default_factory=list)
    customer_number: Optional[str] = None         # NrKlienta
    buyer_id: Optional[str] = None                # IDNabywcy: links buyer data across corrections
    jst: bool = False                             # invoice concerns a local-government (JST) subunit, see Podmiot3 role 8
    vat_group: bool = False                       # invoice concerns a VAT-group member, see Podmiot3 role 10

    XML = (
        Field('NrEORI', 'eori'),
        Group('DaneIdentyfikacyjne', _BUYER_ID, required=True),
        Child('Adres', 'address', Address),
        Child('AdresKoresp', 'correspondence_address', Address),
        Child('DaneKontaktowe', 'contacts', Contact, repeated=True),
        Field('NrKlienta', 'customer_number'),
        Field('IDNabywcy', 'buyer_id'),
        Field('JST', 'jst', BOOL12, required=True),
        Field('GV', 'vat_group', BOOL12, required=True),
    )


# Podmiot3 roles (XSD TRolaPodmiotu3)
ROLE_FACTOR, ROLE_RECIPIENT, ROLE_ORIGINAL_ENTITY, ROLE_ADDITIONAL_BUYER, ROLE_ISSUER, ROLE_PAYER = 1, 2, 3, 4, 5, 6
ROLE_JST_ISSUER, ROLE_JST_RECIPIENT, ROLE_VAT_GROUP_ISSUER, ROLE_VAT_GROUP_RECIPIENT, ROLE_EMPLOYEE = 7, 8, 9, 10, 11


@dataclass
class ThirdParty:
    """Podmiot3: another party of the invoice (factor, recipient, payer, JST unit, VAT-group member ...).
    Give ``role`` (1..11) or ``other_role`` (free text)."""
    nip: Optional[str] = None
    internal_id: Optional[str] = None             # IDWew: NIP-NNNNN of an internal unit
    eu_country: Optional[str] = None
    eu_vat_number: Optional[str] = None
    country: Optional[str] = None
    tax_id: Optional[str] = None
    no_id: bool = False
    name: Optional[str] = None
    role: Optional[int] = None
    other_role: Optional[str] = None              # RolaInna=1 + OpisRoli
    buyer_id: Optional[str] = None
    eori: Optional[str] = None
    address: Optional[Address] = None
    correspondence_address: Optional[Address] = None
    contacts: List[Contact] = dataclasses.field(default_factory=list)
    share: Optional[Decimal] = None               # Udzial: % share of an additional buyer
    customer_number: Optional[str] = None

    XML = (
        Field('IDNabywcy', 'buyer_id'),
        Field('NrEORI', 'eori'),
        Group('DaneIdentyfikacyjne', (
            Field('NIP', 'nip'),
            Field('IDWew', 'internal_id'),
            *_BUYER_ID[1:],
        ), required=True),
        Child('Adres', 'address', Address),
        Child('AdresKoresp', 'correspondence_address', Address),
        Child('DaneKontaktowe', 'contacts', Contact, repeated=True),
        Field('Rola', 'role', INT),
        Marker('RolaInna', lambda o: o.other_role is not None),
        Field('OpisRoli', 'other_role'),
        Field('Udzial', 'share', DEC),
        Field('NrKlienta', 'customer_number'),
    )


@dataclass
class AuthorizedParty:
    """PodmiotUpowazniony: enforcement authority (1), court bailiff (2) or tax representative (3)."""
    nip: str
    name: str
    address: Address
    role: int
    eori: Optional[str] = None
    correspondence_address: Optional[Address] = None
    contacts: List[Contact] = dataclasses.field(default_factory=list)

    XML = (
        Field('NrEORI', 'eori'),
        Group('DaneIdentyfikacyjne', (Field('NIP', 'nip', required=True), Field('Nazwa', 'name', required=True)),
              required=True),
        Child('Adres', 'address', Address, required=True),
        Child('AdresKoresp', 'correspondence_address', Address),
        Child('DaneKontaktowe', 'contacts', Contact, repeated=True,
              specs=(Field('EmailPU', 'email'), Field('TelefonPU', 'phone'))),
        Field('RolaPU', 'role', INT, required=True),
    )


# --- annotations (Adnotacje) -----------------------------------------------------------------------

@dataclass
class NewVehicle:
    """NowySrodekTransportu: one new means of transport (intra-EU supply, art. 106e ust. 1 pkt 22).
    Give the land vehicle (``land_*``), vessel (``vessel_*``) or aircraft (``aircraft_*``) branch."""
    first_use_date: datetime.date                 # P_22A
    line_number: int                              # P_NrWierszaNST
    make: Optional[str] = None                    # P_22BMK
    model: Optional[str] = None                   # P_22BMD
    colour: Optional[str] = None                  # P_22BK
    registration_number: Optional[str] = None     # P_22BNR
    production_year: Optional[str] = None         # P_22BRP
    land_mileage: Optional[str] = None            # P_22B
    land_vin: Optional[str] = None                # P_22B1
    land_body_number: Optional[str] = None        # P_22B2
    land_chassis_number: Optional[str] = None     # P_22B3
    land_frame_number: Optional[str] = None       # P_22B4
    land_type: Optional[str] = None               # P_22BT
    vessel_hours: Optional[str] = None            # P_22C
    vessel_hull_number: Optional[str] = None      # P_22C1
    aircraft_hours: Optional[str] = None          # P_22D
    aircraft_serial_number: Optional[str] = None  # P_22D1

    XML = (
        Field('P_22A', 'first_use_date', DATE, required=True),
        Field('P_NrWierszaNST', 'line_number', INT, required=True),
        Field('P_22BMK', 'make'), Field('P_22BMD', 'model'), Field('P_22BK', 'colour'),
        Field('P_22BNR', 'registration_number'), Field('P_22BRP', 'production_year'),
        Field('P_22B', 'land_mileage'), Field('P_22B1', 'land_vin'), Field('P_22B2', 'land_body_number'),
        Field('P_22B3', 'land_chassis_number'), Field('P_22B4', 'land_frame_number'), Field('P_22BT', 'land_type'),
        Field('P_22C', 'vessel_hours'), Field('P_22C1', 'vessel_hull_number'),
        Field('P_22D', 'aircraft_hours'), Field('P_22D1', 'aircraft_serial_number'),
    )


@dataclass
class Annotations:
    """Adnotacje: the legal annotations, all mandatory in FA(3) (defaults mean "does not apply")."""
    cash_accounting: bool = False                 # P_16 metoda kasowa
    self_billing: bool = False                    # P_17 samofakturowanie
    reverse_charge: bool = False                  # P_18 odwrotne obciążenie
    split_payment: bool = False                   # P_18A mechanizm podzielonej płatności
    exemption_statute: Optional[str] = None       # P_19A: provision of the VAT Act or its regulation
    exemption_directive: Optional[str] = None     # P_19B: provision of Directive 2006/112/EC
    exemption_other: Optional[str] = None         # P_19C: other legal basis
    new_vehicles: List[NewVehicle] = dataclasses.field(default_factory=list)
    new_vehicles_art_42_5: Optional[bool] = None  # P_42_5: art. 42 ust. 5 obligation (required with new_vehicles)
    simplified_triangular: bool = False           # P_23 procedura uproszczona (WDT trójstronna)
    margin_scheme: Optional[str] = None           # one of MARGIN_SCHEMES

    @property
    def exemption_basis(self):
        return self.exemption_statute or self.exemption_directive or self.exemption_other

    XML = (
        Field('P_16', 'cash_accounting', BOOL12, required=True),
        Field('P_17', 'self_billing', BOOL12, required=True),
        Field('P_18', 'reverse_charge', BOOL12, required=True),
        Field('P_18A', 'split_payment', BOOL12, required=True),
        Group('Zwolnienie', (
            Marker('P_19', lambda o: o.exemption_basis is not None),
            Field('P_19A', 'exemption_statute'),
            Field('P_19B', 'exemption_directive'),
            Field('P_19C', 'exemption_other'),
            Marker('P_19N', lambda o: o.exemption_basis is None),
        ), required=True),
        Group('NoweSrodkiTransportu', (
            Marker('P_22', lambda o: bool(o.new_vehicles)),
            Field('P_42_5', 'new_vehicles_art_42_5', BOOL12),
            Child('NowySrodekTransportu', 'new_vehicles', NewVehicle, repeated=True),
            Marker('P_22N', lambda o: not o.new_vehicles),
        ), required=True),
        Field('P_23', 'simplified_triangular', BOOL12, required=True),
        Group('PMarzy', (
            Marker('P_PMarzy', lambda o: o.margin_scheme is not None),
            Flag('P_PMarzy_2', 'margin_scheme', 'travel'),
            Flag('P_PMarzy_3_1', 'margin_scheme', 'used_goods'),
            Flag('P_PMarzy_3_2', 'margin_scheme', 'works_of_art'),
            Flag('P_PMarzy_3_3', 'margin_scheme', 'antiques'),
            Marker('P_PMarzyN', lambda o: o.margin_scheme is None),
        ), required=True),
    )


# --- corrections -----------------------------------------------------------------------------------

@dataclass
class CorrectedInvoice:
    """DaneFaKorygowanej: an invoice this correction corrects. ``ksef_number`` None = issued outside KSeF."""
    issue_date: datetime.date
    number: str
    ksef_number: Optional[str] = None

    XML = (
        Field('DataWystFaKorygowanej', 'issue_date', DATE, required=True),
        Field('NrFaKorygowanej', 'number', required=True),
        Marker('NrKSeF', lambda o: o.ksef_number is not None),
        Field('NrKSeFFaKorygowanej', 'ksef_number'),
        Marker('NrKSeFN', lambda o: o.ksef_number is None),
    )


@dataclass
class CorrectedSeller:
    """Podmiot1K: the seller's data as shown on the corrected invoice."""
    nip: str
    name: str
    address: Address
    eu_prefix: Optional[str] = None

    XML = (
        Field('PrefiksPodatnika', 'eu_prefix'),
        Group('DaneIdentyfikacyjne', (Field('NIP', 'nip', required=True), Field('Nazwa', 'name', required=True)),
              required=True),
        Child('Adres', 'address', Address, required=True),
    )


@dataclass
class CorrectedBuyer:
    """Podmiot2K: a buyer's data as shown on the corrected invoice."""
    identity: BuyerIdentity
    address: Optional[Address] = None
    buyer_id: Optional[str] = None

    XML = (
        Child('DaneIdentyfikacyjne', 'identity', BuyerIdentity, required=True),
        Child('Adres', 'address', Address),
        Field('IDNabywcy', 'buyer_id'),
    )


@dataclass
class PartialAdvance:
    """ZaliczkaCzesciowa: one of several advance payments documented by one ZAL invoice."""
    payment_date: datetime.date                   # P_6Z
    amount: Decimal                               # P_15Z
    exchange_rate: Optional[Decimal] = None       # KursWalutyZW

    XML = (
        Field('P_6Z', 'payment_date', DATE, required=True),
        Field('P_15Z', 'amount', DEC, required=True),
        Field('KursWalutyZW', 'exchange_rate', DEC),
    )


@dataclass
class AdditionalInfo:
    """DodatkowyOpis: a key/value note, optionally about one line."""
    key: str
    value: str
    line_number: Optional[int] = None

    XML = (Field('NrWiersza', 'line_number', INT), Field('Klucz', 'key', required=True),
           Field('Wartosc', 'value', required=True))


@dataclass
class AdvanceInvoiceRef:
    """FakturaZaliczkowa: an advance invoice settled by this ROZ invoice (by KSeF number, or by its
    number when it was issued outside KSeF)."""
    ksef_number: Optional[str] = None
    number_outside_ksef: Optional[str] = None

    XML = (
        Marker('NrKSeFZN', lambda o: o.number_outside_ksef is not None),
        Field('NrFaZaliczkowej', 'number_outside_ksef'),
        Field('NrKSeFFaZaliczkowej', 'ksef_number'),
    )


# --- lines -----------------------------------------------------------------------------------------

@dataclass
class InvoiceLine:
    """FaWiersz: one invoice line."""
    number: int                                   # NrWierszaFa
    name: Optional[str] = None                    # P_7
    unit: Optional[str] = None                    # P_8A
    quantity: Optional[Decimal] = None            # P_8B
    unit_price_net: Optional[Decimal] = None      # P_9A
    unit_price_gross: Optional[Decimal] = None    # P_9B (gross-priced invoices, art. 106e ust. 7-8)
    discount: Optional[Decimal] = None            # P_10 (amount, not percentage)
    net: Optional[Decimal] = None                 # P_11
    gross: Optional[Decimal] = None               # P_11A
    vat: Optional[Decimal] = None                 # P_11Vat (art. 106e ust. 10)
    rate: Optional[str] = None                    # P_12, one of VAT_RATES
    oss_rate: Optional[Decimal] = None            # P_12_XII (OSS procedure rate in %)
    annex_15: bool = False                        # P_12_Zal_15 goods/services of annex 15 (split payment)
    uuid: Optional[str] = None                    # UU_ID
    supply_date: Optional[datetime.date] = None   # P_6A
    index: Optional[str] = None                   # Indeks (seller's product code)
    gtin: Optional[str] = None
    pkwiu: Optional[str] = None
    cn: Optional[str] = None
    pkob: Optional[str] = None
    excise: Optional[Decimal] = None              # KwotaAkcyzy
    gtu: Optional[str] = None                     # GTU_01 .. GTU_13
    procedure: Optional[str] = None               # Procedura: WSTO_EE, IED, TT_D, I_42, I_63, B_SPV ...
    exchange_rate: Optional[Decimal] = None       # KursWaluty
    before_correction: bool = False               # StanPrzed: the row shows the state before the correction

    XML = (
        Field('NrWierszaFa', 'number', INT, required=True),
        Field('UU_ID', 'uuid'),
        Field('P_6A', 'supply_date', DATE),
        Field('P_7', 'name'),
        Field('Indeks', 'index'),
        Field('GTIN', 'gtin'),
        Field('PKWiU', 'pkwiu'),
        Field('CN', 'cn'),
        Field('PKOB', 'pkob'),
        Field('P_8A', 'unit'),
        Field('P_8B', 'quantity', DEC),
        Field('P_9A', 'unit_price_net', DEC),
        Field('P_9B', 'unit_price_gross', DEC),
        Field('P_10', 'discount', DEC),
        Field('P_11', 'net', DEC),
        Field('P_11A', 'gross', DEC),
        Field('P_11Vat', 'vat', DEC),
        Field('P_12', 'rate'),
        Field('P_12_XII', 'oss_rate', DEC),
        Field('P_12_Zal_15', 'annex_15', BOOL1),
        Field('KwotaAkcyzy', 'excise', DEC),
        Field('GTU', 'gtu'),
        Field('Procedura', 'procedure'),
        Field('KursWaluty', 'exchange_rate', DEC),
        Field('StanPrzed', 'before_correction', BOOL1),
    )


# --- settlement and payment ------------------------------------------------------------------------

@dataclass
class Adjustment:
    amount: Decimal
    reason: str

    XML = (Field('Kwota', 'amount', DEC, required=True), Field('Powod', 'reason', required=True))


@dataclass
class Settlement:
    """Rozliczenie: charges and deductions outside the taxable amount, and the balance."""
    charges: List[Adjustment] = dataclasses.field(default_factory=list)
    charges_total: Optional[Decimal] = None
    deductions: List[Adjustment] = dataclasses.field(default_factory=list)
    deductions_total: Optional[Decimal] = None
    to_pay: Optional[Decimal] = None              # DoZaplaty
    to_settle: Optional[Decimal] = None           # DoRozliczenia (overpayment to be settled)

    XML = (
        Child('Obciazenia', 'charges', Adjustment, repeated=True),
        Field('SumaObciazen', 'charges_total', DEC),
        Child('Odliczenia', 'deductions', Adjustment, repeated=True),
        Field('SumaOdliczen', 'deductions_total', DEC),
        Field('DoZaplaty', 'to_pay', DEC),
        Field('DoRozliczenia', 'to_settle', DEC),
    )


# FormaPlatnosci values
PAYMENT_CASH, PAYMENT_CARD, PAYMENT_VOUCHER, PAYMENT_CHEQUE, PAYMENT_CREDIT, PAYMENT_TRANSFER, PAYMENT_MOBILE = range(1, 8)


@dataclass
class PartialPayment:
    amount: Decimal
    payment_date: datetime.date
    method: Optional[int] = None                  # FormaPlatnosci
    other_method: Optional[str] = None            # PlatnoscInna=1 + OpisPlatnosci

    XML = (
        Field('KwotaZaplatyCzesciowej', 'amount', DEC, required=True),
        Field('DataZaplatyCzesciowej', 'payment_date', DATE, required=True),
        Field('FormaPlatnosci', 'method', INT),
        Marker('PlatnoscInna', lambda o: o.other_method is not None),
        Field('OpisPlatnosci', 'other_method'),
    )


@dataclass
class PaymentTerm:
    """TerminPlatnosci: a due date, or a term described relative to an event (e.g. 14 days from delivery)."""
    due_date: Optional[datetime.date] = None
    term_quantity: Optional[int] = None
    term_unit: Optional[str] = None
    term_start_event: Optional[str] = None

    XML = (
        Field('Termin', 'due_date', DATE),
        Group('TerminOpis', (
            Field('Ilosc', 'term_quantity', INT, required=True),
            Field('Jednostka', 'term_unit', required=True),
            Field('ZdarzeniePoczatkowe', 'term_start_event', required=True),
        )),
    )


@dataclass
class BankAccount:
    number: str                                   # NrRB (IBAN or domestic NRB)
    swift: Optional[str] = None
    own_bank_account: Optional[int] = None        # RachunekWlasnyBanku 1..3
    bank_name: Optional[str] = None
    description: Optional[str] = None

    XML = (
        Field('NrRB', 'number', required=True),
        Field('SWIFT', 'swift'),
        Field('RachunekWlasnyBanku', 'own_bank_account', INT),
        Field('NazwaBanku', 'bank_name'),
        Field('OpisRachunku', 'description'),
    )


@dataclass
class Payment:
    """Platnosc: paid status, terms, method and bank accounts."""
    paid_date: Optional[datetime.date] = None     # Zaplacono=1 + DataZaplaty: paid in full
    partially_paid: Optional[bool] = None         # ZnacznikZaplatyCzesciowej (with partial_payments)
    partial_payments: List[PartialPayment] = dataclasses.field(default_factory=list)
    terms: List[PaymentTerm] = dataclasses.field(default_factory=list)
    method: Optional[int] = None                  # FormaPlatnosci
    other_method: Optional[str] = None            # PlatnoscInna=1 + OpisPlatnosci
    bank_accounts: List[BankAccount] = dataclasses.field(default_factory=list)
    factor_bank_accounts: List[BankAccount] = dataclasses.field(default_factory=list)
    discount_conditions: Optional[str] = None     # Skonto/WarunkiSkonta
    discount_amount: Optional[str] = None         # Skonto/WysokoscSkonta
    payment_link: Optional[str] = None            # LinkDoPlatnosci (must contain IPKSeF=)
    ipksef: Optional[str] = None                  # IPKSeF payment identifier

    XML = (
        Marker('Zaplacono', lambda o: o.paid_date is not None),
        Field('DataZaplaty', 'paid_date', DATE),
        Field('ZnacznikZaplatyCzesciowej', 'partially_paid', BOOL12),
        Child('ZaplataCzesciowa', 'partial_payments', PartialPayment, repeated=True),
        Child('TerminPlatnosci', 'terms', PaymentTerm, repeated=True),
        Field('FormaPlatnosci', 'method', INT),
        Marker('PlatnoscInna', lambda o: o.other_method is not None),
        Field('OpisPlatnosci', 'other_method'),
        Child('RachunekBankowy', 'bank_accounts', BankAccount, repeated=True),
        Child('RachunekBankowyFaktora', 'factor_bank_accounts', BankAccount, repeated=True),
        Group('Skonto', (
            Field('WarunkiSkonta', 'discount_conditions', required=True),
            Field('WysokoscSkonta', 'discount_amount', required=True),
        )),
        Field('LinkDoPlatnosci', 'payment_link'),
        Field('IPKSeF', 'ipksef'),
    )


# --- transaction terms -----------------------------------------------------------------------------

@dataclass
class DocumentRef:
    """A dated reference (contract or order)."""
    date: Optional[datetime.date] = None
    number: Optional[str] = None


_CONTRACT = (Field('DataUmowy', 'date', DATE), Field('NrUmowy', 'number'))
_ORDER = (Field('DataZamowienia', 'date', DATE), Field('NrZamowienia', 'number'))


@dataclass
class Carrier:
    identity: BuyerIdentity
    address: Address

    XML = (
        Child('DaneIdentyfikacyjne', 'identity', BuyerIdentity, required=True),
        Child('AdresPrzewoznika', 'address', Address, required=True),
    )


@dataclass
class Transport:
    """Transport: how the goods travel. Give ``transport_type`` (1..8) or ``other_transport``, and
    ``cargo`` (1..20) or ``other_cargo``."""
    transport_type: Optional[int] = None          # RodzajTransportu
    other_transport: Optional[str] = None         # TransportInny=1 + OpisInnegoTransportu
    carrier: Optional[Carrier] = None
    transport_order_number: Optional[str] = None
    cargo: Optional[int] = None                   # OpisLadunku
    other_cargo: Optional[str] = None             # LadunekInny=1 + OpisInnegoLadunku
    packaging_unit: Optional[str] = None
    start: Optional[datetime.datetime] = None
    end: Optional[datetime.datetime] = None
    ship_from: Optional[Address] = None
    ship_via: List[Address] = dataclasses.field(default_factory=list)
    ship_to: Optional[Address] = None

    XML = (
        Field('RodzajTransportu', 'transport_type', INT),
        Marker('TransportInny', lambda o: o.other_transport is not None),
        Field('OpisInnegoTransportu', 'other_transport'),
        Child('Przewoznik', 'carrier', Carrier),
        Field('NrZleceniaTransportu', 'transport_order_number'),
        Field('OpisLadunku', 'cargo', INT),
        Marker('LadunekInny', lambda o: o.other_cargo is not None),
        Field('OpisInnegoLadunku', 'other_cargo'),
        Field('JednostkaOpakowania', 'packaging_unit'),
        Field('DataGodzRozpTransportu', 'start', DATETIME),
        Field('DataGodzZakTransportu', 'end', DATETIME),
        Child('WysylkaZ', 'ship_from', Address),
        Child('WysylkaPrzez', 'ship_via', Address, repeated=True),
        Child('WysylkaDo', 'ship_to', Address),
    )


@dataclass
class TransactionTerms:
    """WarunkiTransakcji: contracts, orders, batches, delivery terms, agreed rate, transport."""
    contracts: List[DocumentRef] = dataclasses.field(default_factory=list)
    orders: List[DocumentRef] = dataclasses.field(default_factory=list)
    batch_numbers: List[str] = dataclasses.field(default_factory=list)
    delivery_terms: Optional[str] = None          # e.g. Incoterms
    agreed_exchange_rate: Optional[Decimal] = None
    agreed_currency: Optional[str] = None
    transports: List[Transport] = dataclasses.field(default_factory=list)
    intermediary: bool = False                    # PodmiotPosredniczacy

    XML = (
        Child('Umowy', 'contracts', DocumentRef, repeated=True, specs=_CONTRACT),
        Child('Zamowienia', 'orders', DocumentRef, repeated=True, specs=_ORDER),
        Field('NrPartiiTowaru', 'batch_numbers', repeated=True),
        Field('WarunkiDostawy', 'delivery_terms'),
        Field('KursUmowny', 'agreed_exchange_rate', DEC),
        Field('WalutaUmowna', 'agreed_currency'),
        Child('Transport', 'transports', Transport, repeated=True),
        Field('PodmiotPosredniczacy', 'intermediary', BOOL1),
    )


# --- order (advance invoices) ----------------------------------------------------------------------

@dataclass
class OrderLine:
    """ZamowienieWiersz: a line of the order an advance invoice (ZAL) is paid on."""
    number: int
    name: Optional[str] = None
    unit: Optional[str] = None
    quantity: Optional[Decimal] = None
    unit_price_net: Optional[Decimal] = None
    net: Optional[Decimal] = None
    vat: Optional[Decimal] = None
    rate: Optional[str] = None
    oss_rate: Optional[Decimal] = None
    annex_15: bool = False
    uuid: Optional[str] = None
    index: Optional[str] = None
    gtin: Optional[str] = None
    pkwiu: Optional[str] = None
    cn: Optional[str] = None
    pkob: Optional[str] = None
    gtu: Optional[str] = None
    procedure: Optional[str] = None
    excise: Optional[Decimal] = None
    before_correction: bool = False

    XML = (
        Field('NrWierszaZam', 'number', INT, required=True),
        Field('UU_IDZ', 'uuid'),
        Field('P_7Z', 'name'),
        Field('IndeksZ', 'index'),
        Field('GTINZ', 'gtin'),
        Field('PKWiUZ', 'pkwiu'),
        Field('CNZ', 'cn'),
        Field('PKOBZ', 'pkob'),
        Field('P_8AZ', 'unit'),
        Field('P_8BZ', 'quantity', DEC),
        Field('P_9AZ', 'unit_price_net', DEC),
        Field('P_11NettoZ', 'net', DEC),
        Field('P_11VatZ', 'vat', DEC),
        Field('P_12Z', 'rate'),
        Field('P_12Z_XII', 'oss_rate', DEC),
        Field('P_12Z_Zal_15', 'annex_15', BOOL1),
        Field('GTUZ', 'gtu'),
        Field('ProceduraZ', 'procedure'),
        Field('KwotaAkcyzyZ', 'excise', DEC),
        Field('StanPrzedZ', 'before_correction', BOOL1),
    )


@dataclass
class Order:
    """Zamowienie: the whole order (gross value and lines) an advance invoice refers to."""
    value: Decimal
    lines: List[OrderLine] = dataclasses.field(default_factory=list)

    XML = (
        Field('WartoscZamowienia', 'value', DEC, required=True),
        Child('ZamowienieWiersz', 'lines', OrderLine, repeated=True, required=True),
    )


# --- the invoice body (Fa) -------------------------------------------------------------------------

@dataclass
class TaxTotals:
    """P_13_x (net) and P_14_x (VAT) per rate bucket; ``*_pln`` = VAT in PLN for foreign-currency invoices."""
    net_basic: Optional[Decimal] = None           # P_13_1: 23 % / 22 %
    vat_basic: Optional[Decimal] = None           # P_14_1
    vat_basic_pln: Optional[Decimal] = None       # P_14_1W
    net_reduced_1: Optional[Decimal] = None       # P_13_2: 8 % / 7 %
    vat_reduced_1: Optional[Decimal] = None
    vat_reduced_1_pln: Optional[Decimal] = None
    net_reduced_2: Optional[Decimal] = None       # P_13_3: 5 %
    vat_reduced_2: Optional[Decimal] = None
    vat_reduced_2_pln: Optional[Decimal] = None
    net_taxi: Optional[Decimal] = None            # P_13_4: 4 % / 3 % flat rate for taxis
    vat_taxi: Optional[Decimal] = None
    vat_taxi_pln: Optional[Decimal] = None
    net_oss: Optional[Decimal] = None             # P_13_5: OSS special procedure
    vat_oss: Optional[Decimal] = None             # P_14_5
    net_zero_domestic: Optional[Decimal] = None   # P_13_6_1: 0 KR
    net_zero_wdt: Optional[Decimal] = None        # P_13_6_2: 0 WDT
    net_zero_export: Optional[Decimal] = None     # P_13_6_3: 0 EX
    net_exempt: Optional[Decimal] = None          # P_13_7: zw
    net_np_i: Optional[Decimal] = None            # P_13_8: np I
    net_np_ii: Optional[Decimal] = None           # P_13_9: np II (art. 100 ust. 1 pkt 4)
    net_reverse_charge: Optional[Decimal] = None  # P_13_10: oo
    net_margin: Optional[Decimal] = None          # P_13_11: margin scheme

    XML = (
        Field('P_13_1', 'net_basic', DEC), Field('P_14_1', 'vat_basic', DEC), Field('P_14_1W', 'vat_basic_pln', DEC),
        Field('P_13_2', 'net_reduced_1', DEC), Field('P_14_2', 'vat_reduced_1', DEC),
        Field('P_14_2W', 'vat_reduced_1_pln', DEC),
        Field('P_13_3', 'net_reduced_2', DEC), Field('P_14_3', 'vat_reduced_2', DEC),
        Field('P_14_3W', 'vat_reduced_2_pln', DEC),
        Field('P_13_4', 'net_taxi', DEC), Field('P_14_4', 'vat_taxi', DEC), Field('P_14_4W', 'vat_taxi_pln', DEC),
        Field('P_13_5', 'net_oss', DEC), Field('P_14_5', 'vat_oss', DEC),
        Field('P_13_6_1', 'net_zero_domestic', DEC),
        Field('P_13_6_2', 'net_zero_wdt', DEC),
        Field('P_13_6_3', 'net_zero_export', DEC),
        Field('P_13_7', 'net_exempt', DEC),
        Field('P_13_8', 'net_np_i', DEC),
        Field('P_13_9', 'net_np_ii', DEC),
        Field('P_13_10', 'net_reverse_charge', DEC),
        Field('P_13_11', 'net_margin', DEC),
    )


@dataclass
class InvoiceBody:
    """Fa: the invoice itself."""
    currency: str                                 # KodWaluty
    issue_date: datetime.date                     # P_1
    number: str                                   # P_2
    total: Decimal                                # P_15: amount due (difference for corrections)
    invoice_type: str = 'VAT'                     # RodzajFaktury, one of INVOICE_TYPES
    issue_place: Optional[str] = None             # P_1M
    delivery_notes: List[str] = dataclasses.field(default_factory=list)   # WZ
    supply_date: Optional[datetime.date] = None   # P_6 (only when it differs from P_1)
    period_start: Optional[datetime.date] = None  # OkresFa/P_6_Od
    period_end: Optional[datetime.date] = None    # OkresFa/P_6_Do
    totals: TaxTotals = dataclasses.field(default_factory=TaxTotals)
    advance_exchange_rate: Optional[Decimal] = None   # KursWalutyZ
    annotations: Annotations = dataclasses.field(default_factory=Annotations)
    # correction block
    correction_reason: Optional[str] = None       # PrzyczynaKorekty
    correction_type: Optional[int] = None         # TypKorekty: 1 original period, 2 correction date, 3 other
    corrected_invoices: List[CorrectedInvoice] = dataclasses.field(default_factory=list)
    corrected_period: Optional[str] = None        # OkresFaKorygowanej (collective discounts)
    corrected_number: Optional[str] = None        # NrFaKorygowany: the right number when the number was wrong
    seller_before: Optional[CorrectedSeller] = None            # Podmiot1K
    buyers_before: List[CorrectedBuyer] = dataclasses.field(default_factory=list)   # Podmiot2K
    advance_total_before: Optional[Decimal] = None             # P_15ZK
    advance_exchange_rate_before: Optional[Decimal] = None     # KursWalutyZK
    # the rest
    partial_advances: List[PartialAdvance] = dataclasses.field(default_factory=list)
    receipt_invoice: bool = False                 # FP: invoice for a fiscal receipt
    related_parties: bool = False                 # TP: related entities (art. 32 ust. 2)
    additional_info: List[AdditionalInfo] = dataclasses.field(default_factory=list)
    advance_invoices: List[AdvanceInvoiceRef] = dataclasses.field(default_factory=list)
    excise_refund: bool = False                   # ZwrotAkcyzy
    lines: List[InvoiceLine] = dataclasses.field(default_factory=list)
    settlement: Optional[Settlement] = None
    payment: Optional[Payment] = None
    transaction_terms: Optional[TransactionTerms] = None
    order: Optional[Order] = None

    XML = (
        Field('KodWaluty', 'currency', required=True),
        Field('P_1', 'issue_date', DATE, required=True),
        Field('P_1M', 'issue_place'),
        Field('P_2', 'number', required=True),
        Field('WZ', 'delivery_notes', repeated=True),
        Field('P_6', 'supply_date', DATE),
        Group('OkresFa', (Field('P_6_Od', 'period_start', DATE, required=True),
                          Field('P_6_Do', 'period_end', DATE, required=True))),
        Inline('totals', TaxTotals),   # the XSD has no wrapper element for the buckets
        Field('P_15', 'total', DEC, required=True),
        Field('KursWalutyZ', 'advance_exchange_rate', DEC),
        Child('Adnotacje', 'annotations', Annotations, required=True),
        Field('RodzajFaktury', 'invoice_type', required=True),
        Field('PrzyczynaKorekty', 'correction_reason'),
        Field('TypKorekty', 'correction_type', INT),
        Child('DaneFaKorygowanej', 'corrected_invoices', CorrectedInvoice, repeated=True),
        Field('OkresFaKorygowanej', 'corrected_period'),
        Field('NrFaKorygowany', 'corrected_number'),
        Child('Podmiot1K', 'seller_before', CorrectedSeller),
        Child('Podmiot2K', 'buyers_before', CorrectedBuyer, repeated=True),
        Field('P_15ZK', 'advance_total_before', DEC),
        Field('KursWalutyZK', 'advance_exchange_rate_before', DEC),
        Child('ZaliczkaCzesciowa', 'partial_advances', PartialAdvance, repeated=True),
        Field('FP', 'receipt_invoice', BOOL1),
        Field('TP', 'related_parties', BOOL1),
        Child('DodatkowyOpis', 'additional_info', AdditionalInfo, repeated=True),
        Child('FakturaZaliczkowa', 'advance_invoices', AdvanceInvoiceRef, repeated=True),
        Field('ZwrotAkcyzy', 'excise_refund', BOOL1),
        Child('FaWiersz', 'lines', InvoiceLine, repeated=True),
        Child('Rozliczenie', 'settlement', Settlement),
        Child('Platnosc', 'payment', Payment),
        Child('WarunkiTransakcji', 'transaction_terms', TransactionTerms),
        Child('Zamowienie', 'order', Order),
    )


# --- footer and attachment -------------------------------------------------------------------------

@dataclass
class FooterInfo:
    text: Optional[str] = None

    XML = (Field('StopkaFaktury', 'text'),)


@dataclass
class Registry:
    full_name: Optional[str] = None
    krs: Optional[str] = None
    regon: Optional[str] = None
    bdo: Optional[str] = None

    XML = (Field('PelnaNazwa', 'full_name'), Field('KRS', 'krs'), Field('REGON', 'regon'), Field('BDO', 'bdo'))


@dataclass
class Footer:
    """Stopka: free text (up to 3 blocks) and company registry data (KRS, REGON, BDO)."""
    infos: List[FooterInfo] = dataclasses.field(default_factory=list)
    registries: List[Registry] = dataclasses.field(default_factory=list)

    XML = (Child('Informacje', 'infos', FooterInfo, repeated=True),
           Child('Rejestry', 'registries', Registry, repeated=True))


@dataclass
class KeyValue:
    key: str
    value: str


@dataclass
class TableColumn:
    header: str                                   # NKom
    type: str = 'txt'                             # @Typ: date, datetime, dec, int, time, txt

    XML = (Attr('Typ', 'type'), Field('NKom', 'header', required=True))


@dataclass
class TableRow:
    cells: List[str] = dataclasses.field(default_factory=list)


@dataclass
class Table:
    columns: List[TableColumn]
    rows: List[TableRow]
    metadata: List[KeyValue] = dataclasses.field(default_factory=list)
    description: Optional[str] = None
    sums: Optional[TableRow] = None

    XML = (
        Child('TMetaDane', 'metadata', KeyValue, repeated=True,
              specs=(Field('TKlucz', 'key', required=True), Field('TWartosc', 'value', required=True))),
        Field('Opis', 'description'),
        Group('TNaglowek', (Child('Kol', 'columns', TableColumn, repeated=True, required=True),), required=True),
        Child('Wiersz', 'rows', TableRow, repeated=True, required=True,
              specs=(Field('WKom', 'cells', repeated=True, required=True),)),
        Child('Suma', 'sums', TableRow, specs=(Field('SKom', 'cells', repeated=True, required=True),)),
    )


@dataclass
class DataBlock:
    metadata: List[KeyValue]
    header: Optional[str] = None
    paragraphs: List[str] = dataclasses.field(default_factory=list)
    tables: List[Table] = dataclasses.field(default_factory=list)

    XML = (
        Field('ZNaglowek', 'header'),
        Child('MetaDane', 'metadata', KeyValue, repeated=True, required=True,
              specs=(Field('ZKlucz', 'key', required=True), Field('ZWartosc', 'value', required=True))),
        Group('Tekst', (Field('Akapit', 'paragraphs', repeated=True, required=True),)),
        Child('Tabela', 'tables', Table, repeated=True),
    )


@dataclass
class Attachment:
    """Zalacznik: structured attachment (only in batch sessions, after the e-US notification)."""
    blocks: List[DataBlock]

    XML = (Child('BlokDanych', 'blocks', DataBlock, repeated=True, required=True),)


# --- the whole invoice -----------------------------------------------------------------------------

@dataclass
class Header:
    """Naglowek: the form code is fixed; ``created_at`` is DataWytworzeniaFa."""
    created_at: datetime.datetime
    system_info: Optional[str] = None

    XML = (
        Const('KodFormularza', 'FA', (('kodSystemowy', 'FA (3)'), ('wersjaSchemy', '1-0E'))),
        Const('WariantFormularza', '3'),
        Field('DataWytworzeniaFa', 'created_at', DATETIME, required=True),
        Field('SystemInfo', 'system_info'),
    )


@dataclass
class Invoice:
    """Faktura: one FA(3) e-invoice."""
    header: Header
    seller: Seller
    buyer: Buyer
    body: InvoiceBody
    third_parties: List[ThirdParty] = dataclasses.field(default_factory=list)   # up to 100
    authorized_party: Optional[AuthorizedParty] = None
    footer: Optional[Footer] = None
    attachment: Optional[Attachment] = None

    XML = (
        Child('Naglowek', 'header', Header, required=True),
        Child('Podmiot1', 'seller', Seller, required=True),
        Child('Podmiot2', 'buyer', Buyer, required=True),
        Child('Podmiot3', 'third_parties', ThirdParty, repeated=True),
        Child('PodmiotUpowazniony', 'authorized_party', AuthorizedParty),
        Child('Fa', 'body', InvoiceBody, required=True),
        Child('Stopka', 'footer', Footer),
        Child('Zalacznik', 'attachment', Attachment),
    )
