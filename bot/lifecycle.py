"""Start-up and shut-down shared by ``run``, ``serve`` and ``remind``.

Each mode opens the database (migrating it), initialises the Application (``getMe`` proves
the Bot API URL answers and accepts the token), runs until SIGTERM/SIGINT and closes in
order. Anything that stops start-up is one line on stderr with an exit code, never a
traceback, and never a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.config import Settings
from bot.db import Database

if TYPE_CHECKING:
    from telegram.ext import Application

EXIT_OK, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 2, 3


class StartupError(Exception):
    """Start-up cannot go on: ``message`` is the one line to print, ``code`` the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, settings: Settings) -> None:
    """Print ``error: <message>`` with every secret scrubbed."""
    for secret in settings.secrets():
        message = message.replace(secret, "<redacted>")
    sys.stderr.write(f"error: {message}\n")


async def open_database(settings: Settings) -> Database:
    """The database, migrated to the current schema."""
    db = Database(settings.database_url)
    try:
        await db.upgrade()
    except OSError as exc:
        await db.dispose()
        where = db.url.render_as_string(hide_password=True)
        raise StartupError(
            f"cannot reach the database ({where}): {exc}", EXIT_UNREACHABLE
        ) from None
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
    return app


async def close(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop polling, stop the Application, shut it down, then the post-shutdown hook."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
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
