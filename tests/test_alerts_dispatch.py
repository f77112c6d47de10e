"""The outbox dispatcher: rendering at send time, 429/5xx/403, crashes and two dispatchers."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.alerts.dispatcher import Dispatcher, claim
from bot.alerts.keys import target_stamp
from bot.alerts.service import AlertService
from bot.botapi.budget import RateBudget
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Outbox
from tests.conftest import NOW, Clock, make_settings
from tests.outbox_seed import seed_due_alerts
from tests.test_alerts_service import finish_interview, merchant, rows, subscribe

DEADLINE = NOW + timedelta(days=10)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, deadline=DEADLINE)


def service_of(app: BotApp) -> AlertService:
    service = app.bot_data.alerts
    assert service is not None and service.dispatcher is not None
    return service


def dispatcher_of(app: BotApp) -> Dispatcher:
    dispatcher = service_of(app).dispatcher
    assert dispatcher is not None
    return dispatcher


def alert_sends(fake: FakeTelegram) -> list[tuple[int, str]]:
    """(chat, first line) of every accepted sendMessage that carries a Snooze button."""
    out = []
    for call in fake.calls_to("sendMessage"):
        if call.ok and "Snooze a day" in str(call.params.get("reply_markup", "")):
            out.append((int(call.params["chat_id"]), str(call.params["text"]).split("\n")[0]))
    return out


async def first_due(db: Database) -> datetime:
    pending = await rows(db, status="pending")
    return min(r.due_at for r in pending)


@pytest.mark.slow
async def test_alert_arrives_with_text_and_buttons(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await user.send("/start")
    await finish_interview(db)
    await subscribe(user)
    clock.now = await first_due(db)  # deadline:7d, 2026-11-30 12:00 UTC
    mark = user.mark()
    assert await dispatcher_of(app).drain() == 1
    [alert] = user.replies_since(mark)
    assert alert.text is not None
    assert alert.text.startswith("⏰ TikTok Storefront closes in 7 days (7 December 2026)")
    assert "Your plan: 0 of" in alert.text
    assert "Next step:" in alert.text
    assert alert.button_labels == ["▶️ Open next step", "💤 Snooze a day", "🔕 Stop alerts"]
    [sent] = await rows(db, status="sent")
    assert sent.key.startswith("deadline:7d@") and sent.sent_at == clock.now
    # Nothing else is due: a second drain sends nothing.
    assert await dispatcher_of(app).drain() == 0

    # Snooze: the same alert comes back a day later, saying how long is left then.
    await user.press("💤 Snooze a day")
    snoozed = [r for r in await rows(db, status="pending") if r.key.startswith("snooze:")]
    assert len(snoozed) == 1 and snoozed[0].due_at == clock.now + timedelta(days=1)
    clock.now += timedelta(days=1)
    mark = user.mark()
    await dispatcher_of(app).drain()
    texts = [m.text or "" for m in user.replies_since(mark)]
    assert any(t.startswith("⏰ TikTok Storefront closes in 6 days") for t in texts)

    # Open next step works from the alert.
    replies = await user.press("▶️ Open next step")
    assert replies and "Step 1 of" in (replies[-1].text or "")

    # Stop alerts: everything pending is cancelled.
    await user.press("🔕 Stop alerts")
    assert not (await merchant(db)).alerts_on
    assert await rows(db, status="pending") == []


@pytest.mark.slow
async def test_go_live_alert_says_tomorrow(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock
) -> None:
    await user.send("/start")
    await finish_interview(db)
    await subscribe(user)
    [row] = [r for r in await rows(db) if r.key == "golive:1d@20261220"]
    clock.now = row.due_at
    mark = user.mark()
    await dispatcher_of(app).drain()
    texts = [m.text or "" for m in user.replies_since(mark)]
    assert any(t.startswith("⏰ Your go-live date is tomorrow (20 December 2026)") for t in texts)


@pytest.mark.slow
async def test_429_waits_retry_after_then_sends_once(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await subscribe(user)
    clock.now = await first_due(db)
    fake.fail_next("sendMessage", status=429, retry_after=1)
    started = time.monotonic()
    assert await dispatcher_of(app).drain() == 1
    assert time.monotonic() - started >= 0.9
    refused = [c for c in fake.calls_to("sendMessage") if c.status == 429]
    assert len(refused) == 1
    assert len(alert_sends(fake)) == 1
    [sent] = await rows(db, status="sent")
    assert sent.attempts == 0


@pytest.mark.slow
async def test_5xx_backs_off_and_keeps_the_row_pending(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await subscribe(user)
    clock.now = await first_due(db)
    dispatcher = dispatcher_of(app)
    tries = 8
    fake.fail_next("sendMessage", status=500, times=tries)
    row_key = (await rows(db, status="pending"))[0].key
    due_times = []
    for attempt in range(1, tries + 1):
        assert await dispatcher.drain() == 0
        [row] = [r for r in await rows(db) if r.key == row_key]
        assert row.attempts == attempt
        assert row.status == "pending" and row.due_at > clock.now
        assert "Internal Server Error" in (row.error or "")
        due_times.append(row.due_at)
        clock.now = row.due_at
    # Back-off grows, up to its cap; the row is still waiting (see tests/test_alerts_outage.py).
    gaps = [b - a for a, b in itertools.pairwise(due_times)]
    assert all(g2 > g1 for g1, g2 in itertools.pairwise(gaps[:-1]))
    assert gaps[-1] == gaps[-2] == timedelta(seconds=dispatcher.backoff_cap)
    assert alert_sends(fake) == []
    assert await dispatcher.drain() == 1
    assert len(alert_sends(fake)) == 1


@pytest.mark.slow
async def test_5xx_once_then_sent(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await subscribe(user)
    clock.now = await first_due(db)
    fake.fail_next("sendMessage", status=502)
    assert await dispatcher_of(app).drain() == 0
    clock.now += timedelta(minutes=1)
    assert await dispatcher_of(app).drain() == 1
    assert len(alert_sends(fake)) == 1


@pytest.mark.slow
async def test_403_turns_merchant_off_and_cancels_pending(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await subscribe(user)
    clock.now = await first_due(db)
    fake.block_chat(1001)
    assert await dispatcher_of(app).drain() == 0
    found = await merchant(db)
    assert not found.alerts_on and found.blocked
    assert await rows(db, status="pending") == []
    assert {(r.status, r.error) for r in await rows(db)} == {("cancelled", "blocked")}


# --- many merchants ---------------------------------------------------------------------


async def seed(
    db: Database,
    count: int,
    due: datetime,
    *,
    first_id: int = 10_000,
    deadline: datetime = DEADLINE,
) -> None:
    """``count`` subscribed merchants, each with one due deadline alert."""
    await seed_due_alerts(db, count, due, deadline=deadline, first_id=first_id)


def fast(app: BotApp, db: Database, clock: Clock, **kwargs: object) -> Dispatcher:
    """A dispatcher with no rate limit (the fake enforces none either)."""
    service = service_of(app)
    return Dispatcher(
        db,
        app.bot,
        service,
        RateBudget(1_000_000, per_chat_interval=0),
        clock=clock,
        batch_size=200,
        max_in_flight=400,
        **kwargs,  # type: ignore[arg-type]
    )


def per_chat(fake: FakeTelegram) -> collections.Counter[int]:
    return collections.Counter(chat for chat, _ in alert_sends(fake))


@pytest.mark.slow
async def test_crash_after_claim_lease_expires_and_restart_sends_all_once(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await seed(db, 300, NOW)
    # Dispatcher A claims a batch and dies before sending anything.
    claimed = await claim(db, "dead-worker", clock(), timedelta(seconds=120), 150)
    assert len(claimed) == 150
    b = fast(app, db, clock)
    assert await b.drain() == 150  # the leased rows are not touched yet
    clock.now += timedelta(seconds=121)  # the lease expires
    assert await b.drain() == 150
    counts = per_chat(fake)
    assert len(counts) == 300 and set(counts.values()) == {1}


@pytest.mark.slow
async def test_killed_mid_batch_then_restarted_sends_each_once(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await seed(db, 400, NOW)
    a = fast(app, db, clock)
    task = asyncio.create_task(a.drain())
    for _ in range(10_000):  # kill it in the middle of sending
        if len(alert_sends(fake)) >= 120:
            break
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    first = len(alert_sends(fake))
    assert 0 < first < 400
    b = fast(app, db, clock)
    clock.now += timedelta(seconds=121)
    await b.drain()
    counts = per_chat(fake)
    assert len(counts) == 400, "an alert was lost"
    assert set(counts.values()) == {1}, "an alert was sent twice"


async def test_lease_too_short_is_not_sent(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await seed(db, 3, NOW)
    d = fast(app, db, clock, lease=timedelta(seconds=4))  # below the 5 s safety margin
    assert await d.drain() == 0
    assert alert_sends(fake) == []
    async with db.session() as session:
        leased = (await session.exec(select(Outbox).where(Outbox.lease_owner.is_not(None)))).all()  # type: ignore[union-attr]
    assert leased == []  # given back at once


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_dispatchers_on_postgres_send_10000_exactly_once(
    app: BotApp, db: Database, db_url: str, clock: Clock, fake: FakeTelegram
) -> None:
    total = 10_000
    await seed(db, total, NOW - timedelta(minutes=1))
    other_db = Database(db_url)  # a second process: its own engine and pool
    try:
        one = fast(app, db, clock)
        two = fast(app, other_db, clock)
        two.owner = "second-dispatcher"
        sent = await asyncio.gather(one.drain(), two.drain())
    finally:
        await other_db.dispose()
    assert sum(sent) == total
    assert all(s > 0 for s in sent), f"one dispatcher did all the work: {sent}"
    counts = per_chat(fake)
    assert len(counts) == total, f"lost {total - len(counts)}"
    duplicates = {chat: n for chat, n in counts.items() if n > 1}
    assert duplicates == {}
    async with db.session() as session:
        statuses = collections.Counter((await session.exec(select(Outbox.status))).all())
    assert statuses == {"sent": total}


@pytest.mark.slow
async def test_many_chats_sqlite(
    app: BotApp, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    await seed(db, 1000, NOW)
    assert await fast(app, db, clock).drain() == 1000
    assert set(per_chat(fake).values()) == {1}


def test_keys_are_utc_stamps() -> None:
    assert target_stamp("deadline", datetime(2023, 9, 12, tzinfo=UTC)) == "20230912T0000"
