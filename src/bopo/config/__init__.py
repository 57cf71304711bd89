"""Settings: one INI file, every key overridable by BOPO_<SECTION>__<KEY>.

Parsed once into a frozen Settings object that is passed where it is needed;
a bad or unknown key is reported by name when bopo starts, not at first use.
"""

from bopo.config.loading import CONFIG_ENV, DEFAULT_FILE, load_settings
from bopo.config.profiles import (
    BUILT_IN_FORMATS,
    FORMAT_SECTION,
    PROFILE_FIELDS,
    PROFILE_REQUIRED,
    FormatProfile,
)
from bopo.config.sections import (
    BackorderSettings,
    DatabaseSettings,
    EmailSettings,
    ImportSettings,
    MetricsSettings,
    ServerSettings,
    ShopifySettings,
    SmtpSettings,
    WorkerSettings,
    parse_duration,
)
from bopo.config.settings import Settings

__all__ = [
    "BUILT_IN_FORMATS",
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "FORMAT_SECTION",
    "PROFILE_FIELDS",
    "PROFILE_REQUIRED",
    "BackorderSettings",
    "DatabaseSettings",
    "EmailSettings",
    "FormatProfile",
    "ImportSettings",
    "MetricsSettings",
    "ServerSettings",
    "Settings",
    "ShopifySettings",
    "SmtpSettings",
    "WorkerSettings",
    "load_settings",
    "parse_duration",
]
