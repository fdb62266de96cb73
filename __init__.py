# The KSeF protocol, FA(3) and the emulator live in the pure-Python package ``ksef`` (imported by the
# Odoo layer as ``odoo.addons.l10n_pl_ksef.ksef``); the Odoo layer adds models, views and crons here.
from . import ksef
from . import models
from . import wizard
from .hooks import post_init_hook
