"""Screenshots of the KSeF addon in a running Odoo 18, for the user documentation (doc/img/*.png).

    /opt/odoo/venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8069 --login admin --password admin \
        --out doc/img [--db ksef_demo] [--chromium /usr/bin/chromium]

Meant for the demo database of scripts/run.sh (scripts/odoo_demo.py: the company "Demo KSeF sp. z o.o."
connected to the local KSeF emulator, its invoices accepted by KSeF and its received invoices), with the user
interface in the user's language (Polish in the demo). It starts a headless Chromium of its own (own profile, free
port), drives it through the Chrome DevTools Protocol, logs in through /web/login, opens each screen, waits for it
to settle (document loaded, no RPC running, then a short pause; animations off) and captures it:

    settings-ksef.png              Settings > Invoicing, the "KSeF (Polish e-invoicing)" block
    setup-wizard.png               the "Set up the KSeF connection" wizard, opened from that block
    ksef-certificates-wizard.png   the "KSeF certificates" wizard, opened from that block
    send-wizard-ksef.png           the Send wizard of a posted customer invoice, with "Send to KSeF"
    invoice-ksef-accepted.png      an invoice KSeF accepted, its KSeF tab open
    invoice-ksef-rejected.png      an invoice KSeF rejected, with the red banner
    invoice-pdf-qr.png             the top of the printed invoice (PDF page 1) with the KOD I QR code
    received-from-ksef.png         Accounting > Vendors > Received from KSeF

Needs: websocket-client (the CDP client Odoo's own browser tests use: odoo/tests/common.py), requests and
Pillow, all three in Odoo's virtualenv; Chromium; pdftoppm and pdftohtml (poppler-utils) for the PDF. Two runs give
the same pixels as long as the data is the same.

Record ids are looked up through JSON-RPC (/web/dataset/call_kw, with the browser's session) after the login,
never hard-coded. What it adds to the database, once (a second run finds them again by their reference):
- a posted customer invoice for "Nowak Handel S.A." ("Demo KSeF: do wysłania"), never sent: its Send wizard;
- a posted invoice ("Demo KSeF: odrzucona") sent to KSeF and rejected. The emulator rejects it, not a broken
  file: during that one sending (a few seconds) the emulator's TEST API (POST /testdata/limits/context/session)
  lowers the company's maximum invoice size to 0 MB, so KSeF answers 450; the limits are reset (DELETE) at once.
  That call needs a login in the company's context: a KSeF token minted through /_emulator/tokens, revoked
  right after (it stays listed as revoked in the company's KSeF tokens).
It sets the system parameter report.url to --url only when neither it nor web.base.url is --url (wkhtmltopdf
loads the report's styles from there). When the company has no document layout yet, Odoo shows an
administrator "Configure your document layout" before the Send wizard: the script changes nothing there and opens
the Send wizard as that dialog would afterwards.
"""
import argparse
import base64
import contextlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import requests
import websocket
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from ksef.client import KsefClient, Secret, custom_environment  # noqa: E402 - the addon's pure package
from ksef.emulator.process import emulator_token, free_port  # noqa: E402
WIDTH, HEIGHT = 1440, 900
MAX_BYTES = 300_000
SEND_WIZARD_REF, SEND_WIZARD_QUANTITY = 'Demo KSeF: do wysłania', 2
REJECTED_REF, REJECTED_QUANTITY = 'Demo KSeF: odrzucona', 1   # other amounts: no "duplicate?" warning
CUSTOMER = 'Nowak Handel S.A.'
PRODUCT_CODE = 'DEMO-USL'
# no animations, no blinking caret: the same pixels on every run
STILL_CSS = ('*, *::before, *::after { transition: none !important; animation: none !important; '
             'caret-color: transparent !important; }')
SETTLED_JS = """(() => document.readyState === 'complete'
    && !document.querySelector('.o_loading_indicator, .o_blockUI, .o-main-components-container .o_loading')
    && !!document.querySelector('.o_action_manager > .o_action, .o_action_manager > div'))()"""
ERRORS_JS = """(() => Array.from(document.querySelectorAll(
    '.o_error_dialog, .o_dialog_error, .o_notification.border-danger, .o_notification_bar.bg-danger'))
    .map(e => e.innerText.trim().slice(0, 500)))()"""


def log(message):
    print(message, flush=True)


# --- Chromium through the DevTools Protocol --------------------------------------------------------------

class Browser:
    """A headless Chromium of our own (its own profile and a free port), one page, driven over CDP."""

    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix='odoo-screenshots-')
        self.port = free_port()
        self.process = subprocess.Popen([
            chromium, '--headless=new', f'--remote-debugging-port={self.port}', '--remote-allow-origins=*',
            f'--window-size={WIDTH},{HEIGHT}', f'--user-data-dir={self.profile}', '--no-first-run',
            '--no-default-browser-check', '--disable-extensions', '--disable-gpu', '--hide-scrollbars',
            '--force-device-scale-factor=1', '--lang=pl-PL', '--font-render-hinting=none', '--no-sandbox',
            'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ws, self.next_id, self.exceptions = None, 0, []
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = requests.get(f'http://127.0.0.1:{self.port}/json/list', timeout=2).json()
                page = next(p for p in pages if p['type'] == 'page')
                break
            except (requests.ConnectionError, StopIteration, ValueError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    sys.exit('Chromium did not start (--chromium?)')
                time.sleep(0.2)
        self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=60, suppress_origin=True)
        self.send('Page.enable')
        self.send('Runtime.enable')
        self.send('Emulation.setDeviceMetricsOverride', width=WIDTH, height=HEIGHT, deviceScaleFactor=1,
                  mobile=False)

    def viewport(self, height=HEIGHT):
        self.send('Emulation.setDeviceMetricsOverride', width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)

    def close(self):
        if self.ws:
            with contextlib.suppress(Exception):
                self.ws.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({'id': self.next_id, 'method': method, 'params': params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get('method') == 'Runtime.exceptionThrown':
                details = message['params']['exceptionDetails']
                self.exceptions.append((details.get('exception') or {}).get('description') or details.get('text'))
            if message.get('id') == self.next_id:
                if 'error' in message:
                    raise RuntimeError(f'{method}: {message["error"]}')
                return message['result']

    def eval(self, expression, await_promise=False):
        result = self.send('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=await_promise)
        if result.get('exceptionDetails'):
            raise RuntimeError(f'JavaScript failed: {result["exceptionDetails"]}\n{expression}')
        return result['result'].get('value')

    def wait_for(self, expression, timeout=30, what=None):
        deadline = time.monotonic() + timeout
        while not self.eval(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f'Timed out waiting for {what or expression}')
            time.sleep(0.2)

    def settle(self, extra=None, pause=1.0):
        """The page loaded, Odoo's action shown and no RPC running (twice in a row), then a short pause."""
        condition = SETTLED_JS if not extra else f'({SETTLED_JS}) && !!({extra})'
        deadline = time.monotonic() + 60
        steady = 0
        while steady < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f'The page did not settle: {self.eval("location.href")}')
            steady = steady + 1 if self.eval(condition) else 0
            time.sleep(0.25)
        self.eval(f"""(() => {{ if (!document.getElementById('screenshots-still')) {{
            const style = document.createElement('style'); style.id = 'screenshots-still';
            style.textContent = {json.dumps(STILL_CSS)}; document.head.appendChild(style); }} }})()""")
        time.sleep(pause)

    def goto(self, url, extra=None):
        self.send('Page.navigate', url=url)
        time.sleep(0.3)
        self.settle(extra)

    def click(self, selector, what=None):
        self.wait_for(f'!!document.querySelector({json.dumps(selector)})', what=what or selector)
        self.eval(f'document.querySelector({json.dumps(selector)}).click()')

    def rect(self, selector):
        return self.eval(f"""(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
            return {{x: r.x, y: r.y, width: r.width, height: r.height}}; }})()""")

    def capture(self):
        errors = self.eval(ERRORS_JS)
        if errors:
            raise RuntimeError(f'An error is shown on {self.eval("location.href")}: {errors}')
        data = self.send('Page.captureScreenshot', format='png', captureBeyondViewport=False)['data']
        return Image.open(io.BytesIO(base64.b64decode(data))).convert('RGB')


# --- Odoo through JSON-RPC, with the browser's session -------------------------------------------------------

class Odoo:
    def __init__(self, url, session_id):
        self.url = url
        self.http = requests.Session()
        self.http.cookies.set('session_id', session_id)

    def call(self, model, method, *args, **kwargs):
        response = self.http.post(f'{self.url}/web/dataset/call_kw/{model}/{method}', timeout=300, json={
            'jsonrpc': '2.0', 'method': 'call', 'id': 1,
            'params': {'model': model, 'method': method, 'args': list(args), 'kwargs': kwargs}})
        response.raise_for_status()
        answer = response.json()
        if 'error' in answer:
            data = answer['error'].get('data') or {}
            raise RuntimeError(f'{model}.{method}: {data.get("message") or answer["error"]}')
        return answer['result']

    def search_read(self, model, domain, fields, **kwargs):
        return self.call(model, 'search_read', domain, fields=fields, **kwargs)

    def xmlid(self, xmlid):
        module, name = xmlid.split('.')
        found = self.search_read('ir.model.data', [('module', '=', module), ('name', '=', name)], ['res_id'])
        if not found:
            sys.exit(f'{xmlid} is not in the database: is l10n_pl_ksef installed?')
        return found[0]['res_id']


def login(browser, args):
    browser.send('Page.navigate', url=f'{args.url}/web/login' + (f'?db={args.db}' if args.db else ''))
    browser.wait_for("document.readyState === 'complete' && !!document.querySelector('form.oe_login_form')",
                     what='the login form')
    browser.eval(f"""(() => {{ const form = document.querySelector('form.oe_login_form');
        form.querySelector('#login').value = {json.dumps(args.login)};
        form.querySelector('#password').value = {json.dumps(args.password)};
        form.submit(); }})()""")
    browser.wait_for("location.pathname.startsWith('/odoo') && document.readyState === 'complete'",
                     what='the login (wrong --login/--password?)')
    browser.settle()
    cookies = browser.send('Network.getCookies', urls=[args.url])['cookies']
    session_id = next(c['value'] for c in cookies if c['name'] == 'session_id')
    return Odoo(args.url, session_id)


# --- images ------------------------------------------------------------------------------------------

def save(image, path):
    """PNG under MAX_BYTES: as it is when small enough, else with a 256-colour palette, else scaled down."""
    def encoded(img):
        buffer = io.BytesIO()
        img.save(buffer, 'PNG', optimize=True)
        return buffer.getvalue()
    data = encoded(image)
    if len(data) > MAX_BYTES:
        data = encoded(image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    scaled = image
    while len(data) > MAX_BYTES:
        scaled = scaled.resize((int(scaled.width * 0.9), int(scaled.height * 0.9)), Image.LANCZOS)
        data = encoded(scaled.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    path.write_bytes(data)
    log(f'  {path} ({image.width}x{image.height}, {len(data) // 1024} KB)')


def around(image, rect, margin=24):
    """The part of ``image`` inside ``rect`` (CSS pixels = image pixels here), with a margin."""
    left, top = max(0, int(rect['x']) - margin), max(0, int(rect['y']) - margin)
    right = min(image.width, int(rect['x'] + rect['width']) + margin)
    bottom = min(image.height, int(rect['y'] + rect['height']) + margin)
    return image.crop((left, top, right, bottom))


# --- the data the screens show ---------------------------------------------------------------------------

def company(odoo):
    return odoo.search_read('res.company', [('vat', '!=', False), ('partner_id.country_id.code', '=', 'PL')],
                            ['name', 'vat', 'l10n_pl_ksef_environment', 'l10n_pl_ksef_custom_url'], limit=1,
                            order='id')[0]


def posted_invoice(odoo, reference, company_id, quantity):
    """A posted customer invoice with this reference (one product line, for CUSTOMER), made once."""
    found = odoo.search_read('account.move', [('ref', '=', reference), ('move_type', '=', 'out_invoice'),
                                              ('company_id', '=', company_id), ('state', '=', 'posted')],
                             ['name', 'l10n_pl_ksef_state'], order='id desc', limit=1)
    if found:
        return found[0]
    partner = odoo.search_read('res.partner', [('name', '=', CUSTOMER)], ['id'], limit=1)
    product = odoo.search_read('product.product', [('default_code', '=', PRODUCT_CODE)], ['id'], limit=1)
    if not partner or not product:
        sys.exit(f'The demo data is missing ({CUSTOMER!r}, product {PRODUCT_CODE}): run scripts/run.sh first.')
    context = {'allowed_company_ids': [company_id], 'default_move_type': 'out_invoice'}
    move_id = odoo.call('account.move', 'create', [{
        'move_type': 'out_invoice', 'partner_id': partner[0]['id'], 'ref': reference, 'company_id': company_id,
        'invoice_line_ids': [(0, 0, {'product_id': product[0]['id'], 'quantity': quantity})]}], context=context)[0]
    odoo.call('account.move', 'action_post', [move_id], context=context)
    move = odoo.search_read('account.move', [('id', '=', move_id)], ['name', 'l10n_pl_ksef_state'])[0]
    log(f'  created and posted {move["name"]} ({reference})')
    return move


def send_wizard_invoice(odoo, company_id):
    """A posted invoice KSeF has not seen: its Send wizard offers (and ticks) "Send to KSeF"."""
    move = posted_invoice(odoo, SEND_WIZARD_REF, company_id, SEND_WIZARD_QUANTITY)
    if move['l10n_pl_ksef_state']:   # somebody sent it meanwhile: a new one
        odoo.call('account.move', 'write', [move['id']], {'ref': f'{SEND_WIZARD_REF} ({move["name"]})'})
        move = posted_invoice(odoo, SEND_WIZARD_REF, company_id, SEND_WIZARD_QUANTITY)
    return move


@contextlib.contextmanager
def emulator_rejects_invoices(company_values):
    """While inside: the KSeF emulator rejects (450) every invoice the company sends in an online session."""
    api_url = company_values['l10n_pl_ksef_custom_url']
    if company_values['l10n_pl_ksef_environment'] != 'custom' or not api_url:
        sys.exit('The rejected invoice needs the company connected to the local KSeF emulator (scripts/run.sh).')
    root = api_url.rstrip('/').removesuffix('/v2')
    nip = ''.join(ch for ch in company_values['vat'] if ch.isdigit())
    minted = emulator_token(root, nip, ['InvoiceRead'], description='scripts/screenshots.py (revoked at once)')
    client = KsefClient(custom_environment(api_url))
    tokens = client.login_with_token('Nip', nip, Secret(minted['token']))

    def limits(method, body=None):
        client.call(method, '/testdata/limits/context/session', json_body=body, idempotent=False,
                    token=client.fresh_access(tokens), context=f'Nip:{nip}')
    try:
        defaults = {'maxInvoiceSizeInMB': 1, 'maxInvoiceWithAttachmentSizeInMB': 3, 'maxInvoices': 10000}
        limits('POST', {'onlineSession': dict(defaults, maxInvoiceSizeInMB=0, maxInvoiceWithAttachmentSizeInMB=0),
                        'batchSession': defaults})
        yield
    finally:
        limits('DELETE')
        with contextlib.suppress(Exception):
            client.revoke_ksef_token(tokens, minted['referenceNumber'])
        with contextlib.suppress(Exception):
            client.end_auth_session(tokens)


def rejected_invoice(odoo, company_values):
    """A posted invoice KSeF rejected (made once): sent while the emulator rejects, then followed to its outcome."""
    move = posted_invoice(odoo, REJECTED_REF, company_values['id'], REJECTED_QUANTITY)
    if move['l10n_pl_ksef_state'] == 'accepted':   # sent again by somebody after the rejection: a new one
        odoo.call('account.move', 'write', [move['id']], {'ref': f'{REJECTED_REF} ({move["name"]})'})
        move = posted_invoice(odoo, REJECTED_REF, company_values['id'], REJECTED_QUANTITY)
    if not move['l10n_pl_ksef_state']:
        with emulator_rejects_invoices(company_values):
            odoo.call('account.move', 'action_l10n_pl_ksef_send', [move['id']])
        log(f'  {move["name"]} sent to KSeF while the emulator rejects invoices')
    deadline = time.monotonic() + 120
    while True:
        state = odoo.search_read('account.move', [('id', '=', move['id'])], ['l10n_pl_ksef_state'])[0]
        if state['l10n_pl_ksef_state'] == 'rejected':
            return move
        if state['l10n_pl_ksef_state'] != 'sent' or time.monotonic() > deadline:
            sys.exit(f'{move["name"]}: KSeF state {state["l10n_pl_ksef_state"]!r}, not rejected')
        time.sleep(2)
        odoo.call('account.move', 'action_l10n_pl_ksef_refresh_status', [move['id']])


def accepted_invoice(odoo, company_id):
    found = odoo.search_read('account.move', [('move_type', '=', 'out_invoice'), ('company_id', '=', company_id),
                                              ('state', '=', 'posted'), ('l10n_pl_ksef_state', '=', 'accepted')],
                             ['name', 'l10n_pl_ksef_number'], order='id', limit=1)
    if not found:
        sys.exit('No customer invoice accepted by KSeF: run scripts/run.sh first.')
    return found[0]


# --- the screens -----------------------------------------------------------------------------------------

# the block "KSeF (Polish e-invoicing)" (id l10n_pl_ksef_settings in views/res_config_settings_views.xml): Odoo
# renders a settings block as a title and a container without its id, so it is found by its first setting
KSEF_BLOCK = '.o_settings_container:has(#l10n_pl_ksef_cash_accounting)'


def settings(browser, args):
    browser.goto(f'{args.url}/odoo/action-account.action_account_config',
                 extra=f"document.querySelector('{KSEF_BLOCK}')")
    browser.eval(f"document.querySelector('{KSEF_BLOCK}').previousElementSibling.scrollIntoView({{block: 'start'}})")
    time.sleep(0.5)


def close_dialogs(browser):
    browser.eval("document.querySelectorAll('.modal .btn-close').forEach(b => b.click())")
    browser.wait_for("!document.querySelector('.modal')", what='the dialog to close')


def shot_settings(browser, odoo, args, out):
    settings(browser, args)
    save(browser.capture(), out / 'settings-ksef.png')


def shot_wizard(browser, button, out_file, what):
    browser.click(f'{KSEF_BLOCK} button[name="{button}"]', what=what)
    browser.settle(extra="document.querySelector('.modal .modal-content')")
    image = browser.capture()
    save(around(image, browser.rect('.modal .modal-content'), margin=0), out_file)
    close_dialogs(browser)


def shot_setup_wizard(browser, odoo, args, out):
    settings(browser, args)
    shot_wizard(browser, odoo.xmlid('l10n_pl_ksef.l10n_pl_ksef_setup_wizard_action'), out / 'setup-wizard.png',
                'the "Set up the KSeF connection" button')


def shot_certificates_wizard(browser, odoo, args, out):
    settings(browser, args)
    shot_wizard(browser, 'action_l10n_pl_ksef_open_certificates', out / 'ksef-certificates-wizard.png',
                'the "KSeF certificates" button')


def invoice_url(args, move_id):
    return f'{args.url}/odoo/customer-invoices/{move_id}'   # the action of the menu Customers > Invoices


def shot_send_wizard(browser, odoo, args, out, company_id):
    move = send_wizard_invoice(odoo, company_id)
    browser.goto(invoice_url(args, move['id']), extra="document.querySelector('.o_form_view')")
    browser.click('.o_form_statusbar button[name="action_invoice_sent"]', what='the Send button')
    browser.settle(extra="document.querySelector('.modal .modal-content')")
    if browser.eval("!!document.querySelector('.modal [name=\"layout_background\"]')"):
        # an administrator of a company without a document layout is asked for one first ("Configure your
        # document layout"); this script changes nothing there: the Send wizard is opened as that dialog would
        log('  (the company has no document layout: Odoo asks for one before the Send wizard; skipped)')
        close_dialogs(browser)
        browser.eval(f"""(async () => {{
            const env = odoo.__WOWL_DEBUG__.root.env;
            const action = await env.services.orm.call('account.move', 'action_invoice_sent', [[{move['id']}]],
                                                       {{context: {{discard_logo_check: true}}}});
            const view = Array.isArray(action.view_id) ? action.view_id[0] : action.view_id || false;
            await env.services.action.doAction({{...action, views: action.views || [[view, 'form']]}});
        }})()""", await_promise=True)
        browser.settle(extra="document.querySelector('.modal .modal-content')")
    image = browser.capture()
    save(around(image, browser.rect('.modal .modal-content'), margin=0), out / 'send-wizard-ksef.png')
    close_dialogs(browser)   # nothing is sent


def shot_invoice_form(browser, args, move_id, out_file, extra=None):
    """The invoice form from its status bar down to the end of the sheet, the KSeF tab open (a taller window)."""
    browser.viewport(1600)
    try:
        browser.goto(invoice_url(args, move_id), extra=extra or "document.querySelector('.o_form_view')")
        browser.click('.o_notebook a.nav-link[name="l10n_pl_ksef"]', what='the KSeF tab')
        time.sleep(0.5)
        browser.settle()
        image = browser.capture()
        sheet = browser.rect('.o_form_sheet_bg .o_form_sheet')
        save(image.crop((0, 0, image.width, min(image.height, int(sheet['y'] + sheet['height']) + 6))), out_file)
    finally:
        browser.viewport()


def shot_accepted(browser, odoo, args, out, company_id):
    move = accepted_invoice(odoo, company_id)
    shot_invoice_form(browser, args, move['id'], out / 'invoice-ksef-accepted.png')


def shot_rejected(browser, odoo, args, out, company_values):
    move = rejected_invoice(odoo, company_values)
    shot_invoice_form(browser, args, move['id'], out / 'invoice-ksef-rejected.png',
                      extra="document.querySelector('.o_form_view .alert-danger')")


def shot_pdf(browser, odoo, args, out, company_id):
    parameters = {name: odoo.call('ir.config_parameter', 'get_param', name) for name in ('report.url', 'web.base.url')}
    if not parameters['report.url'] and (parameters['web.base.url'] or '').rstrip('/') != args.url:
        # wkhtmltopdf loads the report's styles from report.url, else web.base.url: it must reach this server
        odoo.call('ir.config_parameter', 'set_param', 'report.url', args.url)
        log(f'  system parameter report.url set to {args.url}')
    move = accepted_invoice(odoo, company_id)
    if not odoo.search_read('ir.actions.report', [('report_name', '=', 'account.report_invoice')], ['id']):
        sys.exit('The report account.report_invoice is missing.')
    response = odoo.http.get(f'{args.url}/report/pdf/account.report_invoice/{move["id"]}', timeout=300)
    if response.status_code != 200 or not response.content.startswith(b'%PDF'):
        sys.exit(f'The invoice PDF could not be printed: HTTP {response.status_code} {response.text[:300]}')
    with tempfile.TemporaryDirectory() as folder:
        pdf = pathlib.Path(folder, 'invoice.pdf')
        pdf.write_bytes(response.content)
        subprocess.run(['pdftoppm', '-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', str(pdf),
                        str(pdf.with_suffix(''))], check=True)
        page = Image.open(pdf.with_suffix('.png')).convert('RGB')
        layout = subprocess.run(['pdftohtml', '-xml', '-f', '1', '-l', '1', '-stdout', str(pdf)], cwd=folder,
                                check=True, capture_output=True, text=True).stdout   # (writes the pictures there)
    bottom = qr_bottom(layout, page.height)
    # from the first printed line (white paper above it trimmed to a margin) down to below the QR code
    inked = Image.eval(page.convert('L'), lambda v: 255 if v < 200 else 0).getbbox()
    top = max(0, inked[1] - 24) if inked else 0
    save(page.crop((0, top, page.width, min(page.height, bottom + 24))), out / 'invoice-pdf-qr.png')


def qr_bottom(layout, height):
    """The bottom of the KOD I QR code on page 1, in pixels of an image ``height`` high. The code is the lowest
    square picture of the page (pdftohtml -xml lists the pictures with their positions)."""
    page = ElementTree.fromstring(layout).find('page')
    squares = [image for image in page.iter('image')
               if 0.8 < int(image.get('width')) / max(1, int(image.get('height'))) < 1.25]
    if not squares:
        sys.exit('No KOD I QR code on the printed invoice.')
    lowest = max(squares, key=lambda image: int(image.get('top')))
    return int((int(lowest.get('top')) + int(lowest.get('height'))) * height / int(page.get('height')))


def shot_received(browser, odoo, args, out):
    browser.goto(f'{args.url}/odoo/ksef-received', extra="document.querySelector('.o_list_view')")
    # the list opens on what needs work (Received or Error): all of them, bills made included
    browser.eval("document.querySelectorAll('.o_searchview_facet .o_facet_remove').forEach(b => b.click())")
    browser.settle(extra="document.querySelector('.o_list_view .o_data_row')")
    image = browser.capture()
    table = browser.rect('.o_list_view .o_list_table')
    save(image.crop((0, 0, image.width, min(image.height, int(table['y'] + table['height']) + 24))),
         out / 'received-from-ksef.png')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--url', default='http://127.0.0.1:8069')
    parser.add_argument('--login', default='admin')
    parser.add_argument('--password', default='admin')
    parser.add_argument('--db', default=os.environ.get('KSEF_DEMO_DB', 'ksef_demo'))
    parser.add_argument('--out', default=str(REPO / 'doc' / 'img'))
    parser.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium')
    parser.add_argument('--only', nargs='*', help='file names (without .png) to make; all by default')
    args = parser.parse_args()
    args.url = args.url.rstrip('/')
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(args.chromium)
    try:
        odoo = login(browser, args)
        values = company(odoo)
        shots = {
            'settings-ksef': lambda: shot_settings(browser, odoo, args, out),
            'setup-wizard': lambda: shot_setup_wizard(browser, odoo, args, out),
            'ksef-certificates-wizard': lambda: shot_certificates_wizard(browser, odoo, args, out),
            'send-wizard-ksef': lambda: shot_send_wizard(browser, odoo, args, out, values['id']),
            'invoice-ksef-accepted': lambda: shot_accepted(browser, odoo, args, out, values['id']),
            'invoice-ksef-rejected': lambda: shot_rejected(browser, odoo, args, out, values),
            'invoice-pdf-qr': lambda: shot_pdf(browser, odoo, args, out, values['id']),
            'received-from-ksef': lambda: shot_received(browser, odoo, args, out),
        }
        for name, shot in shots.items():
            if args.only and name not in args.only:
                continue
            log(f'{name}:')
            shot()
        if browser.exceptions:
            log('JavaScript exceptions seen: ' + '; '.join(map(str, browser.exceptions)))
    finally:
        browser.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
