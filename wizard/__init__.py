from . import account_move_reversal
from . import l10n_pl_ksef_setup_wizard
from . import l10n_pl_ksef_live_wizard
from . import l10n_pl_ksef_token_wizard
from . import l10n_pl_ksef_session_wizard
from . import l10n_pl_ksef_certificate_wizard
from . import l10n_pl_ksef_permission_wizard
from . import l10n_pl_ksef_fetch_wizard
