"""The shared KSeF layer of l10n_pl_ksef: pure Python, imports nothing from Odoo.

Used by the Odoo addon, by the command line (``python -m ksef``) and by the benchmarks.
"""
__version__ = '18.0.1.0.0'
