"""Collective identifiers (API 2.7.0): one identifier to pay several invoices at once. Mixed into KsefService."""
import datetime
import secrets

from .. import identifiers
from .http import bad_request, read_json, require
from .state import iso

VALIDATION = 'Błąd walidacji danych wejściowych.'


class CollectiveIdentifiersMixin:

    def create_collective_identifier(self, request):
        _context, auth = self.context_of_request(request)
        self._require_permission(auth, 'CollectiveIdentifierManage', 'InvoiceWrite')
        data = read_json(request)
        require(data, 'invoices')
        items = data['invoices']
        if not isinstance(items, list) or not items:
            raise bad_request(21405, VALIDATION, 'invoices must be a non-empty list')
        taken = {entry['ksefNumber'] for c in self.state.collective.values() for entry in c['invoices']}
        for item in items:
            number = item.get('ksefNumber') if isinstance(item, dict) else None
            invoice = self.state.invoices_by_ksef_number.get(number)
            if invoice is None or not self._may_read(auth, invoice):
                raise bad_request(71001, 'Faktura nie może zostać przypisana do Identyfikatora Zbiorczego.', str(number))
            if number in taken:
                raise bad_request(71002, 'Faktura jest już przypisana do Identyfikatora Zbiorczego.', number)
        now = self.clock.now()
        head = f'{auth.context_value.split("-")[0]}-{now:%Y%m%d}-{secrets.token_hex(6).upper()}'
        identifier = f'{head}-{identifiers.ksef_number_checksum(head)}'
        self.state.collective[identifier] = {'created': now, 'context': auth.context_value,
                                             'invoices': [dict(item) for item in items]}
        return 201, {'collectiveIdentifierNumber': identifier}

    def _collective_item(self, identifier, entry, auth):
        return {'collectiveIdentifierNumber': identifier, 'dateCreated': iso(entry['created']),
                'createdInCurrentContext': entry['context'] == auth.context_value}

    def query_collective_identifiers(self, request):
        _context, auth = self.context_of_request(request)
        data = read_json(request)
        require(data, 'dateCreatedFrom', 'dateCreatedTo')
        try:
            start = datetime.datetime.fromisoformat(data['dateCreatedFrom'].replace('Z', '+00:00'))
            end = datetime.datetime.fromisoformat(data['dateCreatedTo'].replace('Z', '+00:00'))
        except (AttributeError, ValueError):
            raise bad_request(21405, VALIDATION, 'dateCreatedFrom/To must be ISO 8601 date-times') from None
        items = []
        for identifier, entry in sorted(self.state.collective.items(), key=lambda kv: kv[1]['created']):
            visible = entry['context'] == auth.context_value or any(
                self._may_read(auth, self.state.invoices_by_ksef_number[i['ksefNumber']]) for i in entry['invoices'])
            if not visible or not start <= entry['created'] <= end:
                continue
            if data.get('collectiveIdentifierNumber') not in (None, identifier):
                continue
            if data.get('createdInCurrentContext') and entry['context'] != auth.context_value:
                continue
            item = self._collective_item(identifier, entry, auth)
            item['invoiceCount'] = len(entry['invoices'])
            items.append(item)
        return 200, self._page(request, items, 'collectiveIdentifiers', 10, 100)

    def collective_invoices(self, request, collectiveIdentifierNumber):
        _context, auth = self.context_of_request(request)
        entry = self.state.collective.get(collectiveIdentifierNumber)
        if entry is None:
            raise bad_request(21405, VALIDATION, f'Nie znaleziono identyfikatora {collectiveIdentifierNumber}.')
        items = []
        for item in entry['invoices']:
            # invoices the caller may not read are listed without their details
            hidden = not self._may_read(auth, self.state.invoices_by_ksef_number[item['ksefNumber']])
            row = {'ksefNumber': item['ksefNumber'], 'detailsHidden': hidden}
            if not hidden and item.get('description'):
                row['description'] = item['description']
            items.append(row)
        return 200, self._page(request, items, 'invoices', 10, 100)

    def collective_of_invoice(self, request, ksefNumber):
        _context, auth = self.context_of_request(request)
        items = [self._collective_item(identifier, entry, auth) for identifier, entry in self.state.collective.items()
                 if any(i['ksefNumber'] == ksefNumber for i in entry['invoices'])]
        return 200, self._page(request, items, 'collectiveIdentifiers', 10, 100)
