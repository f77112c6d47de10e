"""Bot API outages and unanswered sends: reminders retry until useful, then expire; none lost."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlmodel import select
from telegram.error import NetworkError, TimedOut

from bot.alerts.dispatcher import Dispatcher, unanswered
from bot.alerts.keys import target_stamp, useful_until
from bot.botapi.budget import RateBudget
from bot.botapi.fake import FakeNetworkFailure, FakeTelegram
from bot.botapi.transport import AiohttpRequest
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Outbox
from tests.conftest import NOW, TOKEN, Clock, make_settings
from tests.outbox_seed import seed_due_alerts
from tests.pgserver import free_port
from tests.test_alerts_dispatch import per_chat, service_of
from tests.test_transport import start_server

DEADLINE = NOW + timedelta(days=10)


@pytest.fixture
def deadline(request: pytest.FixtureRequest) -> datetime:
    """The campaign deadline (parametrise indirectly for another one)."""
    return getattr(request, "param", DEADLINE)


@pytest.fixture
def settings(db_url: str, deadline: datetime) -> Settings:
    return make_settings(db_url, deadline=deadline)


class Outage:
    """Makes every sendMessage fail while ``start <= clock() < end``.

    Calls take turns: one has its connection refused (a network error before anything was
    sent), the next is answered 502 Bad Gateway. Neither is ambiguous.
    """

    def __init__(self, fake: FakeTelegram, clock: Clock, start: datetime, end: datetime) -> None:
        self.fake, self.clock, self.start, self.end = fake, clock, start, end
        self.refused = self.bad_gateway = 0
        self._handle = fake.handle

    async def handle(
        self, token: str, method: str, params: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        now = self.clock()
        if method.lower() == "sendmessage" and self.start <= now < self.end:
            if self.refused <= self.bad_gateway:
                self.refused += 1
                raise FakeNetworkFailure(timed_out=False)
            self.bad_gateway += 1
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        return await self._handle(token, method, params)


def dispatcher(app: BotApp, db: Database, clock: Clock) -> Dispatcher:
    return Dispatcher(
        db,
        app.bot,
        service_of(app),
        RateBudget(1_000_000, per_chat_interval=0),
        clock=clock,
        batch_size=200,
        max_in_flight=400,
    )


async def run_until(d: Dispatcher, clock: Clock, end: datetime, step: timedelta) -> None:
    """Drain, move the fake clock by ``step``, until ``end``."""
    while clock.now < end:
        await d.drain()
        clock.now += step
    await d.drain()


async def statuses(db: Database) -> collections.Counter[str]:
    async with db.session() as session:
        return collections.Counter((await session.exec(select(Outbox.status))).all())


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_ten_minute_outage_loses_no_reminder(
    app: BotApp,
    db: Database,
    clock: Clock,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    deadline: datetime,
) -> None:
    count = 60
    deadline = NOW + timedelta(days=10)
    # Half are due when the outage starts, half in the middle of it.
    await seed_due_alerts(db, count // 2, NOW, deadline=deadline)
    await seed_due_alerts(
        db, count // 2, NOW + timedelta(minutes=5), deadline=deadline, first_id=1
    )
    outage = Outage(fake, clock, NOW, NOW + timedelta(minutes=10))
    monkeypatch.setattr(fake, "handle", outage.handle)
    d = dispatcher(app, db, clock)

    await run_until(d, clock, NOW + timedelta(minutes=10), timedelta(seconds=1))
    assert outage.refused > count and outage.bad_gateway > count  # both kinds, repeatedly
    assert per_chat(fake) == {}
    assert await statuses(db) == {"pending": count}  # still waiting, nothing given up

    await run_until(d, clock, NOW + timedelta(minutes=20), timedelta(seconds=1))
    counts = per_chat(fake)
    assert len(counts) == count, f"lost {count - len(counts)} reminders"
    assert set(counts.values()) == {1}
    assert await statuses(db) == {"sent": count}


async def test_back_off_is_exponential_and_capped(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_due_alerts(db, 1, NOW, deadline=DEADLINE)
    outage = Outage(fake, clock, NOW, NOW + timedelta(hours=2))
    monkeypatch.setattr(fake, "handle", outage.handle)
    d = dispatcher(app, db, clock)
    tries: list[datetime] = []
    while clock.now < NOW + timedelta(hours=2):
        if await d.drain() == 0 and outage.refused + outage.bad_gateway > len(tries):
            tries.append(clock.now)
        async with db.session() as session:
            row = (await session.exec(select(Outbox))).one()
        assert row.status == "pending"
        clock.now = max(row.due_at, clock.now + timedelta(seconds=1))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(tries)]
    assert gaps[:6] == [2, 4, 8, 16, 32, 64]
    assert max(gaps) == d.backoff_cap
    assert len(tries) > 40  # it kept trying for the whole two hours


@pytest.mark.slow
@pytest.mark.parametrize("deadline", [NOW + timedelta(minutes=5)], indirect=True)
async def test_reminder_expires_when_its_deadline_passes_during_the_outage(
    app: BotApp,
    db: Database,
    clock: Clock,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    deadline: datetime,
) -> None:
    # Due now, useful for five minutes.
    await seed_due_alerts(db, 3, NOW, deadline=deadline)
    outage = Outage(fake, clock, NOW, NOW + timedelta(minutes=10))
    monkeypatch.setattr(fake, "handle", outage.handle)
    d = dispatcher(app, db, clock)
    await run_until(d, clock, NOW + timedelta(minutes=20), timedelta(seconds=1))
    assert per_chat(fake) == {}
    async with db.session() as session:
        rows = (await session.exec(select(Outbox))).all()
    assert {r.status for r in rows} == {"expired"}
    for row in rows:
        error = row.error or ""
        assert error.startswith("expired: useful until 2026-11-27 12:05 UTC"), error
        assert "Bad Gateway" in error or "Connection reset" in error
        # The last try was at most a minute before the deadline, none after it.
        assert deadline - timedelta(minutes=2) <= row.due_at <= deadline - timedelta(minutes=1)
    assert d.expired_count == 3


async def test_a_bad_request_still_fails_at_once(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await seed_due_alerts(db, 1, NOW, deadline=DEADLINE)
    fake.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
    d = dispatcher(app, db, clock)
    assert await d.drain() == 0
    async with db.session() as session:
        row = (await session.exec(select(Outbox))).one()
    assert row.status == "failed" and "can't parse entities" in (row.error or "").lower()


def test_useful_until_per_key_kind() -> None:
    deadline = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    deadline_key = f"deadline:7d@{target_stamp('deadline', deadline)}"
    assert useful_until(deadline_key) == deadline
    assert useful_until(f"snooze:{deadline_key}") == deadline
    # A go-live day has ended everywhere at noon UTC the next day (midnight at UTC-12).
    golive = "golive:1d@20261220"
    assert useful_until(golive) == datetime(2026, 12, 21, 12, tzinfo=UTC)
    assert useful_until(f"snooze:{golive}") == datetime(2026, 12, 21, 12, tzinfo=UTC)
    # A nudge is worth sending until the end of the day after its own.
    assert useful_until("nudge@20261204") == datetime(2026, 12, 6, tzinfo=UTC)
    assert useful_until("mystery:1d@x") is None
    assert useful_until("deadline:7d@garbage") is None


# --- unanswered (ambiguous) sends -------------------------------------------------------


def copies(fake: FakeTelegram) -> list[int]:
    """Chat of every reminder the merchant got (whether or not we heard Telegram's answer)."""
    return [10_000 for m in fake.messages(10_000) if "Snooze a day" in str(m.buttons)]


async def one_row(db: Database) -> Outbox:
    async with db.session() as session:
        return (await session.exec(select(Outbox))).one()


async def test_an_unanswered_send_is_sent_once_more_and_logged(
    app: BotApp,
    db: Database,
    clock: Clock,
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed_due_alerts(db, 1, NOW, deadline=DEADLINE)
    # Telegram sends the message, but its answer comes after our read timeout.
    fake.fail_next_network("sendMessage", timed_out=True, delivered=True)
    d = dispatcher(app, db, clock)
    with caplog.at_level(logging.WARNING, logger="bot.alerts.dispatcher"):
        assert await d.drain() == 0
    row = await one_row(db)
    [line] = [r.getMessage() for r in caplog.records if "unanswered" in r.getMessage()]
    assert f"outbox row {row.id}" in line and row.key in line and "sending it once more" in line
    assert row.status == "pending" and row.unanswered == 1
    assert row.due_at == NOW + d.unanswered_delay  # Telegram gets time to recover first
    assert d.unanswered_count == 1
    clock.now = row.due_at
    assert await d.drain() == 1
    # The documented exception: this reminder reached the merchant twice.
    assert copies(fake) == [10_000, 10_000]
    row = await one_row(db)
    assert row.status == "sent" and row.unanswered == 1


async def test_a_second_unanswered_send_is_not_repeated(
    app: BotApp,
    db: Database,
    clock: Clock,
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed_due_alerts(db, 1, NOW, deadline=DEADLINE)
    fake.fail_next_network("sendMessage", timed_out=True, delivered=True, times=2)
    d = dispatcher(app, db, clock)
    with caplog.at_level(logging.WARNING, logger="bot.alerts.dispatcher"):
        for _ in range(3):
            await d.drain()
            clock.now += timedelta(minutes=5)
    row = await one_row(db)
    assert row.status == "unconfirmed" and row.unanswered == 2
    assert (row.error or "").startswith("unconfirmed: 2 sends unanswered")
    assert copies(fake) == [10_000, 10_000]  # never a third copy
    lines = [r.getMessage() for r in caplog.records if "unanswered" in r.getMessage()]
    assert len(lines) == 2 and "not sending it again" in lines[1]


async def test_a_refused_connection_is_not_ambiguous(
    app: BotApp,
    db: Database,
    clock: Clock,
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seed_due_alerts(db, 1, NOW, deadline=DEADLINE)
    fake.fail_next_network("sendMessage", timed_out=False)
    d = dispatcher(app, db, clock)
    with caplog.at_level(logging.INFO):
        assert await d.drain() == 0
        row = await one_row(db)
        assert row.unanswered == 0 and row.due_at == NOW + timedelta(seconds=2)
        clock.now = row.due_at
        assert await d.drain() == 1
    assert not [r for r in caplog.records if "unanswered" in r.getMessage()]
    assert copies(fake) == [10_000]


@pytest.mark.slow
async def test_real_transport_errors_are_classified() -> None:
    """A read timeout is ambiguous (the request went out); a refused connection is not."""
    transport = AiohttpRequest(read_timeout=0.05, connect_timeout=1)
    await transport.initialize()

    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.json_response({"ok": True, "result": True})

    root, runner = await start_server(slow)
    try:
        with pytest.raises(TimedOut) as timed_out:
            await transport.post(f"{root}/bot{TOKEN}/getMe")
        with pytest.raises(NetworkError) as refused:
            await transport.post(f"http://127.0.0.1:{free_port()}/bot{TOKEN}/getMe")
    finally:
        await runner.cleanup()
        await transport.shutdown()
    assert unanswered(timed_out.value)
    assert not unanswered(refused.value)
    assert not unanswered(NetworkError("Bad Gateway"))  # a 502: Telegram answered
