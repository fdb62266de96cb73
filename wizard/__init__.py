from . import account_move_reversal
