"""Quiet logs with context: one line per event, one line per database state change, tags."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.alerts.dispatcher import Dispatcher
from bot.botapi.budget import RateBudget
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.logs import setup_logging
from bot.storage.db import Database
from tests.conftest import AppFactory


@contextlib.contextmanager
def logging_to_stderr(fmt: str = "text", secrets: tuple[str, ...] = ()) -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", fmt, secrets)
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


# --- 5. text logs: one line per event ------------------------------------------------------


def test_text_logs_fold_tracebacks_into_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with logging_to_stderr():
        try:
            raise RuntimeError("first line\nsecond line")
        except RuntimeError:
            logging.getLogger("bot.test").exception("request failed")
        logging.getLogger("bot.test").info("multi\nline message")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert "request failed" in lines[0] and "Traceback" in lines[0]
    assert "RuntimeError: first line\\nsecond line" in lines[0]
    assert lines[1].endswith("multi\\nline message")


# --- 6. the dispatcher while the database is down -----------------------------------------


class FlakyDatabase(Database):
    """A real database that can be switched off: every session fails like a refused socket."""

    down = False
    attempts = 0

    @contextlib.asynccontextmanager
    async def session(self, *, lock_chat: int | None = None) -> AsyncIterator[Any]:
        if self.down:
            self.attempts += 1
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        async with super().session(lock_chat=lock_chat) as session:
            yield session


async def wait_until(predicate: Any) -> None:
    for _ in range(100_000):  # bounded by rounds, not by time
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


async def test_dispatcher_logs_database_outage_once_each_way(
    settings: Settings, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    db = FlakyDatabase(settings.database_url)
    await db.upgrade()
    states: list[bool] = []
    dispatcher = Dispatcher(
        db,
        None,  # type: ignore[arg-type]  # nothing is due: the bot is never called
        None,  # type: ignore[arg-type]
        RateBudget(25),
        idle_seconds=0.001,
        db_retry_seconds=0.001,
        on_database=states.append,
    )
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="bot.alerts.dispatcher")
    task = asyncio.ensure_future(dispatcher.run(stop))
    try:
        await wait_until(lambda: len(states) >= 2)
        db.down = True
        await wait_until(lambda: db.attempts >= 30)
        db.down = False
        await wait_until(lambda: states[-1] is True and False in states)
    finally:
        stop.set()
        await task
        await db.dispose()
    records = [r for r in caplog.records if r.name == "bot.alerts.dispatcher"]
    messages = [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info], "no traceback per retry"
    down = [m for m in messages if m.startswith("database unreachable")]
    back = [m for m in messages if m.startswith("database back after")]
    assert len(down) == 1 and len(back) == 1, messages
    assert "retrying every 0.001 s" in down[0]
    assert len(records) == 4, messages  # started, unreachable, back, stopped


# --- 7. log lines and operator notices carry the update ------------------------------------


async def test_update_log_lines_and_notices_carry_the_update(
    make_app: AppFactory,
    fake: FakeTelegram,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app()
    app.bot_data.settings = settings.model_copy(update={"admin_ids": (999,)})
    now = [1000.0]
    app.bot_data.notices.clock = lambda: now[0]

    async def broken(*args: object, **kwargs: object) -> object:
        logging.getLogger("bot.services").info("about to fail")
        raise RuntimeError("boom")

    app.bot_data.interview.help = broken  # type: ignore[method-assign, assignment]
    with logging_to_stderr():
        async with app:
            merchant = SimulatedUser(app, fake, user_id=5)
            for _ in range(3):
                await merchant.send("/help")
            assert len(fake.messages(999)) == 1, "one notice per error kind per minute"
            now[0] += 61
            await merchant.send("/help")
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if "update failed" in line]
    assert len(failed) == 4
    for line in failed:
        assert "chat=5 handler=start.help_command]" in line and "[update=" in line
    assert any("about to fail [update=" in line for line in err.splitlines())
    first, second = (m.text or "" for m in fake.messages(999))
    assert "RuntimeError while handling an update (update " in first
    assert "chat 5, handler start.help_command" in first
    assert "times since the last notice" not in first
    assert "3 times since the last notice" in second  # two held back + this one


def test_json_logs_carry_the_update(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.logs import update_context

    with logging_to_stderr("json"), update_context(77, 5) as info:
        info.handler = "start.help_command"
        logging.getLogger("bot").info("hello")
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert record["update_id"] == 77 and record["chat_id"] == 5
    assert record["handler"] == "start.help_command"
