"""Handled updates are recorded done in batches (issue 20): one statement for every update
handled within ``DONE_DELAY`` (or at once when ``DONE_BATCH`` wait), written at shutdown too.
A lost batch is harmless: those updates are handled again and change nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.wire import counting
from bot.botapi.fake import FakeTelegram
from bot.context import BotApp
from bot.storage import inbox
from bot.storage.db import Database
from bot.storage.models import Inbox, InboxStatus, Merchant
from bot.updates import UpdateRunner
from tests.conftest import Clock


async def statuses(db: Database, payloads: list[dict[str, Any]]) -> list[str]:
    async with db.session() as session:
        rows = [await session.get(Inbox, p["update_id"]) for p in payloads]
        return [row.status if row is not None else "missing" for row in rows]


async def answers(db: Database, chat: int) -> dict[str, Any]:
    async with db.session() as session:
        merchant = await session.get(Merchant, chat)
        assert merchant is not None
        return dict(merchant.answers)


async def test_updates_handled_together_are_recorded_done_by_one_statement(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock)
    payloads = [fake.text_update(chat, "/start") for chat in range(300, 306)]
    fresh = await runner.accept(payloads)
    with counting(db) as wire:
        runner.spawn(fresh)
        await runner.drain()  # handles them, then writes what waits
    assert sum(s.startswith("UPDATE inbox") for s in wire.log) == 1, wire.log
    assert await statuses(db, payloads) == [InboxStatus.DONE] * len(payloads)
    assert all(fake.messages(chat) for chat in range(300, 306))


async def test_the_batch_is_written_after_the_delay_or_when_full(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock, done_delay=0.01, done_batch=3)
    one = fake.text_update(310, "/start")
    [fresh] = await runner.accept([one])
    assert await runner.handle(fresh)
    assert await statuses(db, [one]) == [InboxStatus.PENDING]  # not yet: it waits
    for _ in range(200):
        if await statuses(db, [one]) == [InboxStatus.DONE]:
            break
        await asyncio.sleep(0.01)
    assert await statuses(db, [one]) == [InboxStatus.DONE]  # the delay ran out

    slow = UpdateRunner(app, clock=clock, done_delay=3600, done_batch=3)
    three = [fake.text_update(chat, "/start") for chat in (311, 312, 313)]
    for payload in await slow.accept(three):
        assert await slow.handle(payload)
    for _ in range(200):  # the third filled the batch: written without waiting the hour
        if await statuses(db, three) == [InboxStatus.DONE] * 3:
            break
        await asyncio.sleep(0.01)
    assert await statuses(db, three) == [InboxStatus.DONE] * 3


async def test_a_lost_batch_is_handled_again_and_changes_nothing(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = UpdateRunner(app, clock=clock)
    chat = 320
    for text in ("/start", "Shopify"):
        [fresh] = await runner.accept([fake.text_update(chat, text)])
        assert await runner.handle(fresh)
    await runner.flush()
    answer = fake.text_update(chat, "UK")
    real = inbox.done

    async def down(*args: Any) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(inbox, "done", down)
    [fresh] = await runner.accept([answer])
    assert await runner.handle(fresh)
    await runner.flush()  # logged, not raised
    monkeypatch.setattr(inbox, "done", real)
    assert await statuses(db, [answer]) == [InboxStatus.PENDING]
    shown = fake.messages(chat)[-1].text
    before = await answers(db, chat)
    assert before.get("market") == ["uk"]

    clock.now += timedelta(seconds=61)  # the lease ran out
    assert await runner.sweep() == 1
    await runner.drain()
    assert await statuses(db, [answer]) == [InboxStatus.DONE]
    assert fake.messages(chat)[-1].text == shown  # their screen again
    assert await answers(db, chat) == before  # "UK" was not applied again


async def test_a_coalesced_command_is_recorded_done_with_the_batch(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock, done_delay=3600)
    first, again = fake.text_update(330, "/help"), fake.text_update(330, "/help")
    for payload in await runner.accept([first, again]):
        assert await runner.handle(payload)
    assert len(fake.messages(330)) == 1  # answered once
    assert await statuses(db, [first, again]) == [InboxStatus.PENDING] * 2
    await runner.drain()  # shutdown writes what waits
    assert await statuses(db, [first, again]) == [InboxStatus.DONE] * 2


async def test_an_update_no_handler_can_read_is_given_up_at_once(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """A stored payload PTB cannot parse (polling stores the JSON as it came) fails for good
    the first time: retrying it every lease would never help. Polling and the next update
    go on as usual."""
    runner = UpdateRunner(app, clock=clock)
    broken = {"update_id": fake.next_update_id(), "message": "not an object"}
    after = fake.text_update(320, "/start")
    fresh = await runner.accept([broken, after])
    assert [p["update_id"] for p in fresh] == [broken["update_id"], after["update_id"]]
    assert not await runner.handle(fresh[0])  # no exception escapes the runner
    assert await runner.handle(fresh[1])
    await runner.drain()
    assert await statuses(db, [broken, after]) == [InboxStatus.FAILED, InboxStatus.DONE]
    assert fake.messages(320)
    # Not claimable again: the sweeper will not take it up after its lease.
    clock.now += timedelta(hours=1)
    assert await inbox.claim(db, clock.now, timedelta(seconds=60), 50) == []
