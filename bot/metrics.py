"""Prometheus metrics: one private registry per Metrics object (several apps per process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from telegram.request import BaseRequest, RequestData

CONTENT_TYPE = CONTENT_TYPE_LATEST
UPDATE_KINDS = ("message", "callback_query", "my_chat_member", "other")
REJECTION_REASONS = ("secret", "json", "size", "duplicate")
ALERT_STATUSES = ("sent", "failed", "pending")
# Handler latency buckets (seconds): a database round trip to a slow Bot API call.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every metric the web process exposes, registered in its own CollectorRegistry."""

    def __init__(self) -> None:
        """Create the registry and the metric objects (label values start at zero)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "bot_updates",
            "Telegram updates handled, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "bot_handler_seconds",
            "Time to handle one update (handlers, database and Bot API calls)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "bot_errors",
            "Updates whose handler raised (the error handler ran)",
            registry=self.registry,
        )
        self.rejections = Counter(
            "bot_webhook_rejections",
            "Webhook requests refused or ignored, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.telegram_429 = Counter(
            "telegram_429",
            "Bot API answers with 429 Too Many Requests",
            registry=self.registry,
        )
        self.alerts = Gauge(
            "bot_alerts",
            "Alerts in the outbox by status (read from the database at scrape time)",
            ["status"],
            registry=self.registry,
        )
        for kind in UPDATE_KINDS:
            self.updates.labels(kind)
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason)
        for status in ALERT_STATUSES:
            self.alerts.labels(status)

    def count_update(self, update: object) -> None:
        """Count one handled update under its kind."""
        self.updates.labels(update_kind(update)).inc()

    def reject(self, reason: str) -> None:
        """Count one refused or ignored webhook request."""
        self.rejections.labels(reason).inc()

    def count_429(self) -> None:
        """Count one 429 answer from the Bot API."""
        self.telegram_429.inc()

    def set_alerts(self, counts: Iterable[tuple[str, int]]) -> None:
        """Set the outbox gauges from (status, count) rows; statuses not given read zero."""
        seen = dict.fromkeys(ALERT_STATUSES, 0)
        for status, count in counts:
            if status in seen:
                seen[status] = int(count)
        for status, count in seen.items():
            self.alerts.labels(status).set(count)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)


def update_kind(update: object) -> str:
    """The metrics label for an update: message, callback_query, my_chat_member or other."""
    for kind in UPDATE_KINDS[:-1]:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


class CountingRequest(BaseRequest):
    """A Bot API transport that reports every 429 answer, then behaves like the one it wraps."""

    __slots__ = ("_inner", "_on_429")

    def __init__(self, inner: BaseRequest, on_429: Callable[[], None]) -> None:
        """Wrap ``inner``; ``on_429`` is called once per 429 response."""
        self._inner = inner
        self._on_429 = on_429

    @property
    def read_timeout(self) -> float | None:
        """The wrapped transport's default read timeout."""
        return self._inner.read_timeout

    async def initialize(self) -> None:
        """Initialise the wrapped transport."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped transport down."""
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send through the wrapped transport and count a 429 answer."""
        status, body = await self._inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if status == 429:
            self._on_429()
        return status, body
