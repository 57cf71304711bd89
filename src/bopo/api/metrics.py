"""Prometheus metrics: request latency and intake outcomes from this process,
and counts of orders, links, worklist and emails from the database.

Also read at scrape time: the outbox (emails by state, age of the oldest pending
one), the recurring jobs (last run, its duration, failures; from job_runs, so
every node reports every worker's runs) and this process's database pool.

With several workers, set PROMETHEUS_MULTIPROC_DIR (`bopo serve --workers N`
does) and each scrape adds up every worker's figures.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bopo.services.admin.jobs import job_statuses
from bopo.services.admin.monitoring import work_counts
from bopo.services.context import Context
from bopo.services.orders.outcomes import OrderResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(_MULTIPROC))
        # In multiprocess mode the values live in files, not in a registry.
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        self.latency = Histogram(
            "bopo_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=own,
        )
        self.orders = Counter(
            "bopo_api_orders",
            "Sales orders posted to the API, by result (taken, duplicate, rejected)",
            ["result"],
            registry=own,
        )
        self.lines = Counter(
            "bopo_api_order_lines",
            "Lines of sales orders taken through the API, by outcome (from stock, linked, skipped)",
            ["outcome"],
            registry=own,
        )
        self.intake = Histogram(
            "bopo_intake_duration_seconds",
            "Time to take one sales order posted to the API (allocation included)",
            buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=own,
        )

    @contextmanager
    def timed_intake(self) -> Iterator[None]:
        with self.intake.time():
            yield

    def count_order(self, result: OrderResult) -> None:
        self.orders.labels(result.status.value).inc()
        if result.status.value == "taken":
            for line in result.lines:
                self.lines.labels(line.outcome).inc()

    def exposition(self, ctx: Context) -> bytes:
        registry = CollectorRegistry()
        if self.multiprocess:
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Registered(self.registry))
        registry.register(_WorkCollector(ctx))
        return generate_latest(registry)


class _Registered(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


class _WorkCollector(Collector):
    """Read at scrape time, so every worker reports the same, whole picture."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Metric]:
        counts = work_counts(self.ctx)
        emails = {s: counts.emails.get(s, 0) for s in EMAIL_STATES}  # every state, even at 0
        yield _family(
            CounterMetricFamily,
            "bopo_sales_orders",
            "Sales orders taken, by current status",
            "status",
            dict(sorted(counts.orders.items())),
        )
        yield _family(
            CounterMetricFamily,
            "bopo_associations",
            "BO/PO associations made (lines linked), by current state",
            "state",
            dict(sorted(counts.associations.items())),
        )
        yield _family(
            GaugeMetricFamily,
            "bopo_worklist_lines",
            "Sales-order lines skipped and waiting on the backorder worklist, by reason",
            "reason",
            dict(sorted(counts.worklist.items())),
        )
        yield _family(
            GaugeMetricFamily, "bopo_emails", "Emails in the outbox, by state", "state", emails
        )
        oldest = counts.oldest_pending_email
        yield GaugeMetricFamily(
            "bopo_email_oldest_pending_age_seconds",
            "How long the oldest pending email has waited (0 when none waits)",
            value=max(0.0, (self.ctx.clock() - oldest).total_seconds()) if oldest else 0.0,
        )
        yield from _job_families(self.ctx)
        yield from _pool_families(self.ctx)


def _job_families(ctx: Context) -> Iterator[Metric]:
    last_run = GaugeMetricFamily(
        "bopo_job_last_run_timestamp_seconds",
        "When the job's last run started (Unix time), on whichever worker",
        labels=["job"],
    )
    last_ok = GaugeMetricFamily(
        "bopo_job_last_success_timestamp_seconds",
        "When the job's last run started, if it succeeded (Unix time)",
        labels=["job"],
    )
    duration = GaugeMetricFamily(
        "bopo_job_last_duration_seconds",
        "How long the job's last finished run took",
        labels=["job"],
    )
    failures = CounterMetricFamily(
        "bopo_job_failures", "Runs of the job that failed, all time", labels=["job"]
    )
    for status in job_statuses(ctx):
        failures.add_metric([status.job], status.failures)
        run = status.last_run
        if run is None:
            continue
        last_run.add_metric([status.job], run.started_at.timestamp())
        if run.result == "ok":
            last_ok.add_metric([status.job], run.started_at.timestamp())
        if run.duration_seconds is not None:
            duration.add_metric([status.job], run.duration_seconds)
    yield from (last_run, last_ok, duration, failures)


def _pool_families(ctx: Context) -> Iterator[Metric]:
    """This process's connection pools (PostgreSQL: one; SQLite: a writer and a reader)."""
    size = GaugeMetricFamily(
        "bopo_db_pool_size", "Connections the pool keeps (this process)", labels=["pool"]
    )
    out = GaugeMetricFamily(
        "bopo_db_pool_checked_out", "Connections in use (this process)", labels=["pool"]
    )
    engines = {"write": ctx.db.engine, "read": ctx.db.read_engine}
    for name, engine in engines.items():
        if name == "read" and engine is ctx.db.engine:
            continue
        pool: Any = engine.pool
        if hasattr(pool, "size") and hasattr(pool, "checkedout"):
            size.add_metric([name], pool.size())
            out.add_metric([name], pool.checkedout())
    yield from (size, out)


EMAIL_STATES = ("pending", "sending", "sent", "failed", "cancelled")


def _family(
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    help_text: str,
    label: str,
    values: Mapping[str, int],
) -> Metric:
    """One metric with a sample per label value, in the order given."""
    family = kind(name, help_text, labels=[label])
    for value, n in values.items():
        family.add_metric([value], n)
    return family


class LatencyMiddleware:
    """Times each request; labels it by route template, so ids do not explode the series."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: dict[Any, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates  # endpoint -> path template, with the router prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            endpoint = getattr(scope.get("route"), "endpoint", None)
            template = self.templates.get(endpoint, "(unmatched)")
            self.metrics.latency.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )


def serve_metrics(metrics: Metrics, ctx: Context, host: str, port: int) -> ThreadingHTTPServer:
    """Serve GET /metrics on a port of its own, on a daemon thread (`serve --metrics-port`).

    No token: a port for Prometheus alone, kept off the public network.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in {"/metrics", "/"}:
                self.send_error(404)
                return
            body = metrics.exposition(ctx)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="bopo-metrics", daemon=True).start()
    return server
