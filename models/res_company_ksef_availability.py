"""Watching whether KSeF works: the Ministry's status (Latarnia) and our own repeated failures to reach it. What is
seen is offered to the administrator as an activity (switch to the announced mode, or to offline24); the mode is
never changed silently."""
from odoo import _, fields, models

from ..ksef.errors import KsefError

UNREACHABLE_ALERT = 3     # consecutive sendings KSeF did not answer before the administrator is told
ANNOUNCED = {'MAINTENANCE': 'unavailable', 'FAILURE': 'failure', 'TOTAL_FAILURE': 'total_failure'}


class ResCompany(models.Model):
    _inherit = 'res.company'

    l10n_pl_ksef_unreachable_count = fields.Integer(
        string="KSeF unreachable (times in a row)", copy=False,
        help="How many sendings in a row KSeF did not answer; back to 0 when it answers.")

    def _cron_l10n_pl_ksef_availability(self):
        """The Ministry's KSeF status for every connected company still online: an announced unavailability or
        failure is offered as a switch of the company's mode."""
        companies = self.search([('l10n_pl_ksef_mode', '=', 'online')]).filtered(
            lambda c: c._l10n_pl_ksef_is_configured())
        statuses = {}   # the status is the environment's, not the company's: asked once per server
        for company in companies:
            client = company._l10n_pl_ksef_client()
            url = client.environment.latarnia_url
            if url not in statuses:
                try:
                    statuses[url] = client.availability()
                except KsefError:
                    statuses[url] = None   # the status page itself is out of reach: the sender's failures will tell
            if statuses[url]:
                company._l10n_pl_ksef_offer_announced_mode(statuses[url])

    def _l10n_pl_ksef_offer_announced_mode(self, status):
        mode = ANNOUNCED.get(status.get('status'))
        if not mode:
            return False
        texts = '; '.join(filter(None, (f"{m.get('title', '')} {m.get('start', '')} - {m.get('end') or '...'}".strip()
                                        for m in status.get('messages') or [])))
        return self._l10n_pl_ksef_ask_admin(
            _("KSeF announces: %s", status['status']),
            _("The Ministry announces a KSeF %(state)s (%(texts)s). Invoices issued meanwhile may be issued offline "
              "and sent after it ends: switch the company's KSeF mode in Settings, KSeF mode, entering the "
              "announcement's reference.", state=status['status'], texts=texts or '-'),
            fields.Date.context_today(self))

    def _l10n_pl_ksef_reached(self, reached):
        """Record whether a sending reached KSeF; after several failures in a row, suggest offline24."""
        self.ensure_one()
        company = self.sudo()
        if reached:
            if company.l10n_pl_ksef_unreachable_count:
                company.l10n_pl_ksef_unreachable_count = 0
            return
        company.l10n_pl_ksef_unreachable_count += 1
        if company.l10n_pl_ksef_unreachable_count == UNREACHABLE_ALERT and company.l10n_pl_ksef_mode == 'online':
            company._l10n_pl_ksef_ask_admin(
                _("KSeF does not answer"),
                _("KSeF did not answer %s sendings in a row. If it stays so, issue invoices in the offline24 mode "
                  "(Settings, KSeF mode): they are sent by themselves when KSeF answers again, by the next business "
                  "day.", company.l10n_pl_ksef_unreachable_count),
                fields.Date.context_today(self))
