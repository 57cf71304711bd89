"""Prometheus metrics: request latency and intake outcomes from this process,
and counts of orders, links, worklist and emails from the database.

With several workers, set PROMETHEUS_MULTIPROC_DIR (`bopo serve --workers N`
does) and each scrape adds up every worker's figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bopo.services.context import Context
from bopo.services.monitoring import work_counts
from bopo.services.outcomes import OrderResult

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
