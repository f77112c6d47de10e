"""The run modes, one shape each: ``run``, ``serve``, ``remind``, ``demo``, ``db``, ``link``.

Each mode opens the database (migrating it), builds the Application through :mod:`bot.app`,
initialises it (``getMe`` proves the Bot API URL answers and accepts the token), runs until
SIGTERM/SIGINT and closes in order. Anything that stops start-up is one line on stderr with
an exit code, never a traceback, and never a secret.

This module and :mod:`bot.app` are the only ones that import the wiring; ``__main__`` only
parses arguments and calls one function here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import re
import signal
import sqlite3
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web as aiohttp_web
from pydantic import SecretStr
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.request import BaseRequest

from bot import demo as terminal
from bot import version as __version__
from bot.app import ALLOWED_UPDATES, build_application, build_broadcasts
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.botapi.tghtml import html_to_terminal
from bot.botapi.transport import AiohttpRequest
from bot.broadcast.segments import SegmentError, parse_segment
from bot.broadcast.service import BroadcastError, Progress
from bot.config import ConfigError, Settings
from bot.console.framework import Console
from bot.console.pages import PAGES as CONSOLE_PAGES
from bot.content.check import load_checked
from bot.content.loader import Content, ContentError, load_content
from bot.context import BotApp
from bot.domain import links
from bot.logs import scrub
from bot.metrics import CountingRequest, Metrics
from bot.storage.db import Database, sole_process
from bot.updates import UpdateRunner
from bot.web import (
    SHUTDOWN_TIMEOUT,
    WEBHOOK,
    CappedSite,
    Health,
    create_app,
    create_ops_app,
    instrument,
    webhook_url,
)

if TYPE_CHECKING:
    from telegram.ext import Application

log = logging.getLogger(__name__)

EXIT_OK, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 2, 3


class StartupError(Exception):
    """Start-up cannot go on: ``message`` is the one line to print, ``code`` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, settings: Settings) -> None:
    """Print ``error: <message>`` with every secret scrubbed."""
    sys.stderr.write(f"error: {scrub(message, settings.secrets())}\n")


# SQLSTATEs that mean DATABASE_URL itself is wrong (a bad value, like a rejected token).
_LOGIN_REFUSED = "28"  # class 28: invalid authorization (wrong password, unknown role)
_NO_DATABASE = "3D000"  # invalid_catalog_name


def _in_chain(exc: BaseException, found: Callable[[BaseException], bool]) -> BaseException | None:
    """The first exception in ``exc``'s chain (causes, contexts, and the driver's error that
    SQLAlchemy wraps as ``orig``) for which ``found`` is true."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if found(current):
            return current
        orig = getattr(current, "orig", None)
        todo += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            todo.append(orig)
    return None


def _sqlstate(exc: BaseException) -> tuple[str, BaseException] | None:
    """The PostgreSQL SQLSTATE anywhere in ``exc``'s chain (SQLAlchemy wraps asyncpg's)."""
    error = _in_chain(exc, lambda e: bool(_state_of(e)))
    return None if error is None else (_state_of(error), error)


def _state_of(exc: BaseException) -> str:
    """An exception's SQLSTATE (asyncpg's errors carry one), or ""."""
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else ""


def describe_database_error(exc: BaseException, where: str = "") -> tuple[str, int] | None:
    """One line and an exit code for a failure to open the database, or None if unknown."""
    at = f" ({where})" if where else ""
    found = _sqlstate(exc)
    if found is not None:
        state, error = found
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        if state.startswith(_LOGIN_REFUSED):
            return (
                f"the database refused the login{at}: {detail};"
                " check the user name and password in DATABASE_URL",
                EXIT_CONFIG,
            )
        if state == _NO_DATABASE:
            return (
                f"{detail.rstrip('.')}{at}: create it (createdb) or fix the name in DATABASE_URL",
                EXIT_CONFIG,
            )
        return f"the database failed at start{at}: {detail}", EXIT_UNREACHABLE
    if isinstance(exc, OSError):
        return f"cannot reach the database{at}: {exc}", EXIT_UNREACHABLE
    sqlite = _sqlite_error(exc)
    if sqlite is not None:  # the file itself: not a database, unreadable, read-only
        return (
            f"DATABASE_URL names a SQLite file that cannot be used{at}: {sqlite};"
            " point DATABASE_URL at the bot's database file (or a new one) that this user"
            " can read and write",
            EXIT_CONFIG,
        )
    return None


def _sqlite_error(exc: BaseException) -> str | None:
    """The message of a sqlite3 error anywhere in ``exc``'s chain, or None."""
    error = _in_chain(exc, lambda e: isinstance(e, sqlite3.Error))
    return None if error is None else (str(error) or type(error).__name__)


async def open_database(settings: Settings) -> Database:
    """The database, migrated to the current schema."""
    db = Database(settings.database_url)
    try:
        await db.upgrade()
    except Exception as exc:
        await db.dispose()
        where = db.url.render_as_string(hide_password=True)
        described = describe_database_error(exc, where)
        if described is None:
            raise
        raise StartupError(*described) from None
    return db


async def initialise(app: Application[Any, Any, Any, Any, Any, Any], settings: Settings) -> None:
    """``getMe`` and the post-init hook (the command menu), with one-line failures."""
    where = settings.telegram_base_url
    try:
        try:
            await app.initialize()
        except BaseException:
            await _release_transports(app)
            raise
    except InvalidToken:
        raise StartupError(
            f"Telegram at {where} rejected TELEGRAM_TOKEN (unauthorized)", EXIT_CONFIG
        ) from None
    except NetworkError as exc:
        raise StartupError(f"cannot reach Telegram at {where}: {exc}", EXIT_UNREACHABLE) from None
    except TelegramError as exc:
        raise StartupError(f"Telegram at {where} refused getMe: {exc}", EXIT_UNREACHABLE) from None
    if app.post_init is not None:  # run_polling would call it; we drive the app ourselves
        await app.post_init(app)


async def _release_transports(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Close the Bot API transports after a failed initialize.

    ``Bot.initialize`` opens both transports (updates and the rest) before ``getMe``, and
    ``Bot.shutdown`` skips a bot that never finished initializing, so they would stay open.
    PTB has no public accessor for the getUpdates transport, hence ``_request``.
    """
    requests = getattr(app.bot, "_request", ())
    await asyncio.gather(*(request.shutdown() for request in requests), return_exceptions=True)


def settle_heap(*, released: bool = False) -> None:
    """Take what exists now out of the garbage collector's passes (``gc.freeze``).

    Called by the long-running modes once start-up has loaded the content: that tree (most
    of the heap, ~100,000 objects that live as long as the process) is then no longer
    rescanned by every full collection, which cost about 5 % of an update's CPU under load
    (issue 20). No collection first: start-up leaves almost no cyclic garbage (a dozen
    objects, measured) and a full pass would add ~0.1 s to it. A content release
    (``released``) unfreezes and collects first, so that the previous tree is freed.
    Not called in-process by tests: frozen garbage is never collected.
    """
    if released:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


async def open_app(
    settings: Settings,
    build: Callable[[Database], Application[Any, Any, Any, Any, Any, Any]],
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Open the database, build the Application on it and initialise it.

    Raises StartupError (after releasing the database) when either step cannot go on.
    """
    db = await open_database(settings)
    app = build(db)
    try:
        await initialise(app, settings)
    except StartupError:
        await db.dispose()
        raise
    content = app.bot_data.content
    log.info(
        "content version %s: %d steps from %s", content.hash, len(content.steps), content.root
    )
    return app


async def close(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop polling, stop the Application, shut it down, then the post-shutdown hook."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    # The menu set-up runs in the background from start: a process stopping at once (a port
    # in use) ends it before the Bot API transport closes under it (no warning after the
    # error line).
    sync = app.bot_data.profile_sync
    if sync is not None and not sync.done():
        sync.cancel()
        await asyncio.gather(sync, return_exceptions=True)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)  # disposes the database


def stop_on_signals(stop: asyncio.Event | None = None) -> asyncio.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@contextlib.asynccontextmanager
async def running_loops(
    app: Application[Any, Any, Any, Any, Any, Any], stop: asyncio.Event
) -> AsyncIterator[None]:
    """Run ``bot_data.background`` (alert dispatcher, retention) while the block runs."""
    loops = [asyncio.ensure_future(loop(stop)) for loop in app.bot_data.background]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)


@contextlib.asynccontextmanager
async def live_content(
    app: BotApp, role: str, metrics: Metrics, health: Health
) -> AsyncIterator[None]:
    """Content reloads while the block runs: SIGHUP reloads this process; the database's
    reload generation (the console's button) reloads every process; a heartbeat says which
    content version this process runs."""
    live = app.bot_data.live
    if live is None:
        yield
        return
    live.role = role

    async def follow(content: Content) -> None:
        metrics.set_content_hash(content.hash)
        health.content = content
        if gc.get_freeze_count():  # the previous tree was frozen at start-up: let it go
            settle_heap(released=True)

    live.on_release.insert(0, follow)  # before the notices (which wait for the database)
    loop = asyncio.get_running_loop()
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(hup, live.request_local)
    stop = asyncio.Event()
    task = asyncio.ensure_future(live.run(stop))
    try:
        yield
    finally:
        if hup is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(hup)
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


def instrument_worker(app: BotApp, metrics: Metrics) -> None:
    """Point the reminder counters and bot_database_up at the app's alert dispatcher."""
    alerts = app.bot_data.alerts
    dispatcher = alerts.dispatcher if alerts is not None else None
    if dispatcher is not None:
        metrics.watch_reminders(dispatcher)
        dispatcher.on_database = lambda up: metrics.database_up.set(1 if up else 0)


@contextlib.asynccontextmanager
async def side_server(
    app: aiohttp_web.Application, host: str, port: int, setting: str, what: str
) -> AsyncIterator[None]:
    """Serve ``app`` on ``host:port`` while the block runs; a port in use is a config error."""
    runner = aiohttp_web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    try:
        try:
            await aiohttp_web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {host}:{port} (HOST, {setting}): {exc}", EXIT_CONFIG
            ) from None
        log.info("%s at %s:%d", what, host, port)
        yield
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def ops_server(settings: Settings, health: Health) -> AsyncIterator[None]:
    """/metrics, /livez, /readyz on METRICS_PORT while the block runs (when it is set)."""
    if settings.metrics_port is None:
        yield
        return
    ops = create_ops_app(health)
    async with side_server(
        ops, settings.host, settings.metrics_port, "METRICS_PORT", "metrics and probes"
    ):
        yield


@contextlib.asynccontextmanager
async def console_server(settings: Settings, application: BotApp) -> AsyncIterator[None]:
    """The operator console on CONSOLE_PORT while the block runs (when it is set)."""
    if settings.console_port is None:
        yield
        return
    console = Console(application, CONSOLE_PAGES).standalone()
    async with side_server(
        console,
        settings.host,
        settings.console_port,
        "CONSOLE_PORT",
        "operator console (/console)",
    ):
        yield


async def grace(seconds: float) -> None:
    """Wait ``seconds`` (readiness already says 503), or until a second SIGTERM/SIGINT."""
    if seconds <= 0:
        return
    log.info("not ready any more; stopping in %g s (signal again to stop now)", seconds)
    again = stop_on_signals()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(again.wait(), seconds)


# --- db upgrade --------------------------------------------------------------------------


def db_upgrade(settings: Settings) -> int:
    """``python -m bot db upgrade``: apply migrations and say where the database stands."""
    return asyncio.run(_db_upgrade(settings))


async def _db_upgrade(settings: Settings) -> int:
    try:
        db = await open_database(settings)
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    await db.dispose()
    print(f"database is up to date ({db.dialect})")
    return EXIT_OK


def db_current(settings: Settings) -> int:
    """``python -m bot db current``: the database's migration revision and the newest one."""
    return asyncio.run(_db_current(settings))


async def _db_current(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        current, head = await db.migration_state()
    except Exception as exc:
        described = describe_database_error(exc, db.url.render_as_string(hide_password=True))
        if described is None:
            raise
        fail(described[0], settings)
        return described[1]
    finally:
        await db.dispose()
    state = "up to date" if current == head else "behind: run `python -m bot db upgrade`"
    print(f"current {current or '(empty database)'}, head {head} ({state})")
    return EXIT_OK


# --- doctor: what is wrong and how to fix it ---------------------------------------------


class Report:
    """Plain lines for an operator: ``ok``, ``warn`` or ``FAIL`` with a ``fix:`` line."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.problems = 0

    def line(self, status: str, what: str, fix: str | None = None) -> None:
        """Print one finding (secrets scrubbed)."""
        text = f"{status:<4} {what}"
        if fix:
            text += f"\n     fix: {fix}"
        print(scrub(text, self.settings.secrets()))

    def ok(self, what: str) -> None:
        """Something checked and fine."""
        self.line("ok", what)

    def warn(self, what: str, fix: str | None = None) -> None:
        """Worth knowing, not a failure."""
        self.line("warn", what, fix)

    def fail(self, what: str, fix: str) -> None:
        """A problem: counted, with how to fix it."""
        self.problems += 1
        self.line("FAIL", what, fix)


def doctor(settings: Settings) -> int:
    """``python -m bot doctor``: check everything start-up needs; exit 1 on any problem."""
    return asyncio.run(_doctor(settings))


async def _doctor(settings: Settings) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    report = Report(settings)
    print(f"storefront-migration-bot {__version__()}")
    report.ok(f"configuration loaded (DATABASE_URL {settings.masked_database_url()})")
    try:
        content = load_checked(settings.content_dir, settings.deadline)
        report.ok(f"content {settings.content_dir}: {len(content.steps)} steps")
    except ContentError as exc:
        report.fail(
            f"content {settings.content_dir} is broken: {exc.problems[0]}",
            "run `python -m bot content check` and fix every line it prints",
        )
    await _doctor_database(settings, report)
    await _doctor_telegram(settings, report)
    if report.problems:
        print(f"{report.problems} problem(s) found")
        return 1
    print("no problems found")
    return EXIT_OK


async def _doctor_database(settings: Settings, report: Report) -> None:
    try:
        db = Database(settings.database_url)
    except ConfigError as exc:
        report.fail(str(exc), "fix DATABASE_URL (see README, Configuration)")
        return
    where = db.url.render_as_string(hide_password=True)
    try:
        current, head = await db.migration_state()
    except Exception as exc:
        described = describe_database_error(exc, where)
        message = described[0] if described else f"database {where}: {exc}"
        report.fail(
            message,
            "point DATABASE_URL at a SQLite file this user can read and write"
            if db.dialect == "sqlite"
            else "check DATABASE_URL and that the database server is running",
        )
        return
    finally:
        await db.dispose()
    report.ok(f"database {where} answers ({db.dialect})")
    if current == head:
        report.ok(f"migrations up to date (revision {head})")
    elif current is None:
        report.warn(
            f"database is empty (head is {head})",
            "run `python -m bot db upgrade` (every mode also migrates at start)",
        )
    else:
        report.warn(
            f"database at revision {current}, this version ships {head}",
            "run `python -m bot db upgrade` (or start any mode: it migrates under a lock);"
            " if the database is newer, this is an older release than the one that wrote it",
        )


async def _doctor_telegram(settings: Settings, report: Report) -> None:
    try:
        token = settings.token()
    except ConfigError as exc:
        report.fail(str(exc), "set TELEGRAM_TOKEN to the token @BotFather gave you")
        return
    where = settings.telegram_base_url
    bot = Bot(
        token,
        base_url=where,
        base_file_url=settings.telegram_base_file_url,
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(1),
    )
    try:
        async with bot:
            report.ok(f"Telegram at {where} accepts the token: @{bot.username}")
            info = await bot.get_webhook_info()
    except InvalidToken:
        report.fail(
            f"Telegram at {where} rejected TELEGRAM_TOKEN (unauthorized)",
            "copy the token again from @BotFather (/mybots → API Token)",
        )
        return
    except (NetworkError, TelegramError) as exc:
        report.fail(
            f"cannot reach Telegram at {where}: {exc}",
            "check the network / proxy (HTTPS_PROXY) and TELEGRAM_BASE_URL",
        )
        return
    wanted = webhook_url(settings)
    if info.url:
        report.ok(f"webhook set to {info.url}, {info.pending_update_count} pending update(s)")
        if wanted is None:
            report.warn(
                "a webhook is set but WEBHOOK_URL is not: `run` removes it when it starts polling",
                "set WEBHOOK_URL for `serve`, or ignore this if you use `run`",
            )
        elif wanted != info.url:
            report.fail(
                f"the webhook points at {info.url}, WEBHOOK_URL says {wanted}",
                "start `serve` once (it registers WEBHOOK_URL) or fix WEBHOOK_URL",
            )
    else:
        pending = info.pending_update_count
        report.ok(f"no webhook set (long polling), {pending} pending update(s)")
        if wanted is not None:
            report.warn(
                f"WEBHOOK_URL is {wanted} but no webhook is registered",
                "start `serve` (it registers the webhook at start)",
            )
    if info.last_error_date is not None:
        report.fail(
            f"Telegram's last webhook delivery failed at {info.last_error_date.isoformat()}:"
            f" {info.last_error_message}",
            "make sure WEBHOOK_URL reaches `serve` over https with a valid certificate,"
            " WEBHOOK_SECRET matches, and /readyz answers 200",
        )
    if settings.webhook_url is not None:
        try:
            settings.secret()
        except ConfigError as exc:
            report.fail(str(exc), "set WEBHOOK_SECRET (serve refuses to start without it)")


# --- run: long polling and alerts in one process -----------------------------------------


def run(settings: Settings) -> int:
    """``python -m bot run``: poll Telegram and send alerts until SIGTERM/SIGINT."""
    settings.token()  # fail fast, before touching anything else
    settings.check_ports("run")
    with sole_process(settings.database_url):
        content = load_checked(settings.content_dir, settings.deadline)
        settle_heap()
        return asyncio.run(_poll(settings, content))


async def _poll(settings: Settings, content: Content) -> int:
    metrics = Metrics(content_hash=content.hash)
    transport = CountingRequest(AiohttpRequest(), metrics.count_429, metrics)
    try:
        app = await open_app(
            settings,
            lambda db: build_application(settings, content=content, db=db, request=transport),
        )
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    instrument_worker(app, metrics)
    health = Health(app.bot_data.db, content, metrics)
    try:
        live = live_content(app, "run", metrics, health)
        async with ops_server(settings, health), console_server(settings, app), live:
            return await _polling(settings, app, health)
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    finally:
        await close(app)


async def _polling(settings: Settings, app: BotApp, health: Health) -> int:
    stop = stop_on_signals()
    where = settings.telegram_base_url
    await app.start()
    # Updates go through the durable inbox: each fetched batch is written before the next
    # getUpdates moves the offset past it; what a previous run left unhandled goes first.
    runner = UpdateRunner(app, lease=timedelta(seconds=settings.inbox_lease))
    if left := await runner.sweep(recover=True):
        log.info("handling %d update(s) left from the previous run", left)
    await _warn_of_webhook(app)
    log.info("polling %s as @%s", where, app.bot.username)
    async with running_loops(app, stop):
        sweeper = asyncio.ensure_future(runner.sweep_forever(stop))
        try:
            await runner.poll(stop, ALLOWED_UPDATES)
        finally:
            stop.set()
            await sweeper
            health.stopping = True
            log.info("stopping")
            await runner.drain()
    return EXIT_OK


async def _warn_of_webhook(app: BotApp) -> None:
    """Say so when the token has a webhook: polling removes it (Telegram refuses getUpdates
    while one is set), and a `serve` deployment with this token then gets no updates."""
    try:
        info = await app.bot.get_webhook_info()
    except TelegramError:
        return  # polling says what is wrong with Telegram soon enough
    if info.url:
        log.warning(
            "this token had a webhook (%s): `run` removes it to poll, so a `serve` with this"
            " token gets no updates until it starts again (it registers the webhook);"
            " use another bot token to try the bot beside a deployment",
            info.url,
        )


# --- serve: the webhook web process ------------------------------------------------------


def serve(settings: Settings) -> int:
    """``python -m bot serve``: run until SIGTERM/SIGINT; returns the exit code."""
    secret = settings.secret()  # ConfigError: the CLI prints one line and exits 2
    settings.token()
    settings.check_ports("serve")
    with sole_process(settings.database_url):
        content = load_checked(settings.content_dir, settings.deadline)
        settle_heap()
        return asyncio.run(serve_until(settings, content=content, secret=secret))


async def serve_until(
    settings: Settings,
    *,
    content: Content,
    secret: str,
    request: BaseRequest | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Migrate, start the Application, serve HTTP until ``stop`` (or a signal), shut down."""
    metrics = Metrics(content_hash=content.hash)
    transport = CountingRequest(request or AiohttpRequest(), metrics.count_429, metrics)

    def build(db: Database) -> BotApp:
        application = build_application(settings, content=content, db=db, request=transport)
        instrument(application, metrics)
        return application

    try:
        application = await open_app(settings, build)  # migrate, getMe, menu
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    try:
        return await _serve_started(settings, application, metrics, secret, stop)
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    finally:
        await close(application)
        log.info("stopped")


async def _serve_started(
    settings: Settings,
    application: BotApp,
    metrics: Metrics,
    secret: str,
    stop: asyncio.Event | None,
) -> int:
    url = webhook_url(settings)
    if url is not None:
        await application.bot.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        log.info("webhook registered at %s", url)
    await application.start()  # no updater is started: updates arrive only by webhook
    app = create_app(
        application,
        secret=secret,
        metrics=metrics,
        path=settings.webhook_path,
        public_metrics=settings.metrics_port is None,
        lease=timedelta(seconds=settings.inbox_lease),
    )
    if settings.console_port is None:  # the console under /console of the public port
        Console(application, CONSOLE_PAGES).mount(app)
    health = app[WEBHOOK].health
    runner = aiohttp_web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        site = CappedSite(
            runner, settings.host, settings.port, max_connections=settings.max_connections
        )
        try:
            await site.start()
        except OSError as exc:
            fail(f"cannot listen on {settings.host}:{settings.port} (HOST, PORT): {exc}", settings)
            return EXIT_CONFIG
        live = live_content(application, "serve", metrics, health)
        async with ops_server(settings, health), console_server(settings, application), live:
            stop = stop_on_signals(stop)
            log.info(
                "serving webhook at %s:%d%s as @%s (database: %s)",
                settings.host,
                settings.port,
                settings.webhook_path,
                application.bot.username,
                application.bot_data.db.dialect,
            )
            await stop.wait()
            health.stopping = True  # /readyz: 503 from now on, before draining
            await grace(settings.shutdown_grace)
            log.info("stopping: no new connections, finishing updates in flight")
    finally:
        await runner.cleanup()  # stops listening, waits for in-flight requests, then cleanup
    return EXIT_OK


# --- remind: the alert dispatcher alone (a worker process) -------------------------------


def remind(settings: Settings) -> int:
    """``python -m bot remind``: run the dispatcher alone until SIGTERM/SIGINT."""
    settings.token()  # fail fast
    settings.check_ports("remind")
    with sole_process(settings.database_url):
        return asyncio.run(_remind(settings))


async def _remind(settings: Settings) -> int:
    metrics = Metrics()
    transport = CountingRequest(AiohttpRequest(), metrics.count_429, metrics)
    try:
        app = await open_app(
            settings, lambda db: build_application(settings, db=db, request=transport)
        )
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    metrics.set_content_hash(app.bot_data.content.hash)
    instrument_worker(app, metrics)
    health = Health(app.bot_data.db, app.bot_data.content, metrics)
    stop = stop_on_signals()
    try:
        async with ops_server(settings, health), live_content(app, "remind", metrics, health):
            log.info("sending due alerts as @%s", app.bot.username)
            async with running_loops(app, stop):
                await stop.wait()
                health.stopping = True
    except StartupError as exc:
        fail(exc.message, settings)
        return exc.code
    finally:
        await close(app)
    return EXIT_OK


# --- demo: the real bot in a terminal, against the fake Bot API --------------------------


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the terminal demo; exit 0 at end of input."""
    try:
        return asyncio.run(_demo(args, settings))
    except KeyboardInterrupt:
        return 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    if "log_level" not in settings.model_fields_set:  # migrations and start lines: noise here
        logging.getLogger().setLevel(logging.WARNING)
    now = terminal.parse_moment(args.now, "--now") if args.now else None
    deadline = (
        terminal.parse_moment(args.deadline, "--deadline") if args.deadline else settings.deadline
    )
    content = load_content(settings.content_dir)
    # A throwaway database unless --db names one: never DATABASE_URL (or .env) silently.
    with tempfile.TemporaryDirectory(prefix="bot-demo-") as temp:
        database_url = args.db or f"sqlite+aiosqlite:///{Path(temp) / 'demo.db'}"
        files = Path(args.files) if args.files else Path.cwd() / "demo-files"
        clock = terminal.DemoClock(now)
        demo_settings = settings.model_copy(
            update={
                "telegram_token": SecretStr(terminal.DEMO_TOKEN),
                "database_url": database_url,
                "deadline": deadline,
            }
        )
        db = Database(database_url)
        await db.upgrade()
        fake = FakeTelegram(
            token=terminal.DEMO_TOKEN, bot_first_name="Storefront → Shop assistant"
        )
        app = build_application(
            demo_settings,
            request=FakeRequest(fake),
            get_updates_request=FakeRequest(fake),
            content=content,
            db=db,
            clock=clock,
        )
        try:
            async with app:
                if app.post_init is not None:
                    await app.post_init(app)
                user = SimulatedUser(
                    app,
                    fake,
                    user_id=terminal.DEMO_USER_ID,
                    first_name="Demo",
                    language_code=args.lang,
                )
                dispatcher = app.bot_data.alerts.dispatcher
                print(
                    "demo: type /start (or /help); a number presses a button; ':wait 2d' moves"
                    " the clock; ':reload' (or SIGHUP) re-reads the content folder; files the"
                    f" bot sends go to {files}; Ctrl-D or Ctrl-C quits.",
                    file=sys.stderr,
                )
                with _reload_on_hangup(app) as reload:
                    await terminal.converse(
                        user,
                        sys.stdin,
                        sys.stdout,
                        clock=clock,
                        deliver_due=dispatcher.drain if dispatcher is not None else None,
                        files=files,
                        reload=reload,
                    )
        finally:
            await db.dispose()
    return 0


@contextlib.contextmanager
def _reload_on_hangup(app: BotApp) -> Iterator[Callable[[], Awaitable[str]]]:
    """The demo's content reload: ``:reload`` awaits it and SIGHUP starts it.

    It reloads as ``run`` does (the whole tree swapped, or the old one kept with the problems
    named) but loads as the demo starts, without the full walk: an editor previews an edit
    at once and runs ``python -m bot content check`` before publishing.
    """
    live = app.bot_data.live
    assert live is not None
    live.load = load_content

    async def reload() -> str:
        result = await live.reload("demo")
        if result.problems:
            return "(content reload refused, still showing the last good content:\n  {})".format(
                "\n  ".join(result.problems)
            )
        if result.changed:
            return f"(content reloaded: version {result.hash})"
        return f"(content unchanged: version {result.hash})"

    tasks: set[asyncio.Task[None]] = set()

    def hangup() -> None:
        async def report() -> None:
            print(await reload(), file=sys.stdout, flush=True)

        task = asyncio.ensure_future(report())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop = asyncio.get_running_loop()
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(hup, hangup)
    try:
        yield reload
    finally:
        if hup is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(hup)


# --- link: print a deep link -------------------------------------------------------------


def broadcast(args: argparse.Namespace, settings: Settings) -> int:
    """``broadcast``: dry run, queue, progress, cancel or list operator broadcasts."""
    return asyncio.run(_broadcast(args, settings))


def _print_progress(progress: Progress) -> None:
    print(
        f"campaign {progress.id} ({progress.status}, {progress.message}, segment "
        f"{progress.segment or 'everyone'}): {progress.sent} sent, {progress.failed} failed, "
        f"{progress.skipped} skipped, {progress.left} left of {progress.total} "
        f"({progress.percent} %)"
    )


async def _broadcast(args: argparse.Namespace, settings: Settings) -> int:
    content = load_checked(settings.content_dir, settings.deadline)
    db = await open_database(settings)
    try:
        service = build_broadcasts(settings, content, db)
        if args.list:
            for progress in await service.campaigns():
                _print_progress(progress)
            return EXIT_OK
        if args.status is not None or args.cancel is not None:
            campaign = args.cancel if args.cancel is not None else args.status
            if not 0 < campaign < 2**63:  # no row holds it (and the driver would overflow)
                print(f"error: no campaign {campaign}", file=sys.stderr)
                return EXIT_CONFIG
            if args.cancel is not None:
                cancelled = await service.cancel(campaign, by="cli")
                if cancelled is not None:
                    print(f"campaign {campaign} cancelled: {cancelled} message(s) not sent")
            found = await service.progress(campaign)
            if found is None:
                print(f"error: no campaign {campaign}", file=sys.stderr)
                return EXIT_CONFIG
            _print_progress(found)
            return EXIT_OK
        try:
            segment = parse_segment(" ".join(args.segment))
            message = service.message(template=args.template, text=args.text)
            dry = await service.dry_run(segment, message)
        except (SegmentError, BroadcastError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        languages = ", ".join(f"{lang} {n}" for lang, n in dry.per_language.items()) or "-"
        print(f"segment: {segment.text() or 'every merchant'}")
        print(f"merchants: {dry.total} ({languages})")
        print(
            f"at SEND_RATE {settings.send_rate:g}/s: {dry.now_due} now, about {dry.eta_seconds} s;"
            f" {dry.waiting_quiet} wait for their quiet hours to end"
        )
        for lang, preview in dry.previews.items():
            print(f"\n--- preview ({lang}) ---\n{html_to_terminal(preview)}")
        if args.dry_run:
            print("\ndry run: nothing queued")
            return EXIT_OK
        campaign = await service.create(segment, message, by="cli")
        print(
            f"\ncampaign {campaign} queued for {dry.total} merchant(s); the dispatcher of `run`"
            f" or `remind` sends it. Progress: python -m bot broadcast --status {campaign}"
        )
        return EXIT_OK
    finally:
        await db.dispose()


def link(args: argparse.Namespace, settings: Settings) -> int:
    """Print the deep link for the given answers or step."""
    try:
        content = load_content(settings.content_dir)
    except ContentError as exc:
        raise ConfigError(f"content is broken: {exc.problems[0]}") from None
    try:
        if args.step:
            if args.step not in content.step_index:
                raise ConfigError(f"--step {args.step!r} is not a guidance step id")
            payload = links.encode(step=args.step)
        else:
            answers = links.parse_answer_args(content.interview, args.answer, choices_only=True)
            payload = links.encode(answers=answers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    username = (
        _bot_username(args.bot_username) if args.bot_username else asyncio.run(_username(settings))
    )
    print(f"https://t.me/{username}?start={payload}")
    return 0


# Telegram's rule for usernames: 5-32 of a-z, 0-9 and _, starting with a letter.
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")


def _bot_username(given: str) -> str:
    """``--bot-username`` as operators copy it (``@MyBot``, ``https://t.me/MyBot``), or a
    ConfigError when it is not a username at all."""
    name = re.sub(r"^(https?://)?(t\.me|telegram\.me)/", "", given.strip()).lstrip("@")
    if not _USERNAME.match(name):
        raise ConfigError(
            f"--bot-username {given!r} is not a Telegram bot username"
            " (5-32 letters, digits and _, e.g. MyShopBot; @BotFather shows it)"
        )
    return name


async def _username(settings: Settings) -> str:
    bot = Bot(
        settings.token(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
    )
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise ConfigError(
            f"Telegram at {settings.telegram_base_url} rejected TELEGRAM_TOKEN (unauthorized)"
        ) from None
    except (NetworkError, TelegramError) as exc:
        raise ConfigError(
            f"cannot ask Telegram at {settings.telegram_base_url} for the bot's username: {exc};"
            " pass --bot-username"
        ) from None
