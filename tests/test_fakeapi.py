"""Tests for the strict fake Telegram Bot API, through real PTB clients."""

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.botapi.fake import DEFAULT_TOKEN, FakeRequest, FakeTelegram, SimulatedUser, serve

CHAT = 4242


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns (an error under our filterwarnings) when building RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        DEFAULT_TOKEN, request=FakeRequest(fake), get_updates_request=FakeRequest(fake)
    ) as client:
        yield client


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


async def test_get_me_and_send_message(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.username == "test_bot"
    msg = await bot.send_message(
        CHAT, "<b>Hi</b> there", parse_mode="HTML", reply_markup=keyboard(("Go", "go:1"))
    )
    assert msg.text == "Hi there"
    assert msg.entities[0].type == "bold"
    stored = fake.last_message(CHAT)
    assert stored is not None
    assert stored.message_id == msg.message_id
    assert stored.raw_text == "<b>Hi</b> there"
    assert stored.buttons == [[("Go", "go:1")]]
    call = fake.calls_to("sendmessage")[0]
    assert call.status == 200
    assert call.params["chat_id"] == str(CHAT)  # what PTB puts on the wire


@pytest.mark.parametrize(
    ("text", "kwargs", "description"),
    [
        ("x" * 4097, {}, "Message is too long"),
        ("   ", {}, "Message text is empty"),
        ("<p>x</p>", {"parse_mode": "HTML"}, 'Unsupported start tag "p"'),
        ("a & b", {"parse_mode": "html"}, "Can't parse entities"),
        ("ok", {"reply_markup": keyboard(("Go", "x" * 65))}, "Button_data_invalid"),
    ],
)
async def test_send_message_rejections(
    fake: FakeTelegram, bot: Bot, text: str, kwargs: dict[str, Any], description: str
) -> None:
    with pytest.raises(BadRequest) as info:
        await bot.send_message(CHAT, text, **kwargs)
    assert description.lower() in str(info.value).lower()
    assert fake.messages(CHAT) == []
    assert fake.calls[-1].status == 400


async def test_length_limit_uses_plain_text(bot: Bot) -> None:
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")


async def test_edit_rules(fake: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(CHAT, "one", reply_markup=keyboard(("A", "a")))
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("one", CHAT, msg.message_id, reply_markup=keyboard(("A", "a")))
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("two", CHAT, 999)
    await bot.edit_message_text("two", CHAT, msg.message_id)
    stored = fake.message(CHAT, msg.message_id)
    assert stored is not None
    assert stored.edited
    assert stored.text == "two"
    assert stored.reply_markup is None  # omitting reply_markup removes the keyboard
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(CHAT, msg.message_id)
    await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=keyboard(("B", "b")))
    assert fake.last_message(CHAT).buttons == [[("B", "b")]]  # type: ignore[union-attr]


async def test_edited_older_message_is_latest(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(CHAT, "first")
    await bot.send_message(CHAT, "second")
    await bot.edit_message_text("first again", CHAT, first.message_id)
    assert fake.last_message(CHAT).text == "first again"  # type: ignore[union-attr]


async def test_blocked_chat_and_faults(fake: FakeTelegram, bot: Bot) -> None:
    fake.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    fake.unblock_chat(CHAT)
    fake.fail_next("sendMessage", status=429, retry_after=7, chat_id=CHAT)
    await bot.send_message(CHAT + 1, "other chat is unaffected")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(CHAT, "hi")
    assert info.value.retry_after == dt.timedelta(seconds=7)
    assert fake.calls[-1].response["parameters"] == {"retry_after": 7}
    fake.fail_next(status=400, description="Bad Request: chat not found", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT, "hi")


async def test_network_fault_delivered(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next_network("sendMessage", delivered=True)
    with pytest.raises(TimedOut):
        await bot.send_message(CHAT, "maybe sent")
    assert [m.text for m in fake.messages(CHAT)] == ["maybe sent"]


async def test_wrong_token_rejected(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        await Bot("999:WRONG", request=FakeRequest(fake)).get_me()
    status, body = await fake.handle(DEFAULT_TOKEN, "noSuchMethod", {})
    assert (status, body["description"]) == (404, "Not Found")
    status, body = await fake.handle(DEFAULT_TOKEN, "GETME", {})
    assert status == 200
    assert body["result"]["can_join_groups"] is True


async def test_handle_accepts_decoded_json(fake: FakeTelegram) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": ""}]]}
    status, body = await fake.handle(
        DEFAULT_TOKEN, "sendMessage", {"chat_id": CHAT, "text": "x", "reply_markup": markup}
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")
    markup["inline_keyboard"][0][0]["callback_data"] = "ok"
    status, _ = await fake.handle(
        DEFAULT_TOKEN, "sendMessage", {"chat_id": CHAT, "text": "x", "reply_markup": markup}
    )
    assert status == 200


async def test_get_updates_long_poll_wakes_on_push(fake: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    loop.call_later(0.05, fake.push_update, fake.text_update(7, "/start"))
    updates = await bot.get_updates(timeout=5)
    assert loop.time() - started < 2
    assert [u.message.text for u in updates if u.message] == ["/start"]
    assert updates[0].message is not None
    assert updates[0].message.entities[0].type == "bot_command"
    # not yet confirmed: delivered again, then confirmed by offset
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert fake.pending_updates() == []


async def test_get_updates_times_out_empty(bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()


async def test_concurrent_get_updates_conflict(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.02)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(Conflict):
        await first
    fake.push_update(fake.text_update(7, "hi"))
    assert len(await second) == 1


async def test_send_document_records_bytes(fake: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_document(
        CHAT, b"BEGIN:VCALENDAR", filename="plan.ics", caption="<i>Your plan</i>",
        parse_mode="HTML",
    )  # fmt: skip
    assert msg.document is not None
    assert msg.document.file_name == "plan.ics"
    stored = fake.last_message(CHAT)
    assert stored is not None
    assert stored.document_bytes == b"BEGIN:VCALENDAR"
    assert stored.caption == "Your plan"
    file = await bot.get_file(msg.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"BEGIN:VCALENDAR"
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_document(CHAT, b"x", filename="a.txt", caption="c" * 1025)


async def test_rate_limit_with_fake_clock(fake: FakeTelegram, bot: Bot) -> None:
    now = [100.0]
    fake.clock = lambda: now[0]
    fake.rate_limit(global_per_second=3, per_chat_per_second=1)
    await bot.send_message(1, "a")
    with pytest.raises(RetryAfter):
        await bot.send_message(1, "b")
    await bot.send_message(2, "c")
    await bot.send_message(3, "d")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "e")
    assert fake.rate_limited_count == 2
    assert fake.rate_limited_by_chat == {1: 1, 4: 1}
    now[0] += 1.01
    await bot.send_message(1, "b")
    await bot.send_message(4, "e")


async def test_commands_and_callbacks(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("start", "Start over"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Name", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    await bot.send_chat_action(CHAT, "typing")
    msg = await bot.send_message(CHAT, "pick", reply_markup=keyboard(("A", "a")))
    update = fake.callback_update(CHAT, msg.message_id, "a")
    query_id = update["callback_query"]["id"]
    await bot.answer_callback_query(query_id, "Saved", show_alert=True)
    assert fake.answered_callbacks[-1].text == "Saved"
    assert fake.answered_callbacks[-1].show_alert
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(LookupError):
        fake.callback_update(CHAT, 999, "a")


async def test_webhook_state(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict):
        await bot.get_updates(timeout=0)
    fake.push_update(fake.sticker_update(5))
    await bot.delete_webhook(drop_pending_updates=True)
    assert fake.pending_updates() == []
    assert (await bot.get_webhook_info()).url == ""


async def test_update_builders_parse_with_ptb(fake: FakeTelegram, bot: Bot) -> None:
    msg = await bot.send_message(9, "hello", reply_markup=keyboard(("A", "a")))
    for data in (
        fake.text_update(9, "/start ref_abc", first_name="Bea", language_code="es"),
        fake.sticker_update(9),
        fake.photo_update(9),
        fake.my_chat_member_update(9, "kicked"),
        fake.my_chat_member_update(9, "member"),
        fake.callback_update(9, msg.message_id, "a"),
    ):
        update = Update.de_json(json.loads(json.dumps(data)), bot)
        assert update.effective_user is not None
        assert update.effective_user.id == 9
    start = Update.de_json(fake.text_update(9, "/start ref_abc"), bot)
    assert start.message is not None
    assert start.message.parse_entities() == {start.message.entities[0]: "/start"}
    kicked = Update.de_json(fake.my_chat_member_update(9, "kicked"), bot)
    assert kicked.my_chat_member is not None
    assert kicked.my_chat_member.new_chat_member.status == "kicked"


async def test_over_http_with_default_transport(fake: FakeTelegram) -> None:
    async with await serve(fake) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        async with Bot(
            DEFAULT_TOKEN, base_url=server.base_url, base_file_url=server.base_file_url
        ) as client:
            msg = await client.send_message(CHAT, "<b>hi</b>", parse_mode="HTML",
                                            reply_markup=keyboard(("A", "a")))  # fmt: skip
            assert msg.text == "hi"
            assert fake.last_message(CHAT).buttons == [[("A", "a")]]  # type: ignore[union-attr]
            with pytest.raises(BadRequest, match="too long"):
                await client.send_message(CHAT, "x" * 5000)
            fake.block_chat(CHAT)
            with pytest.raises(Forbidden):
                await client.send_message(CHAT, "hi")
            fake.unblock_chat(CHAT)
            fake.fail_next("sendMessage", status=429, retry_after=3)
            with pytest.raises(RetryAfter):
                await client.send_message(CHAT, "hi")
            doc = await client.send_document(CHAT, b"\x00\x01data", filename="f.bin")
            assert fake.last_message(CHAT).document_bytes == b"\x00\x01data"  # type: ignore[union-attr]
            assert doc.document is not None
            file = await client.get_file(doc.document.file_id)
            assert bytes(await file.download_as_bytearray()) == b"\x00\x01data"
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, fake.push_update, fake.text_update(7, "hello"))
            updates = await client.get_updates(timeout=5)
            assert [u.message.text for u in updates if u.message] == ["hello"]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    payload = " ".join(context.args or [])
    await context.bot.send_message(
        update.effective_chat.id,
        f"<b>Welcome</b> {payload}".strip(),
        parse_mode="HTML",
        reply_markup=keyboard(("Yes", "q:yes"), ("No", "q:no")),
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Noted")
    await query.edit_message_text(f"You chose {query.data}")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("Send text please")


@pytest.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = (
        ApplicationBuilder()
        .token(DEFAULT_TOKEN)
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(~filters.TEXT, echo))
    async with application:
        yield application


async def test_simulated_user(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    user = SimulatedUser(app, fake, user_id=77, first_name="Ann")
    replies = await user.send("/start ref42")
    assert [r.text for r in replies] == ["Welcome ref42"]
    assert user.buttons() == ["Yes", "No"]
    await user.send("/start")
    mark = user.mark()
    replies = await user.press("No")
    assert [r.text for r in replies] == ["You chose q:no"]
    assert replies[0].edited
    assert user.last_text() == "You chose q:no"
    assert fake.answered_callbacks[-1].text == "Noted"
    assert user.last_callback_answer() is not None
    assert user.replies_since(mark) == replies
    # the earlier /start message still offers buttons and can be pressed
    await user.press("Yes")
    assert user.last_text() == "You chose q:yes"
    with pytest.raises(AssertionError, match="no button 'Maybe'"):
        await user.press("Maybe")
    await user.send_sticker()
    assert user.last_text() == "Send text please"
    await user.send_photo()
    assert len(fake.calls_to("sendMessage")) == 4
    await user.send("/start")
    assert "**Welcome**" in user.transcript()
    assert "[Yes]" in user.transcript()


async def test_simulated_user_blocks_bot(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    user = SimulatedUser(app, fake, user_id=78)
    await user.block_bot()
    with pytest.raises(Forbidden):
        await app.bot.send_message(78, "hello?")
    await user.unblock_bot()
    await app.bot.send_message(78, "hello")


async def test_polling_application_end_to_end(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
    await app.start()
    try:
        fake.push_update(fake.text_update(55, "/start"))
        for _ in range(200):
            if fake.messages(55):
                break
            await asyncio.sleep(0.01)
        assert [m.text for m in fake.messages(55)] == ["Welcome"]
    finally:
        await app.updater.stop()
        await app.stop()
    assert fake.pending_updates() == []
