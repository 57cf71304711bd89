"""What routes ask for: the context, the caller (by bearer token) and their role, paging."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from bopo.api.errors import ApiProblem
from bopo.domain.roles import Role, allows
from bopo.errors import AuthenticationFailed
from bopo.services.admin.users import Principal, authenticate_token, hash_token
from bopo.services.context import Context

# A checked token is trusted for this long without asking the database again,
# so revoking a token or disabling a user takes effect within this time.
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 1024


class TokenCache:
    """Recently checked tokens (by hash), so most requests cost no lookup."""

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS, size: int = TOKEN_CACHE_SIZE) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def get(self, key: str) -> Principal | None:
        found = self._entries.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, principal: Principal) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


async def get_ctx(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


CtxDep = Annotated[Context, Depends(get_ctx)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token, made by `bopo tokens create USER` and shown once.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise ApiProblem(
            401, "a bearer token is required", kind="unauthenticated", headers=_CHALLENGE
        )
    cache: TokenCache = request.app.state.tokens
    key = hash_token(credentials.credentials)
    principal = cache.get(key)
    if principal is None:
        ctx: Context = request.app.state.ctx
        try:
            principal = await run_in_threadpool(authenticate_token, ctx, credentials.credentials)
        except AuthenticationFailed:
            raise ApiProblem(
                401, "the token is not valid", kind="unauthenticated", headers=_CHALLENGE
            ) from None
        cache.put(key, principal)
    return principal


async def metrics_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The [metrics] token (Prometheus scrapes with no user behind it), or an API token."""
    token = request.app.state.ctx.settings.metrics.token
    if (
        token is not None
        and credentials is not None
        and hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode())
    ):
        return
    await current_principal(request, credentials)  # any user may read the metrics


MetricsAccess = Annotated[None, Depends(metrics_access)]


def _require(needed: Role):  # type: ignore[no-untyped-def]
    # The caller found and their role checked in one dependency, not one depending on
    # another: FastAPI's resolving of each costs more than the check itself.
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await current_principal(request, credentials)
        if not allows(principal.role, needed):
            raise ApiProblem(
                403,
                f"this needs the {needed.value} role; you are {principal.role.value}",
                kind="forbidden",
            )
        return principal

    return Depends(check)


Viewer = Annotated[Principal, _require(Role.VIEWER)]
Operator = Annotated[Principal, _require(Role.OPERATOR)]
Admin = Annotated[Principal, _require(Role.ADMIN)]


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    offset: int
    after: int | None = None


async def paging(
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many items.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="Skip this many.")] = 0,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            description="A page's `next_after`: the page after it, sought by key however "
            "deep (the lists that give one; `offset` then only numbers the page)",
        ),
    ] = None,
) -> Paging:
    return Paging(limit, offset, after)


PagingDep = Annotated[Paging, Depends(paging)]
