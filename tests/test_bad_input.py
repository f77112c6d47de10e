"""Bad input gets a short helpful reply and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Merchant
from tests.chat import Profile, interview


async def state_of(db: Database, user_id: int) -> tuple[object, ...]:
    async with db.session() as session:
        merchant = (await session.exec(select(Merchant).where(Merchant.id == user_id))).one()
        return (merchant.answers, merchant.path, merchant.current, merchant.mode)


async def test_typed_text_where_a_button_is_expected(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    before = await state_of(db, user.user_id)
    reply = (await user.send("what is this?"))[-1].text or ""
    assert "I didn't catch that" in reply and "Shopify" in reply
    assert await state_of(db, user.user_id) == before


async def test_typed_option_name_is_understood(user: SimulatedUser) -> None:
    await user.send("/start")
    reply = (await user.send("shopify"))[-1].text or ""
    assert "Which markets do you sell to?" in reply


async def test_sentences_are_understood_and_negations_never_guessed(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    reply = (await user.send("We use Shopify for our store"))[-1].text or ""
    assert "Which markets do you sell to?" in reply
    reply = (await user.send("We sell in the UK and Germany"))[-1].text or ""
    assert "registered company" in reply  # question 3: business type
    before = await state_of(db, user.user_id)
    for unsure in ("we are not a registered company", "no idea"):
        reply = (await user.send(unsure))[-1].text or ""
        assert "I didn't catch that" in reply, unsure
        assert await state_of(db, user.user_id) == before, "a guess changed nothing"
    await user.send("I'm a sole trader")
    answers = (await state_of(db, user.user_id))[0]
    assert answers == {"platform": "shopify", "market": ["uk", "de"], "entity": "individual"}


async def test_back_and_skip_can_be_typed(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    for answer in ("Shopify", "UK", "company", "local", "1-50", "own", "ads", "applied"):
        await user.send(answer)
    assert "What is your shop called?" in user.last_text()
    await user.send("back")
    assert "Where do you stand with TikTok Shop?" in user.last_text()
    await user.send("Applied")
    assert "What is your shop called?" in user.last_text()
    # "Skip" typed on an optional question skips it (it is not taken as the shop's name).
    await user.send("skip")
    assert "When do you want to be selling" in user.last_text()
    answers = (await state_of(db, user.user_id))[0]
    assert isinstance(answers, dict) and answers.get("shop_name") is None
    assert "Your answers" in "".join(m.text or "" for m in await user.send("Skip!"))
    # On the first question there is nowhere to go back to: it says so, nothing changes.
    other = SimulatedUser(user.app, user.fake, user_id=user.user_id + 1)
    await other.send("/start")
    before = await state_of(db, other.user_id)
    await other.send("go back")
    assert "This is the first question" in other.last_text()
    assert await state_of(db, other.user_id) == before


async def test_stickers_and_photos(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    before = await state_of(db, user.user_id)
    for reply in (await user.send_sticker(), await user.send_photo("my logo")):
        assert "I can only read text and button presses" in (reply[-1].text or "")
    assert await state_of(db, user.user_id) == before


async def test_forged_callback_data(user: SimulatedUser, db: Database, fake: FakeTelegram) -> None:
    await user.send("/start")
    question = user.last_reply()
    assert question is not None
    before = await state_of(db, user.user_id)
    for data in (
        "hello",
        "1q:0:platform:myspace",
        "1q:0:platform:shopify:extra",
        "9q:0:platform:shopify",
        "1O:../../etc",
        "1q:99:platform:shopify",
        "x" * 64,
    ):
        await user.press_data(question.message_id, data)
        answer = fake.answered_callbacks[-1]
        assert answer.text, data
        assert "button" in answer.text.lower(), (data, answer.text)
    # Well-formed data for a screen the merchant has not reached is refused kindly too.
    await user.press_data(question.message_id, "1M:what-changed:done")
    assert "finish your answers first" in (fake.answered_callbacks[-1].text or "")
    assert await state_of(db, user.user_id) == before


async def test_stale_button_from_an_earlier_question(
    user: SimulatedUser, db: Database, fake: FakeTelegram
) -> None:
    await user.send("/start")
    first = user.last_reply()
    assert first is not None
    first_data = first.buttons[0][0][1]
    woo_data = next(data for row in first.buttons for label, data in row if "Woo" in label)
    await user.press("Shopify")  # the question moves on (the same message is edited)
    before = await state_of(db, user.user_id)
    # Pressing the old "Shopify" data again (seq 0): its effect happened already, a toast only.
    replies = await user.press_data(first.message_id, first_data or "")
    assert fake.answered_callbacks[-1].text == "Already noted."
    assert replies == []
    # Another option of that earlier question is stale: a toast, and where the merchant is.
    replies = await user.press_data(first.message_id, woo_data or "")
    assert "earlier message" in (fake.answered_callbacks[-1].text or "")
    assert "Which markets do you sell to?" in (replies[-1].text or "")
    assert await state_of(db, user.user_id) == before


async def test_old_message_showing_the_current_question_still_works(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    await user.send("/start")
    old = user.last_reply()
    assert old is not None
    old_id, shopify = old.message_id, old.buttons[0][0][1] or ""
    await user.send("/start")  # a second copy of the same question
    copy = user.last_reply()
    assert copy is not None and copy.message_id != old_id
    replies = await user.press_data(old_id, shopify)
    assert "Which markets do you sell to?" in (replies[-1].text or "")
    # ...and once the merchant moved on, the copy's same button only gets a toast.
    assert await user.press_data(copy.message_id, shopify) == []
    assert fake.answered_callbacks[-1].text == "Already noted."


async def test_plan_commands_before_the_interview_is_done(user: SimulatedUser) -> None:
    await user.send("/start")
    replies = await user.send("/plan")
    assert "Let's finish your answers first" in (replies[0].text or "")
    assert "Which platform" in (replies[-1].text or "")


@pytest.mark.slow
async def test_huge_message_and_bad_shop_name(user: SimulatedUser, fake: FakeTelegram) -> None:
    profile = Profile("p", "Wix", ("Belgium",))
    await user.send("/start")
    for label in (
        "Wix",
        "⬜ Belgium",
        "Done ✓",
        "Registered company",
        "Based in my markets",
        "1–50 products",
        "We ship ourselves",
        "⬜ Ads",
        "Done ✓",
        "Not started",
    ):
        await user.press(label)
    reply = (await user.send("x" * 4096))[-1].text or ""
    assert "at most 60 characters" in reply
    reply = (await user.send("<script>alert(1)</script> & Co"))[-1].text or ""
    assert "When do you want to be selling" in reply
    reply = (await user.send("someday"))[-1].text or ""
    assert "could not read that as a date" in reply
    reply = (await user.send("2020-01-01"))[-1].text or ""
    assert "already passed" in reply
    replies = await user.send("2027-02-01")
    assert any("Your answers" in (m.text or "") for m in replies)
    assert "<script>alert(1)</script> & Co" in (replies[0].text or "")
    assert all(c.status == 200 for c in fake.calls)
    del profile


async def test_unknown_command_gets_a_hint(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    reply = (await user.send("/frobnicate"))[-1].text or ""
    assert "/plan" in reply and "/help" in reply


async def test_handler_failure_shows_an_apology_not_a_traceback(
    app: BotApp, user: SimulatedUser, fake: FakeTelegram, caplog: object
) -> None:
    services = app.bot_data.interview

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("database exploded")

    services.help = broken  # type: ignore[method-assign, assignment]
    reply = (await user.send("/help"))[-1].text or ""
    assert "Sorry, something went wrong on my side" in reply
    assert "exploded" not in reply


async def test_an_edited_message_is_answered_and_changes_nothing(
    user: SimulatedUser, db: Database
) -> None:
    # Telegram sends an edit as its own update: it gets a reply saying what to do instead,
    # and never acts, not even when the edit now reads as an answer or a command.
    await user.send("/start")
    await user.send("hello there")
    before = await state_of(db, user.user_id)
    replies = await user.edit_sent("Shopify")
    text = replies[-1].text or ""
    assert len(replies) == 1 and "edit" in text and "send it again" in text, text
    assert await state_of(db, user.user_id) == before
    await interview(user, Profile("e", "Shopify", ("United Kingdom",)))
    done = await state_of(db, user.user_id)
    text = (await user.edit_sent("/delete"))[-1].text or ""
    assert "/profile" in text and "Delete" not in text, text
    assert await state_of(db, user.user_id) == done


async def test_the_bot_asks_telegram_for_edited_messages() -> None:
    from bot.app import ALLOWED_UPDATES

    assert "edited_message" in ALLOWED_UPDATES


async def shop_name_question(user: SimulatedUser) -> None:
    await user.send("/start")
    for label in ("Wix", "⬜ Belgium", "Done ✓", "Registered company", "Based in my markets"):
        await user.press(label)
    for label in ("1–50 products", "We ship ourselves", "⬜ Ads", "Done ✓", "Not started"):
        await user.press(label)


@pytest.mark.parametrize("typed", ["\u200b", "\ufeff", "\u202e", "\x00", "\u200b \u2066 \x1b"])
async def test_a_shop_name_of_invisible_characters_is_empty(
    user: SimulatedUser, db: Database, typed: str
) -> None:
    await shop_name_question(user)
    reply = (await user.send(typed))[-1].text or ""
    assert "looks empty" in reply, reply
    answers = (await state_of(db, user.user_id))[0]
    assert isinstance(answers, dict) and "shop_name" not in answers


async def test_a_shop_name_loses_control_and_direction_characters_not_emoji(
    user: SimulatedUser, db: Database
) -> None:
    await shop_name_question(user)
    await user.send("\u202eevil\x1b[31m Shop 👩\u200d💻")
    answers = (await state_of(db, user.user_id))[0]
    assert isinstance(answers, dict)
    assert answers["shop_name"] == "evil[31m Shop 👩\u200d💻"
