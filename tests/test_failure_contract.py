"""The failure contract: a refused button answer never stops the reply, a failure ends in an
apology, groups never touch a merchant, repeated taps change nothing twice, hostile input
gets its normal answer."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import select

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.context import BotApp
from bot.domain.callbacks import MAX_INT, Alerts, encode
from bot.storage.db import Database
from bot.storage.models import Merchant, StepProgress
from tests.chat import Profile, interview

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
UK = Profile("uk", "Shopify", ("United Kingdom",))
GROUP = -100200300


async def merchant_row(db: Database, user_id: int) -> Merchant | None:
    async with db.session() as session:
        return await session.get(Merchant, user_id)


# --- button answers and apologies ----------------------------------------------------------


async def test_a_refused_button_answer_still_delivers_the_reply(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    await interview(user, UK)
    for _ in range(3):  # e.g. presses re-delivered after an outage, each too old to answer
        fake.fail_next("answerCallbackQuery", status=400, description=TOO_OLD)
        replies = await user.press("▶️ Next step")
        assert replies, "the next step must be sent although the button answer was refused"
        assert "✅ Done" in replies[-1].button_labels


async def test_the_apology_arrives_when_a_press_fails_after_it_was_answered(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    """The button is answered first; when the reply then fails, a second answer is refused
    by Telegram, and that must not swallow the apology."""
    await interview(user, UK)
    fake.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    replies = await user.press("▶️ Next step")
    assert replies and "Sorry, something went wrong on my side" in (replies[-1].text or "")
    assert user.last_callback_answer() is not None  # the spinner stopped


# --- groups never touch a merchant -----------------------------------------------------------


def group_member_update(fake: FakeTelegram, user_id: int, status: str) -> dict[str, Any]:
    old, new = ("left", status) if status in ("member", "administrator") else ("member", status)
    return {
        "update_id": fake.next_update_id(),
        "my_chat_member": {
            "chat": {"id": GROUP, "type": "supergroup", "title": "Sellers"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
            "date": int(time.time()),
            "old_chat_member": {"user": fake.bot_user, "status": old},
            "new_chat_member": {"user": fake.bot_user, "status": new},
        },
    }


def group_press_update(fake: FakeTelegram, user_id: int, data: str) -> dict[str, Any]:
    query_id = f"grp{fake.next_update_id()}"
    fake._pending_callbacks[query_id] = user_id
    return {
        "update_id": fake.next_update_id(),
        "callback_query": {
            "id": query_id,
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
            "message": {
                "message_id": 77,
                "from": fake.bot_user,
                "chat": {"id": GROUP, "type": "supergroup", "title": "Sellers"},
                "date": int(time.time()),
                "text": "Turn alerts back on?",
            },
            "chat_instance": "group-instance",
            "data": data,
        },
    }


async def process(app: BotApp, fake: FakeTelegram, data: dict[str, Any]) -> None:
    from telegram import Update

    await app.process_update(Update.de_json(data, app.bot))


async def test_adding_and_removing_the_bot_in_a_group_never_touches_the_merchant(
    app: BotApp, user: SimulatedUser, fake: FakeTelegram, db: Database
) -> None:
    await interview(user, UK)
    before = await merchant_row(db, user.user_id)
    assert before is not None
    await process(app, fake, group_member_update(fake, user.user_id, "member"))
    await process(app, fake, group_member_update(fake, user.user_id, "left"))
    await process(app, fake, group_member_update(fake, user.user_id, "member"))
    after = await merchant_row(db, user.user_id)
    assert after is not None
    assert (after.alerts_on, after.blocked, after.chat_id) == (
        before.alerts_on,
        before.blocked,
        user.user_id,
    )
    said = [m.text or "" for m in fake.messages(GROUP)]
    assert len(said) == 2 and all("private chat" in text for text in said), said
    assert not any("back on" in text for text in said)


async def test_a_press_in_a_group_changes_nothing_and_never_redirects_a_merchant(
    app: BotApp, user: SimulatedUser, fake: FakeTelegram, db: Database
) -> None:
    await interview(user, UK)
    before = await merchant_row(db, user.user_id)
    for data in (encode(Alerts("resume")), encode(Alerts("on")), "1P", "garbage"):
        await process(app, fake, group_press_update(fake, user.user_id, data))
    after = await merchant_row(db, user.user_id)
    assert before is not None and after is not None
    assert after.chat_id == user.user_id and after.alerts_on == before.alerts_on
    assert fake.messages(GROUP) == []  # nothing posted into the group
    answers = [a for a in fake.answered_callbacks if a.user_id == user.user_id]
    assert answers and all("private chat" in (a.text or "") for a in answers[-4:])


# --- repeated taps -----------------------------------------------------------------------


async def test_done_pressed_three_times_sends_the_next_step_once(
    user: SimulatedUser, fake: FakeTelegram, db: Database
) -> None:
    await interview(user, UK)
    step = (await user.press("▶️ Next step"))[-1]
    done_data = next(data for label, data in step.buttons[0] if label == "✅ Done")
    assert done_data is not None
    first = await user.press_data(step.message_id, done_data)
    again = await user.press_data(step.message_id, done_data)
    third = await user.press_data(step.message_id, done_data)
    sent_after_first = [m for m in first if m.message_id != step.message_id]
    assert len(sent_after_first) == 1
    for replies in (again, third):
        assert [m for m in replies if m.message_id != step.message_id] == []
        answer = user.last_callback_answer()
        assert answer is not None and answer.text
    async with db.session() as session:
        rows = (await session.exec(select(StepProgress))).all()
    assert len(rows) == 1


async def test_extra_taps_on_an_answered_option_only_get_a_toast(user: SimulatedUser) -> None:
    await user.send("/start")
    question = user.fake.last_message(user.user_id)
    assert question is not None
    shopify = next(d for label, d in question.buttons[0] if label == "Shopify")
    assert shopify is not None
    await user.press_data(question.message_id, shopify)
    mark = user.mark()
    await user.press_data(question.message_id, shopify)
    assert user.replies_since(mark) == []
    answer = user.last_callback_answer()
    assert answer is not None and answer.text and "earlier message" not in answer.text


# --- hostile input -----------------------------------------------------------------------------


async def test_oversized_and_forged_ids_in_callback_data_change_nothing(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    await interview(user, UK)
    message = fake.last_message(user.user_id)
    assert message is not None
    for data in (
        f"1A:snooze-{MAX_INT + 1}",
        "1A:snooze-99999999999999999999",
        f"1A:snooze-{MAX_INT}",
        "1G:99999999999999999999",
        "1q:99999999999999999999:platform:shopify",
    ):
        await user.press_data(message.message_id, data)
        answer = user.last_callback_answer()
        assert answer is not None
        assert "Sorry, something went wrong" not in (user.last_text() or "")


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_long_language_code_and_first_name_get_the_normal_greeting(
    app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    odd = SimulatedUser(app, fake, user_id=5151, first_name="A" * 5000, language_code="x" * 40)
    replies = await odd.send("/start")
    texts = [m.text or "" for m in replies]
    assert any("Which platform" in t for t in texts), texts
    assert not any("Sorry, something went wrong" in t for t in texts)
    row = await merchant_row(db, 5151)
    assert row is not None and (row.language_code is None or len(row.language_code) <= 16)


async def test_a_date_with_a_huge_number_is_asked_again(user: SimulatedUser) -> None:
    replies = await interview(
        user,
        Profile("huge", "Shopify", ("United Kingdom",), go_live="99999999999999999999 1 2030"),
    )
    text = replies[-1].text or ""
    assert "Sorry, something went wrong" not in text
    assert "date" in text.lower()
