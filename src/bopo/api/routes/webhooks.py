"""Shops calling in: Shopify's order webhooks, signed instead of carrying a token."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bopo.api.errors import ApiProblem, responses
from bopo.services.files import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_BODY_BYTES = 2 * 1024 * 1024  # an order with a few thousand lines


class WebhookRead(BaseModel):
    outcome: str
    order: str | None = None
    notes: list[str] = []
    errors: list[str] = []


@router.post("/shopify/orders", responses=responses(401, 413, 422))
async def shopify_orders(
    request: Request,
    topic: Annotated[str | None, Header(alias="X-Shopify-Topic", max_length=64)] = None,
    signature: Annotated[str | None, Header(alias="X-Shopify-Hmac-Sha256", max_length=200)] = None,
    webhook_id: Annotated[str | None, Header(alias="X-Shopify-Webhook-Id", max_length=100)] = None,
) -> WebhookRead:
    """Shopify's `orders/create` (take the order) and `orders/cancelled` (cancel it).

    Authenticated by `X-Shopify-Hmac-Sha256` over the raw body with
    `BOPO_SHOPIFY__WEBHOOK_SECRET`, not by a bearer token; a bad or missing
    signature is 401 and nothing is read or written. Each call is handled once by
    `X-Shopify-Webhook-Id`, each order once by its name. A rejected order (an
    unknown SKU) is answered 200 with the reason, so that Shopify does not retry
    what would fail again.
    """
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"the body is over {MAX_BODY_BYTES} bytes", kind="too-large")
    ctx = request.app.state.ctx
    secret = ctx.settings.shopify.webhook_secret
    if not webhooks.signature_ok(secret.get_secret_value() if secret else None, body, signature):
        raise ApiProblem(
            401,
            "the X-Shopify-Hmac-Sha256 signature is missing or does not match"
            + ("" if secret else " (no BOPO_SHOPIFY__WEBHOOK_SECRET is set)"),
            kind="unauthenticated",
        )
    try:
        payload: Any = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past what any order needs
        raise ApiProblem(422, "the body is not JSON", kind="validation") from None
    if not isinstance(payload, dict):
        raise ApiProblem(422, "the body must be a JSON object (an order)", kind="validation")
    delivery = webhook_id or "sha256:" + hashlib.sha256(body).hexdigest()
    result = await run_in_threadpool(
        webhooks.shopify_order_event, ctx, topic or "", delivery, payload
    )
    return WebhookRead(
        outcome=result.outcome, order=result.order, notes=result.notes, errors=result.errors
    )
