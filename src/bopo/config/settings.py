"""Every setting, by section: what the rest of bopo is given."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy.engine import make_url

from bopo.config.profiles import FormatProfile
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
    _Section,
)


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    backorders: BackorderSettings = BackorderSettings()
    email: EmailSettings = EmailSettings()
    smtp: SmtpSettings = SmtpSettings()
    server: ServerSettings = ServerSettings()
    import_: ImportSettings = Field(default=ImportSettings(), alias="import")
    shopify: ShopifySettings = ShopifySettings()
    # [format:NAME] sections: mapping profiles, and options of the shopify/amazon formats
    formats: dict[str, FormatProfile] = Field(default_factory=dict)
    worker: WorkerSettings = WorkerSettings()
    metrics: MetricsSettings = MetricsSettings()
    source: str = Field(default="(defaults)", exclude=True)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def masked(self) -> dict[str, dict[str, Any]]:
        """Every setting by section, secrets (and a password in the database URL) hidden."""
        data = {
            name: getattr(self, _ATTRS.get(name, name)).model_dump(mode="json")
            for name in _SECTIONS
        }
        data["database"]["url"] = make_url(self.database.url).render_as_string(hide_password=True)
        for name, profile in self.formats.items():
            data[f"format:{name}"] = profile.model_dump(
                mode="json", exclude_none=True, exclude={"name"}
            )
        return data

    def lead_days(self, source: str) -> int:
        """Days from order date to delivery date for a file that has none, by source."""
        for profile in self.formats.values():
            if profile.delivery_lead_days is not None and profile.source == source:
                return profile.delivery_lead_days
        named = self.formats.get(source)
        if named is not None and named.delivery_lead_days is not None:
            return named.delivery_lead_days
        return self.import_.delivery_lead_days


_SECTIONS: dict[str, type[_Section]] = {
    "database": DatabaseSettings,
    "backorders": BackorderSettings,
    "email": EmailSettings,
    "smtp": SmtpSettings,
    "server": ServerSettings,
    "import": ImportSettings,
    "shopify": ShopifySettings,
    "worker": WorkerSettings,
    "metrics": MetricsSettings,
}
_ATTRS = {"import": "import_"}
