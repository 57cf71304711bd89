"""Mapping profiles ([format:NAME]) are settings: checked at start, each problem by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bopo.config import Settings, load_settings
from bopo.errors import ConfigError


def settings_from(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "bopo.ini"
    path.write_text(text)
    return load_settings(path, env={})


def test_a_profile_reads_columns_and_constants(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        "[format:myerp]\norder_number = OrderNo\nsku = Item\nqty = Qty\norder_date = Date\n"
        'customer_email = "orders@bigclient.example"\ndelimiter = tab\nencoding = latin-1\n'
        "delivery_lead_days = 4\nsource = erp\n[import]\ndelivery_lead_days = 1\n",
    )
    profile = settings.formats["myerp"]
    assert profile.column("order_number") == "OrderNo"
    assert profile.column("customer_email") is None
    assert profile.constant("customer_email") == "orders@bigclient.example"
    assert (profile.delimiter, profile.encoding) == ("\t", "iso8859-1")
    assert settings.lead_days("erp") == 4
    assert settings.lead_days("shopify") == 1
    assert settings.masked()["format:myerp"]["source"] == "erp"


def test_bad_profiles_are_named_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(
            tmp_path,
            "[format:myerp]\nsku = Item\ndate_format = %H:%M\nencoding = klingon\n"
            "delimiter = ;;\nwarehouse = W1\n"
            "[format:shopify]\norder_number = Name\n[import]\ndelivery_lead_days = -1\n",
        )
    problems = "\n".join(caught.value.problems)
    assert "[import] delivery_lead_days: Input should be greater than or equal to 0" in problems
    assert "[format:myerp] date_format: '%H:%M' must hold the day, month and year" in problems
    assert "[format:myerp] encoding: unknown encoding 'klingon'" in problems
    assert "[format:myerp] delimiter: one character" in problems
    assert "[format:myerp] warehouse: unknown key" in problems
    assert "[format:shopify] order_number: not a choice for the shopify format" in problems


def test_a_profile_must_say_where_the_order_comes_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a mapping profile needs order_number, customer_email"):
        settings_from(tmp_path, "[format:bare]\nsku = Item\nqty = Qty\norder_date = D\n")


def test_the_webhook_secret_comes_only_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BOPO_SHOPIFY__WEBHOOK_SECRET"):
        settings_from(tmp_path, "[shopify]\nwebhook_secret = hunter2\n")
    settings = load_settings(None, env={"BOPO_SHOPIFY__WEBHOOK_SECRET": "s3cret"})
    assert settings.shopify.webhook_secret is not None
    assert settings.masked()["shopify"]["webhook_secret"] == "**********"
