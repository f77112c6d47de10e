"""Fuzzing: hostile or odd updates, through the real Application, never crash a handler.

Hypothesis builds sequences of updates in the shapes Telegram sends (and some it never
would: 5,000-character names and texts, 40-character language codes, forged and oversized
callback data, presses on unknown messages, groups); every one must get its normal answer,
never the apology. A second property posts arbitrary authenticated bodies to the webhook:
400 for what is not an update, never 500.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.context import BotApp
from bot.delivery import DELIVERY, Delivery
from bot.metrics import Metrics
from bot.storage.db import Database
from bot.web import SECRET_HEADER, create_app
from tests.conftest import REPO, TOKEN, make_settings
from tests.test_property import CONTENT

USERS = (1001, 1002, 2**33 + 7)
SECRET = "s3cret_Webhook"

names = st.text(min_size=1, max_size=5000)
languages = st.one_of(st.none(), st.sampled_from(["en", "de-AT", "pt-br"]), st.text(max_size=40))
texts = st.one_of(
    st.text(min_size=1, max_size=5000),
    st.sampled_from(
        [
            "/start",
            "/help",
            "/plan",
            "/next",
            "/profile",
            "/alerts",
            "/calendar",
            "/privacy",
            "/export",
            "/delete",
            "/stats",
            "Shopify",
            "uk, germany, narnia",
            "back",
            "skip",
            "99999999999999999999 1 2030",
            "01/02/2027",
            "<b>unclosed",
        ]
    ),
    st.builds(lambda payload: f"/start {payload}", st.text(max_size=80)),
)
callback_data = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"1[qQSBEPGFONMAD](:[a-z0-9_-]{0,45}){0,4}", fullmatch=True),
    st.builds(lambda n: f"1A:snooze-{n}", st.integers(min_value=0, max_value=10**30)),
    st.builds(lambda n: f"1G:{n}", st.integers(min_value=0, max_value=10**30)),
    st.builds(lambda n: f"1q:{n}:platform:shopify", st.integers(min_value=0, max_value=10**30)),
)


def _user(user_id: int, first_name: str, language: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language is not None:
        user["language_code"] = language
    return user


@st.composite
def updates(draw: st.DrawFn) -> dict[str, Any]:
    user_id = draw(st.sampled_from(USERS))
    user = _user(user_id, draw(names), draw(languages))
    group = draw(st.booleans()) and draw(st.booleans())  # a quarter from a group
    chat: dict[str, Any] = (
        {"id": -100123, "type": "supergroup", "title": "G"}
        if group
        else {"id": user_id, "type": "private", "first_name": user["first_name"]}
    )
    now = int(time.time())
    kind = draw(st.sampled_from(["text", "text", "text", "press", "press", "sticker", "member"]))
    if kind == "text":
        body = {
            "message_id": draw(st.integers(1, 10**6)),
            "from": user,
            "chat": chat,
            "date": now,
            "text": draw(texts),
        }
        return {"message": body}
    if kind == "sticker":
        sticker = {
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        }
        return {
            "message": {
                "message_id": 9,
                "from": user,
                "chat": chat,
                "date": now,
                "sticker": sticker,
            }
        }
    if kind == "member":
        status = draw(st.sampled_from(["member", "kicked", "left"]))
        bot = {"id": 123456789, "is_bot": True, "first_name": "Bot"}
        new: dict[str, Any] = {"user": bot, "status": status}
        if status == "kicked":
            new["until_date"] = 0
        return {
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": now,
                "old_chat_member": {"user": bot, "status": "left"},
                "new_chat_member": new,
            }
        }
    message = {
        "message_id": draw(st.integers(1, 50)),
        "from": {"id": 123456789, "is_bot": True, "first_name": "Bot"},
        "chat": chat,
        "date": now,
        "text": "earlier",
    }
    return {
        "callback_query": {
            "id": f"q{draw(st.integers(0, 10**9))}",
            "from": user,
            "message": message,
            "chat_instance": "ci",
            "data": draw(callback_data),
        }
    }


@asynccontextmanager
async def fuzz_app() -> AsyncIterator[BotApp]:
    """The real Application on a throwaway SQLite file and the fake Bot API, initialised."""
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{Path(tmp) / 'fuzz.db'}"
        db = Database(db_url)
        await db.upgrade()
        fake = FakeTelegram(token=TOKEN)
        app = build_application(
            make_settings(db_url),
            request=FakeRequest(fake),
            get_updates_request=FakeRequest(fake),
            content=CONTENT,
            db=db,
        )
        try:
            async with app:
                yield app
        finally:
            await db.dispose()


async def _run(batch: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    failures: list[tuple[dict[str, Any], str | None]] = []
    async with fuzz_app() as app:
        for number, data in enumerate(batch, start=1):
            data = {"update_id": number, **data}
            delivery = Delivery()
            token = DELIVERY.set(delivery)
            try:
                await app.process_update(Update.de_json(data, app.bot))
            finally:
                DELIVERY.reset(token)
            if delivery.failed:
                failures.append((data, delivery.error))
    return failures


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=st.lists(updates(), min_size=30, max_size=40))
def test_no_update_shape_crashes_a_handler(batch: list[dict[str, Any]]) -> None:
    failures = asyncio.run(_run(batch))
    assert failures == [], failures[:3]


leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
nested = st.one_of(
    leaves,
    st.lists(leaves, max_size=4),
    st.dictionaries(st.text(max_size=12), leaves, max_size=4),
)
bodies = st.one_of(
    nested,
    st.lists(nested, max_size=3),
    st.dictionaries(st.text(max_size=12), nested, max_size=4),
)
shaped = st.fixed_dictionaries(
    {"update_id": st.integers(min_value=-5, max_value=2**40)},
    optional={
        "message": bodies,
        "callback_query": bodies,
        "my_chat_member": bodies,
        "edited_message": bodies,
    },
)


async def _post_all(payloads: list[Any]) -> list[int]:
    statuses = []
    async with fuzz_app() as app:
        await app.start()
        web_app = create_app(app, secret=SECRET, metrics=Metrics(), sweep_every=None)
        async with TestClient(TestServer(web_app)) as client:
            for payload in payloads:
                async with client.post(
                    "/telegram",
                    data=json.dumps(payload),
                    headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
                ) as response:
                    statuses.append(response.status)
        await app.stop()
    return statuses


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(st.one_of(bodies, shaped), min_size=20, max_size=30))
def test_authenticated_garbage_is_400_never_500(payloads: list[Any]) -> None:
    statuses = asyncio.run(_post_all(payloads))
    assert set(statuses) <= {200, 400}, statuses


def test_the_fuzzer_reaches_the_handlers() -> None:
    """A plain /start through the same path is answered (the harness itself works)."""
    batch = [
        {
            "message": {
                "message_id": 1,
                "from": _user(1001, "Ann", "en"),
                "chat": {"id": 1001, "type": "private"},
                "date": 0,
                "text": "/start",
            }
        }
    ]
    assert asyncio.run(_run(batch)) == []
    assert REPO.exists()
