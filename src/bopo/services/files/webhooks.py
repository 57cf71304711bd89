"""Shopify's order webhooks: `orders/create` takes the order, `orders/cancelled` cancels it.

The signature is the authentication: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256
of the raw body under the shared secret, checked in constant time before the body is
read. Shopify delivers at least once and retries when unsure, so a call is handled
once by its `X-Shopify-Webhook-Id` (kept in webhook_deliveries), and an order once by
its source and number like any import: a second delivery of the same order under a
new id is a duplicate and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bopo.db.models import SalesOrder, WebhookDelivery
from bopo.domain.statuses import SalesOrderStatus
from bopo.errors import Conflict, NotFound
from bopo.services.common.inputs import NewSalesOrder
from bopo.services.context import Context
from bopo.services.files.formats import shopify
from bopo.services.orders import demand_changes, intake
from bopo.services.orders.outcomes import OrderStatus

SOURCE = "shopify"
CREATE = "orders/create"
CANCELLED = "orders/cancelled"
TOPICS = (CREATE, CANCELLED)


def shopify_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_ok(secret: str | None, body: bytes, signature: str | None) -> bool:
    """True only for a configured secret and the exact signature of these bytes."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(shopify_signature(secret, body), signature.strip())


@dataclass
class WebhookResult:
    """What a call did: `outcome` in a word, the order it was about, and why."""

    outcome: str  # taken, duplicate, rejected, left out, cancelled, not found, repeated, ignored
    order: str | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def shopify_order_event(
    ctx: Context,
    topic: str,
    delivery_id: str,
    payload: dict[str, Any],
    *,
    actor: str = "webhook:shopify",
) -> WebhookResult:
    """Handle one signed Shopify order call, once."""
    with ctx.db.read() as conn:
        seen = conn.scalar(
            select(WebhookDelivery.outcome).where(
                WebhookDelivery.source == SOURCE, WebhookDelivery.delivery_id == delivery_id
            )
        )
    number = str(payload.get("name") or "").strip() or None
    if seen is not None:
        return WebhookResult("repeated", number, [f"delivery {delivery_id} was handled: {seen}"])
    if topic == CREATE:
        result = _create(ctx, payload, actor)
    elif topic == CANCELLED:
        result = _cancel(ctx, payload, actor)
    else:
        return WebhookResult("ignored", number, [f"topic {topic!r} is not one bopo takes"])
    _record(ctx, topic, delivery_id, payload, result)
    return result


def _create(ctx: Context, payload: dict[str, Any], actor: str) -> WebhookResult:
    order, notes = shopify.webhook_order(payload, ctx.settings)
    number = str(payload.get("name") or "").strip() or None
    if order is None:
        return WebhookResult("left out", number, notes)
    try:
        new = NewSalesOrder.model_validate(
            {
                "source": order.source,
                "number": order.number,
                "customer": order.customer,
                "order_date": order.order_date,
                "delivery_date": order.delivery_date,
                "lines": order.lines,
            }
        )
    except ValidationError as exc:
        errors = [
            f"{'.'.join(str(p) for p in e['loc']) or 'order'}: {e['msg']}" for e in exc.errors()
        ]
        return WebhookResult("rejected", number, notes, errors)
    taken = intake.take_order(ctx, new, actor=actor)
    if taken.status is OrderStatus.REJECTED:
        return WebhookResult("rejected", number, notes, [str(e) for e in taken.errors])
    outcome = "duplicate" if taken.status is OrderStatus.DUPLICATE else "taken"
    return WebhookResult(outcome, number, notes)


def _cancel(ctx: Context, payload: dict[str, Any], actor: str) -> WebhookResult:
    number = str(payload.get("name") or "").strip()
    source = _source(ctx)
    with ctx.db.read() as conn:
        status = conn.scalar(
            select(SalesOrder.status).where(
                SalesOrder.source == source, SalesOrder.number == number
            )
        )
    if status is None:
        return WebhookResult("not found", number or None, ["no such order here; nothing to do"])
    if status == SalesOrderStatus.CANCELLED.value:
        return WebhookResult("cancelled", number, ["was cancelled already"])
    try:
        demand_changes.cancel_sales_order(ctx, number, source=source, actor=actor)
    except (Conflict, NotFound) as exc:  # cancelled meanwhile, or shipped: nothing to undo
        return WebhookResult("not cancelled", number, [str(exc)])
    return WebhookResult("cancelled", number)


def _source(ctx: Context) -> str:
    profile = ctx.settings.formats.get(SOURCE)
    return (profile.source if profile else None) or SOURCE


def _record(
    ctx: Context, topic: str, delivery_id: str, payload: dict[str, Any], result: WebhookResult
) -> None:
    said = "; ".join([result.outcome, *result.errors, *result.notes])[:500]
    try:
        with ctx.db.write() as conn:
            conn.execute(
                insert(WebhookDelivery).values(
                    source=SOURCE,
                    delivery_id=delivery_id[:100],
                    topic=topic[:64],
                    order_ref=str(payload.get("id") or "")[:64] or None,
                    outcome=said,
                    received_at=ctx.clock(),
                )
            )
    except IntegrityError:
        pass  # the same call, handled at the same moment by another worker
