"""Serve mode: the aiohttp web process (Telegram webhook, probes, /metrics).

Probes: ``/livez`` answers 200 while the event loop runs (it never touches the database);
``/readyz`` answers 200 when the database answers and the content is loaded, and 503 from
the moment SIGTERM arrives (before in-flight updates are drained); ``/healthz`` is the older
combined check (database and content, with details). The worker (``remind``) and, with
``METRICS_PORT``, ``serve`` answer ``/metrics``, ``/livez`` and ``/readyz`` on that port
(:func:`create_ops_app`).

Updates go through the durable inbox (:mod:`bot.updates`): the webhook writes the update
to the ``inbox`` table (insert-if-absent: a re-delivery of a known id is acknowledged and
ignored, across instances), answers 200 at once and handles it in the background. So a
webhook connection is never held while the reply waits for the send budget (a merchant
flooding one chat cannot hold Telegram's few webhook connections). An update is
acknowledged only once it is in the inbox, so a process that dies mid-update loses nothing:
its lease runs out and any instance's sweeper handles it. A handler failure is retried by
the sweeper; the last failure apologises to the merchant. :meth:`Webhook.settled` waits
until every accepted update is handled (shutdown drains the same way; tests use it).

Serve mode runs no loops from ``bot_data.background`` (the alert dispatcher runs in the
``remind`` worker process); its one loop is the inbox sweeper (retries, leftovers, pruning).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import func
from sqlmodel import col, select
from telegram import Update

from bot.config import Settings
from bot.content.loader import Content
from bot.delivery import HandleAgain, current_delivery
from bot.metrics import CONTENT_TYPE, Metrics
from bot.services.core import Repeated
from bot.storage.models import Outbox, utcnow
from bot.updates import UpdateRunner

if TYPE_CHECKING:
    from bot.context import BotApp, Context
    from bot.storage.db import Database

log = logging.getLogger("bot.web")

MAX_BODY = 1024 * 1024  # Telegram updates are far smaller; anything bigger is not Telegram.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SWEEP_EVERY = 2.0  # seconds between inbox sweeps (retries, leftovers of dead processes)
HEALTH_TIMEOUT = 3.0  # seconds the database gets to answer /healthz
SCRAPE_TIMEOUT = 2.0  # seconds the outbox count gets at /metrics scrape time
BODY_TIMEOUT = 10.0  # seconds a client gets to send the body (Telegram sends it at once)
SHUTDOWN_TIMEOUT = 30.0  # seconds in-flight updates get to finish after SIGTERM
# What a connection beyond MAX_CONNECTIONS gets before it is closed (no request is read).
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 5\r\nConnection: close\r\nRetry-After: 1\r\n\r\nbusy\n"
)


class Health:
    """Liveness, readiness and /metrics for one process (web or worker)."""

    def __init__(
        self,
        db: Database,
        content: Content | None,
        metrics: Metrics,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.content = content
        self.metrics = metrics
        self.clock = clock
        self.stopping = False  # set on SIGTERM: /readyz answers 503 from then on
        self.started = time.monotonic()

    async def database_ok(self) -> bool:
        """Ping the database (bounded) and record the answer in bot_database_up."""
        try:
            up = await asyncio.wait_for(self.db.ping(), HEALTH_TIMEOUT)
        except TimeoutError:
            up = False
        self.metrics.database_up.set(1 if up else 0)
        return up

    async def livez(self, _request: web.Request) -> web.Response:
        """200 while the process serves HTTP; never touches the database."""
        uptime = round(time.monotonic() - self.started)
        return web.json_response({"status": "alive", "uptime_seconds": uptime})

    async def readyz(self, _request: web.Request) -> web.Response:
        """200 when the database answers and the content is loaded; 503 once stopping."""
        if self.stopping:
            return web.json_response({"status": "stopping"}, status=503)
        database = await self.database_ok()
        loaded = self.content is not None and bool(self.content.steps)
        body = {
            "status": "ready" if database and loaded else "unavailable",
            "database": "ok" if database else "unreachable",
            "content": "loaded" if loaded else "missing",
        }
        return web.json_response(body, status=200 if database and loaded else 503)

    async def metrics_view(self, _request: web.Request) -> web.Response:
        """Prometheus text; the outbox gauges and bot_database_up are read now."""
        try:
            await asyncio.wait_for(self.refresh_outbox(), SCRAPE_TIMEOUT)
        except Exception as exc:  # a slow or broken database must not break the scrape
            self.metrics.database_up.set(0)
            log.warning("could not count the outbox for /metrics: %s", type(exc).__name__)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def refresh_outbox(self) -> None:
        """Alerts by status, reminders due now and the oldest one's age (two queries)."""
        now = self.clock()
        async with self.db.session() as session:
            rows = await session.exec(
                select(Outbox.status, func.count()).group_by(col(Outbox.status))
            )
            self.metrics.set_alerts((str(status), int(count)) for status, count in rows)
            due = await session.exec(
                select(func.count(), func.min(Outbox.due_at)).where(
                    col(Outbox.status) == "pending", col(Outbox.due_at) <= now
                )
            )
            count, oldest = due.one()
        self.metrics.database_up.set(1)
        self.metrics.reminders_due.set(int(count or 0))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=now.tzinfo)
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        self.metrics.reminders_oldest_due.set(max(0.0, age))


def create_ops_app(health: Health) -> web.Application:
    """/metrics, /livez and /readyz alone: the worker's port, or serve's METRICS_PORT."""
    app = web.Application()
    app.router.add_get("/metrics", health.metrics_view)
    app.router.add_get("/livez", health.livez)
    app.router.add_get("/readyz", health.readyz)
    return app


class Webhook:
    """Receives updates: checks the secret, de-duplicates ids, stores them in the inbox and
    handles them in the background (the 200 never waits for the handling)."""

    def __init__(
        self,
        application: BotApp,
        *,
        secret: str,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        """Bind to an initialised Application (its bot_data holds the database and content)."""
        self.application = application
        self.metrics = metrics
        self.clock = clock
        self._secret = secret.encode()
        self.started = time.monotonic()
        self.health = Health(
            application.bot_data.db, application.bot_data.content, metrics, clock=clock
        )
        self.runner = UpdateRunner(application, clock=clock, lease=lease)
        self.runner.on_coalesced = metrics.coalesced.inc

    @property
    def db(self) -> Database:
        """The Application's database."""
        return self.application.bot_data.db

    # --- the webhook ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """POST from Telegram: 401 bad secret, 413 too big, 400 not an update, else 200."""
        given = request.headers.get(SECRET_HEADER)
        if given is None or not secrets.compare_digest(
            given.encode("utf-8", "replace"), self._secret
        ):
            return self._refuse("secret", 401, request)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._refuse("size", 413, request)
        try:
            body = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("size", 413, request)
        except TimeoutError:
            return self._refuse("slow", 408, request)
        parsed = self._parse(body)
        if parsed is None:
            return self._refuse("json", 400, request)
        payload, update = parsed
        fresh = await self.runner.accept([payload])  # durable before it is acknowledged
        if not fresh:
            self.metrics.reject("duplicate")
            log.info("update %d seen before: ignored", payload["update_id"])
            return web.Response(text="ok")
        # Durable now: answer at once and handle it in the background, so the connection is
        # never held while the reply waits for the send budget (or a slow Bot API).
        self.runner.background(self._handle(payload, update))
        return web.Response(text="ok")

    async def _handle(self, payload: dict[str, Any], update: Update) -> bool:
        started = time.perf_counter()
        try:
            return await self.runner.handle(payload, update=update)
        finally:
            self.metrics.handler_seconds.observe(time.perf_counter() - started)
            self.metrics.count_update(update)

    async def settled(self) -> None:
        """Wait until every update accepted so far (and any it led to) is handled."""
        await self.runner.drain()

    def _refuse(self, reason: str, status: int, request: web.Request) -> web.Response:
        self.metrics.reject(reason)
        log.warning("webhook request refused: %s (%d) from %s", reason, status, request.remote)
        return web.Response(status=status, text=reason)

    def _parse(self, body: bytes) -> tuple[dict[str, Any], Update] | None:
        """The update as JSON and as PTB reads it, or None when the body is not one we can
        handle."""
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool) or update_id < 0:
            return None
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception:  # a malformed object anywhere inside: not an update we can handle
            return None
        return data, update

    # --- health and metrics --------------------------------------------------------------

    async def healthz(self, _request: web.Request) -> web.Response:
        """200 when the database answers and the content is loaded, else 503."""
        try:
            database = await asyncio.wait_for(self.db.ping(), HEALTH_TIMEOUT)
        except TimeoutError:
            database = False
        content: Content | None = self.application.bot_data.content
        loaded = content is not None and bool(content.steps)
        body = {
            "status": "ok" if database and loaded else "unavailable",
            "database": "ok" if database else "unreachable",
            "content": "loaded" if loaded else "missing",
            "steps": len(content.steps) if content is not None else 0,
            "content_version": content.hash if content is not None else None,
            "uptime_seconds": round(time.monotonic() - self.started),
        }
        return web.json_response(body, status=200 if database and loaded else 503)

    async def metrics_view(self, request: web.Request) -> web.Response:
        """Prometheus text (see :class:`Health`)."""
        return await self.health.metrics_view(request)

    async def refresh_alerts(self) -> None:
        """Set the outbox gauges from the database now."""
        await self.health.refresh_outbox()


WEBHOOK = web.AppKey("webhook", Webhook)


class _TurnAway(asyncio.Protocol):
    """A connection over the cap: 503 at once, then closed (its descriptor is freed)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(BUSY_RESPONSE)
        transport.close()


class _Counted(asyncio.Protocol):
    """Wraps aiohttp's request handler to count the connection until it is lost."""

    def __init__(self, inner: asyncio.Protocol, site: CappedSite) -> None:
        self._inner = inner
        self._site = site

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._site.open_connections -= 1
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class CappedSite(web.TCPSite):
    """A TCP site that holds at most ``max_connections`` connections (MAX_CONNECTIONS).

    A connection beyond the cap is answered 503 and closed at once instead of being held,
    so slow or idle clients cannot use up the process's file descriptors; Telegram retries.
    """

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int
    ) -> None:
        super().__init__(runner, host, port)
        self.max_connections = max_connections
        self.open_connections = 0
        self.refused = 0
        self._listening: asyncio.Server | None = None
        self._last_warning = -60.0

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        assert self._listening is not None and self._listening.sockets
        return int(self._listening.sockets[0].getsockname()[1])

    def _protocol(self) -> asyncio.Protocol:
        if self.open_connections >= self.max_connections:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_warning >= 60:  # one line a minute, never a flood
                self._last_warning = now
                log.warning(
                    "%d connections open (MAX_CONNECTIONS): turning new ones away with 503"
                    " (%d so far)",
                    self.open_connections,
                    self.refused,
                )
            return _TurnAway()
        server = self._runner.server
        assert server is not None
        self.open_connections += 1
        return _Counted(server(), self)

    async def start(self) -> None:
        """Listen with the capped protocol factory (aiohttp's own site, otherwise)."""
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._listening = await loop.create_server(
            self._protocol, self._host, self._port, backlog=self._backlog
        )
        self._server = self._listening


def instrument(application: BotApp, metrics: Metrics) -> None:
    """Count handler errors (an extra error handler; the apology handler still runs first)."""

    async def count_error(_update: object, context: Context) -> None:
        if isinstance(context.error, HandleAgain) and current_delivery().may_handle_again:
            metrics.handled_again.inc()  # two instances raced: handled again, not an error
        elif not isinstance(context.error, Repeated):  # handled before: not an error
            metrics.errors.inc()

    application.add_error_handler(count_error)


def create_app(
    application: BotApp,
    *,
    secret: str,
    metrics: Metrics,
    path: str = "/telegram",
    clock: Callable[[], datetime] = utcnow,
    sweep_every: float | None = SWEEP_EVERY,
    public_metrics: bool = True,
    lease: timedelta = timedelta(seconds=60),
) -> web.Application:
    """The aiohttp app around an initialised, started Application (which it does not own).

    ``public_metrics=False`` leaves /metrics off this app (serve it with create_ops_app);
    ``sweep_every=None`` runs no inbox sweeper (tests drive it).
    """
    hook = Webhook(application, secret=secret, metrics=metrics, clock=clock, lease=lease)

    @web.middleware
    async def count_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != path:
            return await handler(request)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.webhook_responses.labels(str(status)).inc()

    app = web.Application(client_max_size=MAX_BODY, middlewares=[count_responses])
    app[WEBHOOK] = hook
    app.router.add_post(path, hook.handle)
    app.router.add_get("/healthz", hook.healthz)
    app.router.add_get("/livez", hook.health.livez)
    app.router.add_get("/readyz", hook.health.readyz)
    if public_metrics:
        app.router.add_get("/metrics", hook.metrics_view)
    if sweep_every is not None:
        hook.runner.sweep_every = sweep_every

        async def sweeper(_app: web.Application) -> AsyncIterator[None]:
            stop = asyncio.Event()
            task = asyncio.ensure_future(hook.runner.sweep_forever(stop))
            yield
            stop.set()
            await task

        app.cleanup_ctx.append(sweeper)

    async def finish_updates(_app: web.Application) -> None:
        # Once no request is in flight: handle what was acknowledged before stopping.
        await hook.settled()

    app.on_cleanup.append(finish_updates)
    return app


def webhook_url(settings: Settings) -> str | None:
    """WEBHOOK_URL as registered with Telegram (WEBHOOK_PATH appended to a bare origin)."""
    if not settings.webhook_url:
        return None
    url = settings.webhook_url
    if urlsplit(url).path in ("", "/"):
        url = url.rstrip("/") + settings.webhook_path
    return url
