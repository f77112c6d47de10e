"""Prometheus metrics: one private registry per Metrics object (several apps per process).

Every name is ``bot_``-prefixed; no label carries a user or chat id. Process metrics
(``process_*``, ``python_*``) come with every registry; the ``_created`` series are off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot import version

CONTENT_TYPE = CONTENT_TYPE_LATEST
UPDATE_KINDS = ("message", "edited_message", "callback_query", "my_chat_member", "other")
REJECTION_REASONS = ("secret", "json", "size", "duplicate", "slow")
ALERT_STATUSES = ("sent", "failed", "pending", "expired", "unconfirmed", "cancelled")
API_OUTCOMES = ("ok", "rate_limited", "client_error", "server_error", "timeout", "network_error")
# Handler latency buckets (seconds): a database round trip to a slow Bot API call.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ReminderCounts(Protocol):
    """What the reminder counters read (the alert dispatcher's running totals)."""

    sent_count: int
    failed_count: int
    expired_count: int
    cancelled_count: int


class _Reminders(Collector):
    """bot_reminders_{sent,failed,expired,cancelled}_total from the dispatcher's counts."""

    def __init__(self) -> None:
        self.source: ReminderCounts | None = None

    def collect(self) -> Iterator[Metric]:
        source = self.source
        for name, helptext in (
            ("sent", "Reminders sent by this process"),
            ("failed", "Reminders Telegram refused (a bad request)"),
            ("expired", "Reminders given up on: still failing when no longer useful"),
            ("cancelled", "Reminders dropped at send time because they no longer applied"),
        ):
            value = getattr(source, f"{name}_count", 0) if source is not None else 0
            yield CounterMetricFamily(f"bot_reminders_{name}", helptext, value=value)


class Metrics:
    """Every metric a process exposes, registered in its own CollectorRegistry."""

    def __init__(self, *, content_hash: str = "") -> None:
        """Create the registry and the metric objects (label values start at zero)."""
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no duplicate *_created series (process-wide switch)
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.build = Gauge(
            "bot_build_info",
            "Always 1: the running version and the loaded content's sha256",
            ["version", "content_hash"],
            registry=self.registry,
        )
        self.set_content_hash(content_hash)
        self.webhook_responses = Counter(
            "bot_webhook_responses",
            "Webhook HTTP responses, by status code",
            ["status"],
            registry=self.registry,
        )
        self.api_calls = Counter(
            "bot_api_calls",
            "Bot API calls, by method and outcome",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.api_seconds = Histogram(
            "bot_api_seconds",
            "Bot API call latency, by method",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.database_up = Gauge(
            "bot_database_up",
            "1 when the database answered the last check, else 0",
            registry=self.registry,
        )
        self.reminders_due = Gauge(
            "bot_reminders_due",
            "Pending reminders due now (read from the database at scrape time)",
            registry=self.registry,
        )
        self.reminders_oldest_due = Gauge(
            "bot_reminders_oldest_due_age_seconds",
            "How long the oldest due pending reminder has waited (0 when none)",
            registry=self.registry,
        )
        self.reminders = _Reminders()
        self.registry.register(self.reminders)
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
        self.handled_again = Counter(
            "bot_updates_handled_again",
            "Turns that wrote nothing because the merchant changed meanwhile (another"
            " instance's turn for the same chat came first); the update was handled again",
            registry=self.registry,
        )
        self.coalesced = Counter(
            "bot_updates_coalesced",
            "Repeated identical commands from one chat recorded as handled without a reply",
            registry=self.registry,
        )
        self.rejections = Counter(
            "bot_webhook_rejections",
            "Webhook requests refused or ignored, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.telegram_429 = Counter(
            "bot_telegram_429",
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

    def set_content_hash(self, content_hash: str) -> None:
        """Say which content is loaded in bot_build_info (one series)."""
        self.build.clear()
        self.build.labels(version(), content_hash or "unknown").set(1)

    def count_update(self, update: object) -> None:
        """Count one handled update under its kind."""
        self.updates.labels(update_kind(update)).inc()

    def reject(self, reason: str) -> None:
        """Count one refused or ignored webhook request."""
        self.rejections.labels(reason).inc()

    def count_429(self) -> None:
        """Count one 429 answer from the Bot API."""
        self.telegram_429.inc()

    def count_api_call(self, method: str, outcome: str, seconds: float) -> None:
        """Count one Bot API call and its latency."""
        self.api_calls.labels(method, outcome).inc()
        self.api_seconds.labels(method).observe(seconds)

    def watch_reminders(self, source: ReminderCounts) -> None:
        """Read the reminder counters from ``source`` (the dispatcher) at scrape time."""
        self.reminders.source = source

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
    """The metrics label for an update: its kind (UPDATE_KINDS), or other."""
    for kind in UPDATE_KINDS[:-1]:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


def api_outcome(status: int) -> str:
    """The outcome label for an HTTP status from the Bot API."""
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "client_error" if status < 500 else "server_error"


class CountingRequest(BaseRequest):
    """A Bot API transport that counts calls (method, outcome, latency) and 429 answers."""

    __slots__ = ("_inner", "_metrics", "_on_429")

    def __init__(
        self,
        inner: BaseRequest,
        on_429: Callable[[], None],
        metrics: Metrics | None = None,
    ) -> None:
        """Wrap ``inner``; ``on_429`` is called once per 429 response."""
        self._inner = inner
        self._on_429 = on_429
        self._metrics = metrics

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
        """Send through the wrapped transport and count the call (and a 429 answer)."""
        api_method = url.rsplit("/", 1)[-1]  # .../bot<token>/<method>: never the token
        started = time.perf_counter()
        outcome = "network_error"
        try:
            status, body = await self._inner.do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
            outcome = api_outcome(status)
        except TimedOut:
            outcome = "timeout"
            raise
        finally:
            if self._metrics is not None:
                self._metrics.count_api_call(api_method, outcome, time.perf_counter() - started)
        if status == 429:
            self._on_429()
        return status, body
