"""Shopify's order webhooks: signed calls only, each handled once, each order taken once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from bopo.api.app import create_app
from bopo.config import ShopifySettings
from bopo.db.models import SalesOrder, WebhookDelivery
from bopo.services.context import Context
from bopo.services.files.webhooks import shopify_signature
from tests.helpers import given_stock

SECRET = "hush-this-is-the-shared-secret"
URL = "/api/webhooks/shopify/orders"
CREATED = json.loads(
    (Path(__file__).parents[1] / "files" / "shopify_orders_create.json").read_text()
)


@pytest.fixture
def shop(make_ctx) -> Iterator[tuple[TestClient, Context]]:  # type: ignore[no-untyped-def]
    ctx: Context = make_ctx()
    ctx.settings = ctx.settings.model_copy(
        update={"shopify": ShopifySettings(webhook_secret=SecretStr(SECRET))}
    )
    given_stock(ctx, IPOD2008PINK=5, IPOD2008BLACK=1)
    with TestClient(create_app(ctx.settings, ctx=ctx)) as client:
        yield client, ctx


def call(
    client: TestClient,
    payload: dict[str, Any],
    *,
    topic: str = "orders/create",
    webhook_id: str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    secret: str | None = SECRET,
    body: bytes | None = None,
) -> httpx.Response:
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "bopo-test.myshopify.com",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-10",
    }
    if secret is not None:
        headers["X-Shopify-Hmac-Sha256"] = shopify_signature(secret, raw)
    return client.post(URL, content=body if body is not None else raw, headers=headers)


def counts(ctx: Context) -> tuple[int, int]:
    with ctx.db.read() as conn:
        return (
            conn.scalar(select(func.count()).select_from(SalesOrder)) or 0,
            conn.scalar(select(func.count()).select_from(WebhookDelivery)) or 0,
        )


def test_a_signed_orders_create_takes_the_order_once(shop: tuple[TestClient, Context]) -> None:
    client, ctx = shop
    answer = call(client, CREATED)

    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "taken"
    assert answer.json()["notes"] == ["#9999 line 3: line 'Gift card' has no SKU; left out"]
    with ctx.db.read() as conn:
        taken = conn.execute(
            select(SalesOrder.source, SalesOrder.number, SalesOrder.order_date)
        ).one()
    # the order's own day in its own zone (it was already the 25th in UTC)
    assert tuple(taken) == ("shopify", "#9999", date(2026, 11, 24))

    again = call(client, CREATED)  # Shopify retrying the same delivery
    assert again.json()["outcome"] == "repeated"
    other = call(client, CREATED, webhook_id="a-second-delivery")  # the same order anew
    assert other.json()["outcome"] == "duplicate"
    assert counts(ctx) == (1, 2)


@pytest.mark.parametrize(
    "how", ["no signature", "wrong secret", "body changed", "signature of nothing"]
)
def test_a_call_without_the_right_signature_is_refused_and_writes_nothing(
    shop: tuple[TestClient, Context], how: str
) -> None:
    client, ctx = shop
    if how == "no signature":
        answer = call(client, CREATED, secret=None)
    elif how == "wrong secret":
        answer = call(client, CREATED, secret="guessed")
    elif how == "body changed":
        changed = json.dumps(CREATED | {"name": "#6666"}).encode()
        answer = call(client, CREATED, body=changed)
    else:
        answer = call(client, CREATED, body=b"")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert counts(ctx) == (0, 0)


def test_without_a_secret_set_every_call_is_refused(make_ctx) -> None:  # type: ignore[no-untyped-def]
    ctx: Context = make_ctx()
    with TestClient(create_app(ctx.settings, ctx=ctx)) as client:
        answer = call(client, CREATED)
    assert answer.status_code == 401
    assert "BOPO_SHOPIFY__WEBHOOK_SECRET" in answer.json()["detail"]


def test_orders_cancelled_cancels_the_order(shop: tuple[TestClient, Context]) -> None:
    client, ctx = shop
    call(client, CREATED)
    cancelled = CREATED | {"cancelled_at": "2026-11-25T08:00:00-05:00", "cancel_reason": "customer"}
    answer = call(client, cancelled, topic="orders/cancelled", webhook_id="cancel-1")
    assert answer.json()["outcome"] == "cancelled"
    with ctx.db.read() as conn:
        assert conn.scalar(select(SalesOrder.status)) == "cancelled"
    # a cancelled order arriving as orders/create is not taken
    late = call(client, cancelled | {"name": "#10000"}, webhook_id="create-cancelled")
    assert late.json()["outcome"] == "left out"
    assert counts(ctx)[0] == 1


def test_a_rejected_order_is_answered_200_with_the_reason(shop: tuple[TestClient, Context]) -> None:
    client, ctx = shop
    unknown = CREATED | {
        "name": "#10001",
        "line_items": [CREATED["line_items"][0] | {"sku": "NOT-IN-BOPO"}],
    }
    answer = call(client, unknown, webhook_id="unknown-sku")
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "rejected"
    assert "unknown SKU 'NOT-IN-BOPO'" in answer.json()["errors"][0]
    assert counts(ctx) == (0, 1)


def test_a_signed_body_that_is_no_order_is_refused(shop: tuple[TestClient, Context]) -> None:
    client, ctx = shop
    for body in (b"[" * 100_000, b"not json", b"[1, 2]"):
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": shopify_signature(SECRET, body),
        }
        answer = client.post(URL, content=body, headers=headers)
        assert answer.status_code == 422, body[:10]
    assert counts(ctx) == (0, 0)
