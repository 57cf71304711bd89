"""What operators and their machines ask: probes, /metrics, request ids, jobs, log lines."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, text

from bopo.api.app import create_app
from bopo.config import DatabaseSettings, MetricsSettings, Settings
from bopo.db.engine import Database
from bopo.db.migrate import head_revision, upgrade
from bopo.db.models import AuditEvent
from bopo.domain.roles import Role
from bopo.logs import JsonFormatter, RequestIdFilter, request_id
from bopo.services.admin import jobs
from bopo.services.context import Context
from tests.clock import T0, Clock
from tests.e2e.conftest import Api, Web, order_json
from tests.helpers import given_stock

METRICS_TOKEN = "prometheus-scrapes-with-this"


def app_on(api: Api, **settings: object) -> TestClient:
    """Another app on the same database and clock, with other settings."""
    changed = api.ctx.settings.model_copy(update=settings)
    return TestClient(create_app(changed, ctx=Context(api.ctx.db, changed, clock=api.ctx.clock)))


# --- probes -------------------------------------------------------------------------------


def test_liveness_and_readiness_need_no_token(api: Api) -> None:
    assert api.get("/api/health/live", None).json() == {"status": "ok"}
    ready = api.get("/api/health/ready", None)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "migrations": "current"}


def test_a_database_behind_the_code_is_not_ready_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    upgrade(db, "0005")
    settings = Settings(database=DatabaseSettings(url=url))
    with TestClient(create_app(settings, ctx=Context(db, settings, clock=Clock()))) as client:
        assert client.get("/api/health/live").status_code == 200
        ready = client.get("/api/health/ready")
    db.dispose()
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"] == (
        f"database schema is 0005, this bopo needs {head_revision()}: run `bopo init`"
    )


def test_a_database_a_newer_bopo_migrated_keeps_an_older_node_ready(tmp_path: Path) -> None:
    """A rolling upgrade: the new release ran `bopo init`; this node, one release behind,
    works on (migrations only add) until it is replaced."""
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    db = Database(url)
    upgrade(db)
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0007_next_release'"))
    settings = Settings(database=DatabaseSettings(url=url))
    with TestClient(create_app(settings, ctx=Context(db, settings, clock=Clock()))) as client:
        ready = client.get("/api/health/ready")
    db.dispose()
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "newer"


def test_a_database_out_of_reach_is_not_ready(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'bopo.db'}"
    settings = Settings(database=DatabaseSettings(url=url))
    db = Database(url)
    with TestClient(create_app(settings, ctx=Context(db, settings, clock=Clock()))) as client:
        live, ready = client.get("/api/health/live"), client.get("/api/health/ready")
    db.dispose()
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["detail"].startswith("database not reachable: OperationalError")


# --- metrics ------------------------------------------------------------------------------


def test_metrics_take_the_metrics_token_or_an_api_token_and_nothing_else(api: Api) -> None:
    with app_on(api, metrics=MetricsSettings(token=SecretStr(METRICS_TOKEN))) as client:
        bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 401
        scraped = client.get("/metrics", headers=bearer)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert client.get("/api/metrics", headers=bearer).status_code == 200
        assert client.get("/metrics", headers=api.headers(Role.VIEWER)).status_code == 200
        # The metrics token is for metrics only.
        assert client.get("/api/me", headers=bearer).status_code == 401


def test_without_a_metrics_token_only_users_read_the_metrics(api: Api) -> None:
    assert api.get("/metrics", None).status_code == 401
    assert api.get("/metrics", None, headers={"Authorization": "Bearer x"}).status_code == 401
    assert api.get("/metrics").status_code == 200


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_cover_intake_the_outbox_jobs_and_the_pool(api: Api) -> None:
    given_stock(api.ctx, A=1)
    assert api.post("/api/sales-orders", json=order_json("SO-1", ("A", 3))).status_code == 201
    failing = jobs.Job("send_emails", "send_emails_every", _fail, "fails")
    jobs.run_job(api.ctx, failing, T0)
    jobs.run_job(api.ctx, jobs.JOBS["worklist_retry"], T0)
    got = samples(api.get("/metrics").text)

    assert got["bopo_intake_duration_seconds_count"] == 1
    assert got['bopo_api_order_lines_total{outcome="skipped"}'] == 1
    assert got['bopo_emails{state="pending"}'] == 0
    assert got["bopo_email_oldest_pending_age_seconds"] == 0
    assert got['bopo_job_failures_total{job="send_emails"}'] == 1
    assert got['bopo_job_failures_total{job="worklist_retry"}'] == 0
    started = got['bopo_job_last_run_timestamp_seconds{job="worklist_retry"}']
    assert started == pytest.approx(T0.timestamp(), abs=60)  # the tests' clock, ticking
    assert 'bopo_job_last_success_timestamp_seconds{job="send_emails"}' not in got
    assert got['bopo_job_last_duration_seconds{job="worklist_retry"}'] >= 0
    pools = {k: v for k, v in got.items() if k.startswith("bopo_db_pool_size")}
    assert pools, "no pool size reported"
    assert all(v >= 1 for v in pools.values())
    assert any(k.startswith("bopo_db_pool_checked_out") for k in got)


def _fail(_ctx: Context, _stop: object) -> jobs.Outcome:
    raise RuntimeError("SMTP server on fire")


def test_the_oldest_pending_email_age_grows_with_the_clock(api: Api) -> None:
    from tests.helpers import given_po, given_status, given_template

    given_stock(api.ctx, A=0)
    given_status(api.ctx, "ON ORDER")
    given_template(api.ctx)
    api.patch("/api/po-line-statuses/ON ORDER", json={"template": "Back order"})
    given_po(api.ctx, "PO-1", ("A", 5, None, "ON ORDER"))
    api.post("/api/sales-orders", json=order_json("SO-1", ("A", 2)))
    got = samples(api.get("/metrics").text)
    assert got['bopo_emails{state="pending"}'] == 1
    assert 0 <= got["bopo_email_oldest_pending_age_seconds"] < 60


# --- request ids --------------------------------------------------------------------------


def test_a_sane_request_id_comes_back_and_marks_the_audit_rows_of_the_request(
    api: Api,
) -> None:
    answer = api.post(
        "/api/stock-items",
        Role.ADMIN,
        json={"sku": "KET-01", "name": "Kettle", "on_hand": 4},
        headers={"X-Request-ID": "shop-7f3a-0001"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["X-Request-ID"] == "shop-7f3a-0001"
    given_stock(api.ctx, B=1)  # a change from outside any request
    with api.ctx.db.read() as conn:
        marked = conn.execute(
            select(AuditEvent.action, AuditEvent.after, AuditEvent.request_id)
            .where(AuditEvent.entity == "stock_item")
            .order_by(AuditEvent.id)
        ).all()
    assert [(r.action, r.after, r.request_id) for r in marked] == [
        ("stock.create", {"on_hand": 4}, "shop-7f3a-0001"),
        ("stock.create", {"on_hand": 1}, None),
    ]


def test_an_order_taken_over_http_audits_its_links_with_the_request_id(api: Api) -> None:
    given_stock(api.ctx, A=5)
    answer = api.post(
        "/api/sales-orders",
        json=order_json("SO-1", ("A", 3)),
        headers={"X-Request-ID": "order-42"},
    )
    assert answer.status_code == 201
    with api.ctx.db.read() as conn:
        ids = set(conn.scalars(select(AuditEvent.request_id).where(AuditEvent.actor != "test")))
    assert ids == {"order-42"}


@pytest.mark.parametrize(
    "incoming", [None, "", "has spaces", "x" * 101, '"quoted"', "semi;colon", "-leading-dash"]
)
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(
    api: Api, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    answer = api.get("/api/health/live", None, headers=headers)
    given = answer.headers["X-Request-ID"]
    assert given != incoming
    assert len(given) == 32
    assert int(given, 16) >= 0
    again = api.get("/api/health/live", None, headers=headers).headers["X-Request-ID"]
    assert again != given  # one per request


def test_errors_and_pages_carry_a_request_id_too(api: Api) -> None:
    missing = api.get("/api/sales-orders/999999", headers={"X-Request-ID": "r-404"})
    assert (missing.status_code, missing.headers["X-Request-ID"]) == (404, "r-404")
    assert "X-Request-ID" in api.get("/login", None).headers


# --- log lines ----------------------------------------------------------------------------


def test_a_json_log_line_is_one_object_with_the_request_id_and_the_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("bopo.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    token = request_id.set("req-1")
    try:
        logger.warning("took %d orders", 3, extra={"orders": 3, "source": "web"})
    finally:
        request_id.reset(token)
    logger.info("outside a request")
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logger.exception("it broke")
    logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # a traceback stays inside its line
    first, second, third = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "request_id", "orders", "source"}
    assert first["time"].endswith("+00:00")
    assert (first["level"], first["logger"], first["message"]) == (
        "warning",
        "bopo.test.json",
        "took 3 orders",
    )
    assert (first["request_id"], first["orders"], first["source"]) == ("req-1", 3, "web")
    assert second["request_id"] is None
    assert "ValueError: bad" in third["exc"]


def test_requests_log_their_request_id(tmp_path: Path) -> None:
    """The route logs on a worker thread: the request id follows it there."""
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'bopo.db'}"
    settings = Settings(database=DatabaseSettings(url=url))
    db = Database(url)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logging.getLogger("bopo").addHandler(handler)
    try:
        with TestClient(create_app(settings, ctx=Context(db, settings, clock=Clock()))) as c:
            c.get("/api/health/ready", headers={"X-Request-ID": "probe-2"})
    finally:
        logging.getLogger("bopo").removeHandler(handler)
        db.dispose()
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    warned = [e for e in logged if e["logger"] == "bopo.api.routes.ops"]
    assert len(warned) == 1
    assert warned[0]["request_id"] == "probe-2"
    assert warned[0]["message"].startswith("not ready: database not reachable")


# --- the settings page ----------------------------------------------------------------------


def test_the_settings_page_shows_each_jobs_last_run(web: Web) -> None:
    jobs.run_job(web.ctx, jobs.JOBS["worklist_retry"], T0)
    web.sign_in(Role.ADMIN)
    page = web.client.get("/settings")
    assert page.status_code == 200
    jobs_part = page.text.split('id="s-jobs"')[1].split("</section>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", jobs_part, re.S)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert cells[1].startswith("send_emails send due emails (the mailer) 30 s not run yet 0")
    assert cells[3].startswith("worklist_retry retry the backorder worklist 900 s 2026-11-25 09:0")
    assert " ok " in cells[3]
