{
    'name': 'Poland - KSeF 2.0 e-invoicing (FA(3))',
    'version': '18.0.1.0.0',
    'category': 'Accounting/Localizations/EDI',
    'summary': 'Send and receive structured FA(3) invoices through KSeF 2.0, the Polish national e-invoicing system',
    'description': """
KSeF 2.0 for Odoo 18: issue FA(3) invoices and corrections from Odoo, send them to KSeF (online and batch
sessions), receive purchase invoices as draft vendor bills, authenticate with a KSeF token, KSeF certificate
or qualified seal/signature, and work through offline and failure modes with KOD I / KOD II QR codes.

The KSeF protocol lives in the pure-Python package ``ksef`` shipped inside this addon (usable without Odoo:
``python -m ksef --help``).
""",
    'author': 'l10n_pl_ksef contributors',
    'countries': ['pl'],
    'depends': ['account', 'l10n_pl', 'certificate'],
    'external_dependencies': {
        'python': ['lxml', 'cryptography', 'requests', 'qrcode'],
    },
    'data': [
        'security/ir.model.access.csv',
        'security/l10n_pl_ksef_security.xml',
        'views/account_move_views.xml',
        'views/account_tax_views.xml',
        'views/product_views.xml',
        'views/l10n_pl_ksef_setup_wizard_views.xml',
        'views/res_config_settings_views.xml',
        'views/res_config_settings_ksef_tokens_views.xml',
        'wizard/l10n_pl_ksef_token_wizard_views.xml',
        'wizard/l10n_pl_ksef_session_wizard_views.xml',
        'views/l10n_pl_ksef_certificate_views.xml',
        'data/l10n_pl_ksef_certificate_cron.xml',
        'views/l10n_pl_ksef_permission_wizard_views.xml',
        'views/account_move_ksef_views.xml',
        'views/report_invoice.xml',
        'views/report_received_invoice.xml',
        'views/l10n_pl_ksef_mode_views.xml',
        'views/res_config_settings_ksef_sending_views.xml',
        'data/l10n_pl_ksef_cron.xml',
        'security/l10n_pl_ksef_receiving_security.xml',
        'views/l10n_pl_ksef_inbound_document_views.xml',
        'data/l10n_pl_ksef_receive_cron.xml',
        'views/l10n_pl_ksef_inbound_bill_views.xml',
        'data/l10n_pl_ksef_bill_cron.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'l10n_pl_ksef/static/src/**/*',
        ],
        'web.assets_tests': [
            'l10n_pl_ksef/static/tests/tours/**/*',
        ],
    },
    'post_init_hook': 'post_init_hook',
    'installable': True,
    'license': 'LGPL-3',
}
