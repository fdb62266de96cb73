from . import account_move_reversal
from . import l10n_pl_ksef_permission_wizard
