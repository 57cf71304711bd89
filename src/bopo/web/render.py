"""Rendering pages: one Jinja2 environment (autoescaped), filters that format for people,
and the navigation every page shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bopo.domain.roles import Role, allows
from bopo.services.common import pages
from bopo.services.common.pages import Page
from bopo.web.session import context_of, csrf_token, flash, take_flashes
from bopo.web.urls import local_path

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str
    least: Role  # the least role that sees it
    key: str  # matches a page's `section`


# One place for the menu: a page that comes later adds its entry here.
NAV: list[NavItem] = [
    NavItem("/", "Dashboard", Role.VIEWER, "dashboard"),
    NavItem("/purchase-orders", "Purchase orders", Role.VIEWER, "purchase-orders"),
    NavItem("/sales-orders", "Sales orders", Role.VIEWER, "sales-orders"),
    NavItem("/worklist", "Worklist", Role.VIEWER, "worklist"),
    NavItem("/goods-in", "Goods in", Role.VIEWER, "goods-in"),
    NavItem("/emails", "Emails", Role.VIEWER, "emails"),
    NavItem("/import", "Import", Role.OPERATOR, "import"),
    NavItem("/system", "System data", Role.VIEWER, "system"),
    NavItem("/settings", "Settings", Role.ADMIN, "settings"),
    NavItem("/admin", "Users", Role.ADMIN, "admin"),
    NavItem("/audit", "Audit", Role.ADMIN, "audit"),
]

# Every asset is bopo's own: nothing from another origin, no inline script.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Pages that show an email's HTML body in an <iframe sandbox srcdoc>. The frame inherits
# this policy: the sandbox stops its scripts and forms, the policy stops it loading
# anything from elsewhere (images, stylesheets, fonts, frames). Inline styles are allowed,
# as emails are styled that way and the preview should look as the customer will see it.
EMAIL_FRAME_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

NONE = "\u2013"  # an en dash where there is no value
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def qty(n: int | None) -> str:
    """1234 -> '1,234'."""
    return NONE if n is None else f"{n:,}"


def count(n: int) -> str:
    """A count that stops past the cap (bopo.services.common.pages): '10,000+'."""
    cap = pages.COUNT_CAP
    return f"{cap:,}+" if n > cap else f"{n:,}"


def make_filters(clock: Callable[[], datetime]) -> dict[str, Callable[..., str]]:
    """Filters that know today (from the services' clock, so tests can fix it)."""

    def day(d: date | None) -> str:
        """'Wed 2 Dec' this year, '2 Dec 2027' another year; a dash for no date."""
        if d is None:
            return NONE
        if isinstance(d, datetime):
            d = d.date()
        if d.year == clock().year:
            return f"{_DAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"

    def relday(d: date | None) -> str:
        """'today', 'tomorrow', 'in 3 days', '2 days ago'."""
        if d is None:
            return "no date"
        n = (d - clock().date()).days
        if n == 0:
            return "today"
        if n == 1:
            return "tomorrow"
        if n == -1:
            return "yesterday"
        return f"in {n} days" if n > 0 else f"{-n} days ago"

    def stamp(t: datetime | None) -> str:
        """'25 Nov, 14:03' (UTC)."""
        if t is None:
            return NONE
        return f"{day(t.date())}, {t:%H:%M}"

    def age(t: datetime | None) -> str:
        """How long ago: '3 days', '5 h', '12 min', 'just now'."""
        if t is None:
            return NONE
        seconds = max(0, int((clock() - t).total_seconds()))
        if seconds < 60:
            return "just now"
        if seconds < 3600:
            return f"{seconds // 60} min"
        if seconds < 2 * 86400:
            return f"{seconds // 3600} h"
        return f"{seconds // 86400} days"

    return {"day": day, "relday": relday, "stamp": stamp, "age": age, "qty": qty, "count": count}


def customer_url(code: str) -> str:
    """A customer's page by code (orders and lists know the code, not the id)."""
    return "/customers/by-code/" + quote(code, safe="")


def make_env(clock: Callable[[], datetime]) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(make_filters(clock))
    env.globals["customer_url"] = customer_url
    return env


def page_link(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None drops one)."""
    params = dict(request.query_params) | changes
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return request.url.path + ("?" + urlencode(kept) if kept else "")


def render(
    request: Request, template: str, status: int = 200, *, csp: str | None = None, **values: Any
) -> HTMLResponse:
    """A page; `csp` replaces the usual Content-Security-Policy (EMAIL_FRAME_CSP)."""
    env: Environment = request.app.state.web_env
    user = getattr(request.state, "user", None)
    ctx = context_of(request)
    data = {
        "request": request,
        "user": user,
        "nav": [n for n in NAV if user is not None and allows(user.role, n.least)],
        "section": "",
        "flashes": take_flashes(request),
        "csrf": csrf_token(request),
        "today": ctx.clock().date(),
        "allocation_on": ctx.backorders().allocate_existing_pos,
        "page_link": lambda **kw: page_link(request, **kw),
    } | values
    response = HTMLResponse(env.get_template(template).render(data), status_code=status)
    if csp is not None:
        response.headers["content-security-policy"] = csp
    return response


def redirect(
    url: str, message: str | None = None, kind: str = "ok", *, request: Request
) -> RedirectResponse:
    """Post/Redirect/Get, with a message for the page it goes to (on this site only)."""
    if message:
        flash(request, kind, message)
    return RedirectResponse(local_path(url), status_code=303)


# Rows a list page may show (`size=`); anything else is the usual 50.
PAGE_SIZES = (25, 50, 100)


def page_size(size: int) -> int:
    return size if size in PAGE_SIZES else 50


def pager(page: Page[Any]) -> dict[str, int | bool | None]:
    """Where this page sits in the list, for the pager macro."""
    last = page.offset + len(page.items)
    return {
        "first": page.offset + 1 if page.items else 0,
        "last": last,
        "total": page.total,
        "capped": page.total_capped,
        "prev": max(0, page.offset - page.limit) if page.offset else None,
        "next": last if page.has_next else None,
        "after": page.next_after,  # a list in id order: the next page by id
    }
