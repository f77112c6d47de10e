"""Bot API calls without PTB objects built from the responses (bot.botapi.raw).

An update is parsed once, when it is handled; replies reach Telegram exactly as PTB's
``send_message``/``edit_message_text`` sent them, through the same rate limiter, and fail
with the same PTB exceptions. These tests also pin the private PTB function the raw calls
rest on (``Bot._post``): they fail if a PTB upgrade changes it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel import select
from telegram import Bot, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from bot.botapi import raw
from bot.botapi.budget import RateBudget
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.botapi.markup import keyboard, markup
from bot.context import BotApp
from bot.storage.models import Inbox
from bot.updates import POLL_TIMEOUT, UpdateRunner
from bot.views.model import Button, Screen
from tests.conftest import Clock

CHAT = 4242
SCREEN = Screen(
    "<b>Where</b> do you sell? https://example.com",
    keyboard=(
        (Button("Shopify", data="a:1"), Button("Etsy", data="a:2")),
        (Button("Help", url="https://example.com/help"),),
    ),
)


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count ``Update.de_json`` calls (by update id) from here on."""
    parsed: list[int] = []
    original = Update.de_json

    def de_json(cls: type[Update], data: dict[str, Any], bot: Bot | None = None) -> Update:
        parsed.append(int(data["update_id"]))
        return original(data, bot)

    monkeypatch.setattr(Update, "de_json", classmethod(de_json))
    return parsed


async def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 100)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting")


async def test_a_polled_update_is_parsed_once_and_offsets_move_past_it(
    app: BotApp, fake: FakeTelegram, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = count_parses(monkeypatch)
    runner = UpdateRunner(app, clock=clock)
    stop = asyncio.Event()
    polling = asyncio.ensure_future(runner.poll(stop, ["message", "callback_query"]))
    try:
        first = fake.push_update(fake.text_update(CHAT, "/help"))
        await wait_until(lambda: bool(fake.messages(CHAT)))
        second = fake.push_update(fake.text_update(CHAT, "/start"))
        await wait_until(lambda: len(fake.messages(CHAT)) >= 2)
        # The next poll acknowledges the second update (its offset moves past it).
        await wait_until(lambda: not fake.pending_updates())
    finally:
        stop.set()
        await polling
        await runner.drain()
    assert parsed == [first["update_id"], second["update_id"]]  # once each, when handled
    assert "How I can help" in (fake.messages(CHAT)[0].text or "")
    # The webhook is cleared once, before the first poll.
    methods = [c.method for c in fake.calls if c.method in ("deleteWebhook", "getUpdates")]
    assert methods[:2] == ["deleteWebhook", "getUpdates"] and methods.count("deleteWebhook") == 1
    assert fake.calls_to("deleteWebhook")[0].params.get("drop_pending_updates") in ("false", False)
    polls = [c.params for c in fake.calls_to("getUpdates")]
    assert all(str(p["timeout"]) == str(POLL_TIMEOUT) for p in polls)
    assert all(p["allowed_updates"] in ('["message", "callback_query"]',) for p in polls)
    assert "offset" not in polls[0]  # nothing to acknowledge before the first answer
    assert int(polls[1]["offset"]) == first["update_id"] + 1


async def test_replies_and_edits_are_not_parsed_into_ptb_objects(
    user: SimulatedUser, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the incoming updates' messages become PTB ``Message`` objects: the sent and
    edited messages Telegram returns are not read, so they are not built."""
    parsed: list[bool] = []  # one per Message built: True when the bot sent it
    original = Message.de_json

    def de_json(cls: type[Message], data: dict[str, Any], bot: Bot | None = None) -> Message:
        parsed.append(bool(data.get("from", {}).get("is_bot")))
        return original(data, bot)

    monkeypatch.setattr(Message, "de_json", classmethod(de_json))
    await user.send("/start")
    assert parsed == [False] and fake.messages(user.user_id)  # the /start message only
    parsed.clear()
    edits = len(fake.calls_to("editMessageText"))
    await user.press("Shopify")
    assert len(fake.calls_to("editMessageText")) > edits  # the press edited the question
    assert parsed == [True]  # the pressed message, inside the callback update only


@pytest.mark.slow  # the poll waits 1 s before trying again
async def test_polling_waits_out_a_failed_poll_and_keeps_the_offset(
    app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock)
    fake.fail_next("getUpdates", status=502, times=1)
    update = fake.push_update(fake.text_update(CHAT, "/help"))
    stop = asyncio.Event()
    polling = asyncio.ensure_future(runner.poll(stop, ["message"]))
    try:
        await wait_until(lambda: bool(fake.messages(CHAT)))
    finally:
        stop.set()
        await polling
        await runner.drain()
    [failed, delivered, *_] = fake.calls_to("getUpdates")
    assert failed.status == 502 and delivered.ok
    assert update in delivered.response["result"]


async def test_get_updates_passes_the_long_poll_and_its_read_timeout(
    app: BotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    async def post(bot: Any, method: str, params: dict[str, Any], **timeouts: Any) -> Any:
        seen.append({"method": method, **params, **timeouts})
        return []

    monkeypatch.setattr(raw, "post", post)
    await raw.get_updates(app.bot, offset=7, long_poll=10, read_timeout=25, allowed_updates=["x"])
    assert seen == [
        {
            "method": "getUpdates",
            "offset": 7,
            "timeout": 10,
            "allowed_updates": ["x"],
            "read_timeout": 25,
        }
    ]


async def test_a_reply_reaches_telegram_as_ptb_sent_it(app: BotApp, fake: FakeTelegram) -> None:
    await app.bot.send_message(CHAT, SCREEN.text, reply_markup=markup(SCREEN))
    sent = await raw.send_text(app.bot, CHAT, SCREEN)
    by_ptb, by_raw = (c.params for c in fake.calls_to("sendMessage"))
    assert by_raw == by_ptb
    assert by_raw["parse_mode"] == "HTML"  # the Application's Defaults
    assert "is_disabled" in by_raw["link_preview_options"]
    assert sent["message_id"] == fake.messages(CHAT)[-1].message_id
    assert fake.messages(CHAT)[-1].button_labels == ["Shopify", "Etsy", "Help"]
    # Without a keyboard, too.
    plain = Screen("just text")
    await app.bot.send_message(CHAT, plain.text, reply_markup=markup(plain))
    await raw.send_text(app.bot, CHAT, plain)
    by_ptb, by_raw = (c.params for c in fake.calls_to("sendMessage")[2:])
    assert by_raw == by_ptb and "reply_markup" not in by_raw


async def test_an_edit_reaches_telegram_as_ptb_sent_it(app: BotApp, fake: FakeTelegram) -> None:
    sent = await raw.send_text(app.bot, CHAT, Screen("first"))
    other = Screen("second", keyboard=((Button("B", data="b"),),))
    await app.bot.edit_message_text(
        SCREEN.text, chat_id=CHAT, message_id=sent["message_id"], reply_markup=markup(SCREEN)
    )
    await raw.edit_text(app.bot, CHAT, sent["message_id"], other)
    await raw.edit_text(app.bot, CHAT, sent["message_id"], SCREEN)
    by_ptb, _, by_raw = (c.params for c in fake.calls_to("editMessageText"))
    assert by_raw == by_ptb
    assert by_raw["parse_mode"] == "HTML"
    assert fake.messages(CHAT)[-1].button_labels == ["Shopify", "Etsy", "Help"]


def test_the_raw_keyboard_is_ptbs_json() -> None:
    built = markup(SCREEN)
    assert built is not None
    assert keyboard(SCREEN) == built.to_dict()
    assert keyboard(Screen("no buttons")) is None


Call = Callable[[BotApp], Awaitable[Any]]


async def ptb_send(app: BotApp) -> Any:
    return await app.bot.send_message(CHAT, SCREEN.text, reply_markup=markup(SCREEN))


async def raw_send(app: BotApp) -> Any:
    return await raw.send_text(app.bot, CHAT, SCREEN)


@pytest.mark.parametrize("send", [ptb_send, raw_send], ids=["ptb", "raw"])
@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (
            {"status": 403, "description": "Forbidden: bot was blocked by the user"},
            Forbidden,
            "blocked",
        ),
        ({"status": 400, "description": "Bad Request: chat not found"}, BadRequest, "not found"),
        ({"status": 429, "retry_after": 3, "times": 2}, RetryAfter, "3"),
        ({"status": 502}, NetworkError, "Bad Gateway"),
    ],
    ids=["blocked", "bad-request", "429", "502"],
)
async def test_a_failed_reply_raises_what_ptb_raised(
    app: BotApp,
    fake: FakeTelegram,
    send: Call,
    fault: dict[str, Any],
    error: type[TelegramError],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budget: RateBudget = app.bot.rate_limiter.budget
    penalties: list[float] = []
    monkeypatch.setattr(budget, "penalise", penalties.append)
    fake.fail_next("sendMessage", **fault)
    with pytest.raises(error, match=message):
        await send(app)
    if error is RetryAfter:  # through the rate limiter: paused, retried once, then raised
        assert penalties == [3.0, 3.0]
        assert len(fake.calls_to("sendMessage")) == 2


@pytest.mark.parametrize("timed_out", [True, False])
async def test_a_network_failure_raises_what_ptb_raised(
    app: BotApp, fake: FakeTelegram, timed_out: bool
) -> None:
    for send in (ptb_send, raw_send):
        fake.fail_next_network("sendMessage", timed_out=timed_out)
        with pytest.raises(TimedOut if timed_out else NetworkError) as caught:
            await send(app)
        assert isinstance(caught.value, TimedOut) is timed_out


async def test_an_unchanged_edit_is_not_modified_for_both(app: BotApp, fake: FakeTelegram) -> None:
    sent = await raw.send_text(app.bot, CHAT, SCREEN)
    with pytest.raises(BadRequest, match="not modified"):
        await raw.edit_text(app.bot, CHAT, sent["message_id"], SCREEN)
    with pytest.raises(BadRequest, match="not modified"):
        await app.bot.edit_message_text(
            SCREEN.text, chat_id=CHAT, message_id=sent["message_id"], reply_markup=markup(SCREEN)
        )


def test_the_private_ptb_function_is_what_raw_relies_on() -> None:
    """``Bot._post(endpoint, data, *, read_timeout, ..., api_kwargs)``: if PTB renames or
    reshapes it, this fails before anything is sent the wrong way."""
    parameters = inspect.signature(Bot._post).parameters
    assert list(parameters)[:3] == ["self", "endpoint", "data"]
    for name in ("read_timeout", "write_timeout", "connect_timeout", "pool_timeout"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.iscoroutinefunction(Bot._post)


class Recording(BaseRequest):
    """A Bot API transport that keeps each request's body and answers with a sent message."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        assert request_data is not None and not request_data.contains_files
        self.bodies.append(request_data.json_payload)
        message = {"message_id": 7, "date": 1, "chat": {"id": CHAT, "type": "private"}}
        return 200, json.dumps({"ok": True, "result": message}).encode()


WORDY = Screen(
    '<b>Wo</b> verkaufen Sie? « Zurück » — 🇬🇧 "quoted" \\ https://example.com',
    keyboard=(
        (Button("« Zurück", data="1b:2"), Button("🇩🇪 Deutschland", data="1q:2:market:de")),
        (Button('Hilfe "?"', url="https://example.com/help?a=1&b=2"),),
    ),
)


@pytest.mark.parametrize(
    "screen", [SCREEN, WORDY, Screen("just text")], ids=["ascii", "wordy", "plain"]
)
async def test_replies_and_edits_send_the_bytes_ptb_sends(app: BotApp, screen: Screen) -> None:
    """The request body (what Telegram parses), not only the values the fake reads from it."""
    recording = Recording()
    bot: ExtBot[None] = ExtBot(
        app.bot.token,
        request=recording,
        get_updates_request=Recording(),
        defaults=app.bot.defaults,
        rate_limiter=app.bot.rate_limiter,
    )
    await raw.send_text(bot, CHAT, screen)
    await bot.send_message(CHAT, screen.text, reply_markup=markup(screen))
    await raw.edit_text(bot, CHAT, 7, screen)
    await bot.edit_message_text(
        screen.text, chat_id=CHAT, message_id=7, reply_markup=markup(screen)
    )
    # Each parameter as the text Telegram parses (the keyboard and the link preview
    # options are JSON inside the JSON body): equal as text, not only as parsed values.
    # Only the order of the parameters in the body may differ.
    by_raw, by_ptb, edit_raw, edit_ptb = (json.loads(body) for body in recording.bodies)
    assert by_raw == by_ptb
    assert edit_raw == edit_ptb
    assert by_raw["parse_mode"] == "HTML"
    assert ("reply_markup" in by_raw) == bool(screen.keyboard)


async def test_the_next_batch_is_asked_for_before_this_one_is_handled(
    app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    """The next getUpdates is waiting at Telegram while a batch is handled (issue 20: asked
    for only after the batch's turns had run, updates waited 23 ms at the fake under
    bench_interview, against 6 ms with PTB's own polling, and the bot sat idle while the
    fake answered the batch's replies before that call). It goes out once the batch is in
    the inbox: its offset acknowledges the batch."""
    runner = UpdateRunner(app, clock=clock)
    batch = [fake.push_update(fake.text_update(CHAT + i, "/help")) for i in range(3)]
    stop = asyncio.Event()
    polling = asyncio.ensure_future(runner.poll(stop, ["message"]))
    try:
        await wait_until(lambda: all(fake.messages(CHAT + i) for i in range(3)))
        fake.push_update(fake.text_update(CHAT + 3, "/help"))  # the waiting call returns it
        await wait_until(lambda: bool(fake.messages(CHAT + 3)))
    finally:
        stop.set()
        await polling
        await runner.drain()
    started = sorted(
        (c for c in fake.calls if c.method in ("getUpdates", "sendMessage")), key=lambda c: c.at
    )
    methods = [c.method for c in started]
    assert methods[: methods.index("sendMessage")] == ["getUpdates", "getUpdates"], methods
    assert int(started[1].params["offset"]) == batch[-1]["update_id"] + 1
    async with app.bot_data.db.session() as session:  # every update of the batch recorded
        rows = (await session.exec(select(Inbox))).all()
    assert {u["update_id"] for u in batch} <= {row.update_id for row in rows}
