# The KSeF protocol, FA(3) and the emulator live in the pure-Python package ``ksef`` (imported by the
# Odoo layer as ``odoo.addons.l10n_pl_ksef.ksef``); the Odoo layer adds models, views and crons here.
from . import ksef

try:
    import odoo  # noqa: F401
except ImportError:
    # Outside Odoo (pytest of ksef/, `python -m ksef`) this folder is still imported as a package,
    # because the repository root is the addon: only the pure layer is loaded then.
    pass
else:
    from . import models
    from . import wizard
    from .hooks import post_init_hook
