def post_init_hook(env):
    """Companies that already use the Polish chart get the KSeF rate codes on their taxes."""
    companies = env['res.company'].search([('chart_template', '=', 'pl')])
    env['account.chart.template']._l10n_pl_ksef_fill_existing_taxes(companies)
