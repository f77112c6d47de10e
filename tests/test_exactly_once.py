"""Exactly-once state for handled-again updates (issue 20): the merchant row records the id
of the last update whose turn committed, so an update handled again — the process died
after its turn committed but before the inbox recorded it done, or its reply failed after
the commit — changes nothing and shows the merchant where they are, instead of applying a
typed answer a second time to the next question.

Through the real Application, the durable inbox and the fake Bot API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Inbox, InboxStatus, Merchant
from bot.updates import UpdateRunner
from tests.conftest import Clock


async def through_inbox(runner: UpdateRunner, payload: dict[str, Any]) -> None:
    [fresh] = await runner.accept([payload])
    assert await runner.handle(fresh)
    await runner.flush()


async def crashed_before_done(db: Database, clock: Clock, *payloads: dict[str, Any]) -> None:
    """The inbox rows as a process killed after the turns committed leaves them: pending,
    with their payload, leased to the dead process."""
    async with db.session() as session:
        for payload in payloads:
            await session.exec(
                update(Inbox)
                .where(Inbox.update_id == payload["update_id"])
                .values(
                    status=InboxStatus.PENDING,
                    payload=payload,
                    lease_until=clock() + timedelta(seconds=60),
                )
            )
        await session.commit()


async def merchant(db: Database, chat: int) -> Merchant:
    async with db.session() as session:
        found = await session.get(Merchant, chat)
        assert found is not None
        return found


async def recover(runner: UpdateRunner, expected: int) -> None:
    """What ``run`` does at its next start: take over every pending update."""
    assert await runner.sweep(recover=True) == expected
    await runner.drain()
    await runner.flush()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_typed_answer_handled_again_after_a_crash_is_not_applied_twice(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock)
    chat = 81
    await through_inbox(runner, fake.text_update(chat, "/start"))
    answer = fake.text_update(chat, "Shopify")
    await through_inbox(runner, answer)
    market_question = fake.messages(chat)[-1].text
    assert market_question and "market" in market_question.lower()
    before = await merchant(db, chat)
    assert before.answers == {"platform": "shopify"}

    await crashed_before_done(db, clock, answer)
    await recover(runner, 1)

    assert fake.messages(chat)[-1].text == market_question  # where they are, again
    after = await merchant(db, chat)
    assert after.answers == before.answers and after.current == before.current
    async with db.session() as session:
        row = await session.get(Inbox, answer["update_id"])
        assert row is not None and row.status == InboxStatus.DONE and row.payload is None
    # The interview goes on from there as if nothing had happened.
    await through_inbox(runner, fake.text_update(chat, "UK"))
    assert (await merchant(db, chat)).answers["market"] == ["uk"]


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_two_answers_handled_again_are_neither_applied_again(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock)
    chat = 82
    await through_inbox(runner, fake.text_update(chat, "/start"))
    first, second = fake.text_update(chat, "Shopify"), fake.text_update(chat, "UK")
    await through_inbox(runner, first)
    await through_inbox(runner, second)
    before = await merchant(db, chat)
    shown = fake.messages(chat)[-1].text

    await crashed_before_done(db, clock, first, second)
    await recover(runner, 2)

    after = await merchant(db, chat)
    assert after.answers == before.answers and after.current == before.current
    assert fake.messages(chat)[-1].text == shown


async def test_an_answer_whose_reply_failed_is_not_applied_again_on_retry(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """The turn committed, then Telegram failed the reply: the retry shows the question the
    answer led to, it does not answer that question with the same text."""
    runner = UpdateRunner(app, clock=clock)
    chat = 83
    await through_inbox(runner, fake.text_update(chat, "/start"))
    fake.fail_next("sendMessage", status=502, chat_id=chat)
    answer = fake.text_update(chat, "Shopify")
    [fresh] = await runner.accept([answer])
    assert not await runner.handle(fresh)  # failed after the commit: retried later
    assert (await merchant(db, chat)).answers == {"platform": "shopify"}
    clock.now += timedelta(seconds=5)
    assert await runner.sweep() == 1
    await runner.drain()
    await runner.flush()
    assert (await merchant(db, chat)).answers == {"platform": "shopify"}
    last = fake.messages(chat)[-1].text
    assert last and "market" in last.lower()


async def test_a_first_update_and_lower_ids_after_a_quiet_week_are_applied(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """Telegram picks the next update id at random after a week without updates: an id
    lower than the recorded one, received after the merchant's last turn, is new."""
    runner = UpdateRunner(app, clock=clock)
    chat = 84
    await through_inbox(runner, {**fake.text_update(chat, "/start"), "update_id": 5000})
    await through_inbox(runner, {**fake.text_update(chat, "Shopify"), "update_id": 5001})
    assert (await merchant(db, chat)).last_update_id == 5001
    clock.now += timedelta(days=8)
    await through_inbox(runner, {**fake.text_update(chat, "UK"), "update_id": 17})
    found = await merchant(db, chat)
    assert found.answers.get("market") == ["uk"] and found.last_update_id == 17


async def test_updates_outside_the_inbox_record_nothing(user: SimulatedUser, db: Database) -> None:
    """Handled without the inbox (no delivery: tests, tools), a turn neither checks nor
    records an update id."""
    await user.send("/start")
    await user.send("Shopify")
    found = await merchant(db, user.user_id)
    assert found.answers == {"platform": "shopify"} and found.last_update_id is None


async def test_a_first_contact_handled_again_is_recognised(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """The merchant's first update creates their row with its id: handled again, it shows
    the first question again and changes nothing."""
    runner = UpdateRunner(app, clock=clock)
    chat = 85
    hello = fake.text_update(chat, "hello")
    await through_inbox(runner, hello)
    question = fake.messages(chat)[-1].text
    before = await merchant(db, chat)
    assert before.last_update_id == hello["update_id"]
    clock.now += timedelta(seconds=30)

    await crashed_before_done(db, clock, hello)
    await recover(runner, 1)

    after = await merchant(db, chat)
    assert fake.messages(chat)[-1].text == question
    assert (after.answers, after.current, after.last_seen) == (
        before.answers,
        before.current,
        before.last_seen,
    )


async def test_a_command_that_shows_something_is_answered_again(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """/help handled again is answered again (the reply may never have gone out before the
    crash), and it does not lower the recorded id: the answer after it is still a repeat."""
    runner = UpdateRunner(app, clock=clock)
    chat = 86
    await through_inbox(runner, fake.text_update(chat, "/start"))
    asked, answer = fake.text_update(chat, "/help"), fake.text_update(chat, "Shopify")
    await through_inbox(runner, asked)
    await through_inbox(runner, answer)
    before = await merchant(db, chat)
    replies = len(fake.messages(chat))

    await crashed_before_done(db, clock, asked, answer)
    await recover(UpdateRunner(app, clock=clock), 2)  # a new process (its own coalescer)

    again = [m.text or "" for m in fake.messages(chat)[replies:]]
    assert len(again) == 2 and "How I can help" in again[0]
    assert "market" in again[1].lower()  # where they are, not "Shopify" applied again
    after = await merchant(db, chat)
    assert after.answers == before.answers and after.last_update_id == answer["update_id"]
