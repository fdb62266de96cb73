from . import test_install
from . import test_fa3_mapping
from . import test_checks
from . import test_i18n
from . import test_company_ksef
from . import test_ksef_permissions
