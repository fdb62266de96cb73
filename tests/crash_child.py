"""One run of KSeF's scheduled jobs in a process of its own, killed at a named point (os._exit: no cleanup, no
rollback message, as a killed Odoo worker) — run by tests/test_ksef_crash.py, never imported by Odoo.

    python crash_child.py '{"odoo_args": [...], "db": "...", "jobs": ["send", "status"], "crash": "point or null"}'

Exit code 70 when the process died at its point, 0 when the jobs ran to their end."""
import json
import os
import sys

CRASHED = 70


def die():
    sys.stdout.flush()
    os._exit(CRASHED)


def install_crash(point, registry):
    """Make the process die at ``point``: before or after a KSeF call, or after a step of ours (uncommitted)."""
    from odoo.addons.l10n_pl_ksef.ksef.client import KsefClient
    calls = {   # point: (when, does this call match)
        'online-before-invoice': ('before', lambda method, template: template == '/sessions/online/{referenceNumber}/invoices'),
        'online-after-invoice': ('after', lambda method, template: template == '/sessions/online/{referenceNumber}/invoices'),
        'batch-before-upload': ('before', lambda method, template: method == 'PUT'),
        'batch-during-upload': ('after', lambda method, template: method == 'PUT'),
        'batch-after-close': ('after', lambda method, template: template == '/sessions/batch/{referenceNumber}/close'),
        'status-after-answer': ('after', lambda method, template: template == '/sessions/{referenceNumber}/invoices'),
        'export-after-download': ('after', lambda method, template: method == 'GET' and '/_emulator/export/' in template),
    }
    if point in calls:
        when, matches = calls[point]
        original = KsefClient.call

        def call(self, method, template, **kwargs):
            if matches(method, template) and when == 'before':
                die()
            result = original(self, method, template, **kwargs)
            if matches(method, template):
                die()
            return result
        KsefClient.call = call
    elif point:   # a step of ours done, its transaction not committed yet
        method = {'inbound-documents-made': '_l10n_pl_ksef_create_inbounds',
                  'bills-made': '_l10n_pl_ksef_make_bills'}[point]
        model = registry['l10n_pl_ksef.document']   # the class Odoo built from every extension
        original = getattr(model, method)

        def step(self, *args, **kwargs):
            original(self, *args, **kwargs)
            die()
        setattr(model, method, step)


def main():
    options = json.loads(sys.argv[1])
    import odoo
    odoo.tools.config.parse_config(options['odoo_args'])
    registry = odoo.modules.registry.Registry(options['db'])
    install_crash(options.get('crash'), registry)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        Document, Sync = env['l10n_pl_ksef.document'], env['l10n_pl_ksef.sync']
        jobs = {'send': Document._cron_l10n_pl_ksef_send, 'status': Document._cron_l10n_pl_ksef_update_status,
                'receive': Sync._cron_l10n_pl_ksef_receive, 'bills': Document._cron_l10n_pl_ksef_create_bills}
        for job in options['jobs']:
            jobs[job]()
            cr.commit()


if __name__ == '__main__':
    main()
