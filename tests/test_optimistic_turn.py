"""Two instances handling one merchant at the same moment on PostgreSQL (issue 20): a turn
reads the merchant without a lock and writes on condition that the row is as it read it
(bot.storage.merchant_row). The turn that loses writes nothing and its update is handled
again at once, on what the winner stored: the merchant sees the result of one press, never
two, and no error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import col, select

from bot.botapi.fake import FakeTelegram
from bot.context import BotApp
from bot.services.core import Logged, UserInfo
from bot.storage import merchant_row
from bot.storage.db import Database
from bot.storage.models import Event, Merchant
from bot.updates import HANDLE_AGAIN, UpdateRunner
from tests.conftest import AppFactory, Clock


def core_user(chat: int) -> UserInfo:
    return UserInfo(id=chat, chat_id=chat, first_name="Ann")


def first_button(fake: FakeTelegram, chat: int) -> tuple[int, str, str]:
    """(message id, label, callback data) of the first button on the latest keyboard."""
    last = next(m for m in reversed(fake.messages(chat)) if m.button_labels)
    rows = (last.reply_markup or {})["inline_keyboard"]
    button = next(b for row in rows for b in row if "callback_data" in b)
    return last.message_id, str(button["text"]), str(button["callback_data"])


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_the_same_press_handled_by_two_instances_at_once_is_applied_once(
    app: BotApp,
    make_app: AppFactory,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = 91
    a = UpdateRunner(app, clock=clock)
    [start] = await a.accept([fake.text_update(chat, "/start")])
    assert await a.handle(start)
    message_id, _label, data = first_button(fake, chat)
    # A double tap reaches two instances: two updates, the same button.
    first, second = await a.accept(
        [
            fake.callback_update(chat, message_id, data),
            fake.callback_update(chat, message_id, data),
        ]
    )

    # Instance A reads the merchant, then waits until instance B has handled its press.
    read_by_a, b_done = asyncio.Event(), asyncio.Event()
    real_load = merchant_row.load
    loads = 0

    async def load(*args: Any, **kwargs: Any) -> merchant_row.StoredMerchant | None:
        nonlocal loads
        loads += 1
        stored = await real_load(*args, **kwargs)
        if loads == 1:
            read_by_a.set()
            await b_done.wait()
        return stored

    monkeypatch.setattr(merchant_row, "load", load)
    other = make_app()
    async with other:
        b = UpdateRunner(other, clock=clock)
        handling_a = asyncio.ensure_future(a.handle(first))
        await read_by_a.wait()
        assert await b.handle(second)
        b_done.set()
        assert await handling_a  # handled (again, at once), not failed
        await b.flush()
    await a.flush()

    assert loads == 3  # A, B, and A again on what B stored
    async with db.session() as session:
        merchant = await session.get(Merchant, chat)
        assert merchant is not None and merchant.answers.get("platform")
        answers = (
            await session.exec(
                select(Event).where(Event.merchant_id == chat, col(Event.kind) == "answer")
            )
        ).all()
    assert len(answers) == 1  # the press applied once
    texts = [m.text or "" for m in fake.messages(chat)]
    assert not [t for t in texts if "sorry" in t.lower()]
    # What one process shows for a double tap handled one press after the other: B's reply
    # (the next question) and A's, made on what B stored (the same question, once more).
    assert texts[-2] == texts[-1] and "Question 2 of" in texts[-1], texts


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_merchant_that_keeps_changing_fails_the_attempt_after_a_few_tries(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handled again at once a few times (bot.updates.HANDLE_AGAIN); if the merchant changed
    every time, the attempt failed: on the final one the merchant gets the apology."""
    chat = 92
    runner = UpdateRunner(app, clock=clock, max_attempts=1)
    [start] = await runner.accept([fake.text_update(chat, "/start")])
    assert await runner.handle(start)
    real_load = merchant_row.load
    loads = 0

    async def load(*args: Any, **kwargs: Any) -> merchant_row.StoredMerchant | None:
        nonlocal loads
        loads += 1
        stored = await real_load(*args, **kwargs)
        async with db.session() as session:  # someone else writes the row meanwhile
            merchant = await session.get(Merchant, chat)
            assert merchant is not None
            merchant.timezone = "Europe/Berlin" if loads % 2 else "UTC"
        return stored

    monkeypatch.setattr(merchant_row, "load", load)
    [typed] = await runner.accept([fake.text_update(chat, "Shopify")])
    assert not await runner.handle(typed)
    assert loads == 1 + HANDLE_AGAIN
    assert "sorry" in (fake.messages(chat)[-1].text or "").lower()
    async with db.session() as session:
        merchant = await session.get(Merchant, chat)
        assert merchant is not None and "platform" not in merchant.answers


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_write_in_the_middle_of_a_turn_is_undone_if_the_turn_fails(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """Turn.flush writes the merchant before the turn's end (an export reads it back by SQL):
    on PostgreSQL too that write is in the turn's transaction, not committed on its own."""
    chat = 93
    runner = UpdateRunner(app, clock=clock)
    [start] = await runner.accept([fake.text_update(chat, "/start")])
    assert await runner.handle(start)
    core = app.bot_data.core
    user = core_user(chat)
    with pytest.raises(RuntimeError):
        async with core.turn(user) as turn:
            turn.merchant.timezone = "Asia/Tokyo"
            await turn.flush()
            raise RuntimeError("the turn fails after its write")
    async with db.session() as session:
        merchant = await session.get(Merchant, chat)
        assert merchant is not None and merchant.timezone != "Asia/Tokyo"


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_turn_reads_back_the_latest_event_its_own_or_stored(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """Turn.last_event: an event this turn logged is the latest (found before it is
    written: it goes with the merchant's write at the end); otherwise the latest stored one
    of those kinds, another turn's; kinds not logged give None."""
    chat = 94
    runner = UpdateRunner(app, clock=clock)
    [start] = await runner.accept([fake.text_update(chat, "/start")])
    assert await runner.handle(start)
    core = app.bot_data.core
    user = core_user(chat)
    async with core.turn(user) as turn:
        await turn.log("step_opened", step="a")
        await turn.log("step_link", step="b")
        assert await turn.last_event("step_opened") == Logged("step_opened", "a")
        assert await turn.last_event("step_opened", "step_link") == Logged("step_link", "b")
    async with core.turn(user) as turn:
        assert await turn.last_event("step_opened") == Logged("step_opened", "a")
        assert await turn.last_event("step_link", "step_opened") == Logged("step_link", "b")
        assert await turn.last_event("no_such_kind") is None
        await turn.log("step_opened", step="c")
        assert await turn.last_event("step_link", "step_opened") == Logged("step_opened", "c")
    async with db.session() as session:
        steps = (
            await session.exec(
                select(Event.step)
                .where(col(Event.merchant_id) == chat, col(Event.step) != None)  # noqa: E711
                .order_by(col(Event.id))
            )
        ).all()
        assert steps == ["a", "b", "c"]
