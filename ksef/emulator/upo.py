"""UPO v4-3 (Urzędowe Poświadczenie Odbioru) documents, valid against upo/upo-v4-3.xsd.

The real UPO is XAdES-signed by the Ministry; the emulator's is unsigned (like the official samples).
"""
from lxml import etree

from .state import iso

NAMESPACE = 'http://upo.schematy.mf.gov.pl/KSeF/v4-3'
CONTEXT_ELEMENTS = {'Nip': 'Nip', 'InternalId': 'IdWewnetrzny', 'NipVatUe': 'IdZlozonyVatUE',
                    'PeppolId': 'IdDostawcyUslugPeppol'}


def build(session, invoices, authentication):
    def sub(parent, name, text=None):
        element = etree.SubElement(parent, f'{{{NAMESPACE}}}{name}')
        if text is not None:
            element.text = text
        return element

    root = etree.Element(f'{{{NAMESPACE}}}Potwierdzenie', nsmap={None: NAMESPACE})
    sub(root, 'NazwaPodmiotuPrzyjmujacego', 'Ministerstwo Finansów')
    sub(root, 'NumerReferencyjnySesji', session.reference_number)
    auth = sub(root, 'Uwierzytelnienie')
    context = sub(auth, 'IdKontekstu')
    sub(context, CONTEXT_ELEMENTS[session.context_type], session.context_value)
    if authentication is not None and authentication.token_reference:
        sub(auth, 'NumerReferencyjnyTokenaKSeF', authentication.token_reference)
    else:
        sub(auth, 'SkrotDokumentuUwierzytelniajacego',
            (authentication.auth_document_hash if authentication else None) or 'A' * 43 + '=')
    sub(root, 'NazwaStrukturyLogicznej', 'Schemat_FA(3)_v1-0E.xsd')
    sub(root, 'KodFormularza', session.form_code.get('systemCode', 'FA (3)'))
    for invoice in invoices:
        document = sub(root, 'Dokument')
        sub(document, 'NipSprzedawcy', invoice.seller_nip)
        sub(document, 'NumerKSeFDokumentu', invoice.ksef_number)
        sub(document, 'NumerFaktury', invoice.invoice_number)
        sub(document, 'DataWystawieniaFaktury', invoice.issue_date.isoformat())
        sub(document, 'DataPrzeslaniaDokumentu', iso(invoice.received))
        sub(document, 'DataNadaniaNumeruKSeF', iso(invoice.acquisition))
        sub(document, 'SkrotDokumentu', invoice.invoice_hash)
        sub(document, 'TrybWysylki', invoice.invoicing_mode)
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')
