"""The webhook server in-process: secret, body checks, de-duplication, health and metrics."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.config import ConfigError, Settings
from bot.content.loader import Content
from bot.context import BotApp
from bot.metrics import CountingRequest, Metrics
from bot.modes import serve as serve_mode
from bot.storage import inbox
from bot.storage.db import Database
from bot.storage.models import Inbox, Outbox, OutboxStatus
from bot.updates import KEEP
from bot.web import MAX_BODY, SECRET_HEADER, WEBHOOK, create_app, instrument, webhook_url
from tests.conftest import Clock, make_settings
from tests.test_rawapi import count_parses

SECRET = "s3cret_Webhook-token"
CHAT = 1001
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def bot_app(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    metrics: Metrics,
) -> AsyncIterator[BotApp]:
    application = build_application(
        settings,
        request=CountingRequest(FakeRequest(fake), metrics.count_429),
        get_updates_request=FakeRequest(fake),
        content=content,
        db=db,
        clock=clock,
    )
    instrument(application, metrics)
    async with application:
        await application.start()
        yield application
        await application.stop()


@pytest.fixture
def web_app(bot_app: BotApp, metrics: Metrics, clock: Clock) -> web.Application:
    return create_app(bot_app, secret=SECRET, metrics=metrics, clock=clock, sweep_every=None)


@pytest.fixture
async def client(web_app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client


async def post(
    client: TestClient[Any, Any],
    body: Any,
    *,
    secret: str | None = SECRET,
    raw: bool = False,
    settle: bool = True,
) -> tuple[int, str]:
    """POST to the webhook; with ``settle`` (the default), also wait until the update is
    handled (the webhook answers 200 once it is in the inbox and handles it after)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body if raw else json.dumps(body)
    async with client.post("/telegram", data=data, headers=headers) as response:
        answer = response.status, await response.text()
    if settle:
        await settled(client)
    return answer


async def settled(client: TestClient[Any, Any]) -> None:
    """Wait until every update the webhook accepted is handled."""
    server = client.server
    assert isinstance(server, TestServer)
    await server.app[WEBHOOK].settled()


async def recorded_ids(db: Database) -> list[int]:
    async with db.session() as session:
        rows = await session.exec(select(Inbox.update_id))
        return sorted(rows)


async def scrape(client: TestClient[Any, Any]) -> str:
    async with client.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (fails when absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    wanted = f"{name}{{{label_text}}}" if labels else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == wanted:
            return float(value)
    raise AssertionError(f"no sample {wanted} in metrics")


# --- the webhook ---------------------------------------------------------------------------


@BOTH
async def test_good_secret_reaches_a_handler_and_replies(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database
) -> None:
    update = fake.text_update(CHAT, "/start")
    assert await post(client, update) == (200, "ok")
    replies = fake.messages(CHAT)
    assert replies, "the handler should have replied through the fake Bot API"
    assert any("1q:0:platform:shopify" in str(m.reply_markup) for m in replies)
    assert await recorded_ids(db) == [update["update_id"]]
    assert not fake.calls_to("getUpdates"), "serve mode must never poll"


async def test_a_webhook_update_is_parsed_once(
    client: TestClient[Any, Any], fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = count_parses(monkeypatch)
    update = fake.text_update(CHAT, "/help")
    assert (await post(client, update))[0] == 200
    assert "How I can help" in (fake.messages(CHAT)[-1].text or "")
    assert parsed == [update["update_id"]]


async def test_the_200_never_waits_for_the_reply_to_be_sent(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database
) -> None:
    """The webhook answers once the update is durable; the reply follows in the background
    (a connection is never held while the reply waits for the send budget)."""
    gate = asyncio.Event()
    real = fake.handle

    async def held(token: str, method: str, params: Any) -> Any:
        if method == "sendMessage":
            await gate.wait()  # the send budget (or the Bot API) is holding every reply
        return await real(token, method, params)

    fake.handle = held  # type: ignore[method-assign]
    update = fake.text_update(CHAT, "/start")
    # (old code handled the update inside the request: the POST would never return)
    assert await asyncio.wait_for(post(client, update, settle=False), 60) == (200, "ok")
    assert fake.messages(CHAT) == []  # acknowledged before any reply was sent
    assert await recorded_ids(db) == [update["update_id"]]  # ... because it is in the inbox
    gate.set()
    await settled(client)
    assert "Which platform" in (fake.messages(CHAT)[-1].text or "")


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], "ünïcode"])
async def test_missing_or_wrong_secret_is_401_and_nothing_happens(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database, secret: str | None
) -> None:
    calls = len(fake.calls)
    status, _ = await post(client, fake.text_update(CHAT, "/start"), secret=secret)
    assert status == 401
    assert fake.messages(CHAT) == []
    assert len(fake.calls) == calls
    assert await recorded_ids(db) == []


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"42", b"null"],
    ids=["broken", "empty", "bytes", "list", "string", "number", "null"],
)
async def test_a_body_that_is_not_a_json_object_is_400(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database, body: bytes
) -> None:
    assert (await post(client, body, raw=True))[0] == 400
    assert fake.messages(CHAT) == []
    assert await recorded_ids(db) == []


@pytest.mark.parametrize(
    "body",
    [
        {"message": {"text": "hi"}},
        {"update_id": "7"},
        {"update_id": True},
        {"update_id": -1},
        {"update_id": 7.5},
        {"update_id": 7, "message": "not an object"},
    ],
)
async def test_an_object_that_is_not_an_update_is_400(
    client: TestClient[Any, Any], db: Database, body: dict[str, Any]
) -> None:
    assert (await post(client, body))[0] == 400
    assert await recorded_ids(db) == []


async def test_oversized_body_is_413(client: TestClient[Any, Any], db: Database) -> None:
    big = b'{"update_id": 1, "pad": "' + b"x" * MAX_BODY + b'"}'
    assert (await post(client, big, raw=True))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while reading
        for _ in range(5):
            yield b"x" * (MAX_BODY // 4)

    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with client.post("/telegram", data=chunks(), headers=headers) as response:
        assert response.status == 413
    assert await recorded_ids(db) == []


async def test_a_body_of_exactly_one_mebibyte_is_accepted(
    client: TestClient[Any, Any], fake: FakeTelegram
) -> None:
    update = fake.my_chat_member_update(CHAT, "member")
    text = json.dumps(update)
    padded = text[:-1] + ', "pad": "' + "x" * (MAX_BODY - len(text) - 11) + '"}'
    assert len(padded.encode()) == MAX_BODY
    assert (await post(client, padded, raw=True))[0] == 200


@BOTH
async def test_duplicate_update_is_acknowledged_and_processed_once(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database
) -> None:
    update = fake.text_update(CHAT, "/start")
    assert await post(client, update) == (200, "ok")
    sent = len(fake.calls_to("sendMessage"))
    assert sent >= 1
    assert await post(client, update) == (200, "ok")
    assert len(fake.calls_to("sendMessage")) == sent
    assert await recorded_ids(db) == [update["update_id"]]
    text = await scrape(client)
    assert sample(text, "bot_webhook_rejections_total", reason="duplicate") == 1
    assert sample(text, "bot_updates_total", kind="message") == 1


@BOTH
async def test_concurrent_redeliveries_are_processed_once(
    client: TestClient[Any, Any], fake: FakeTelegram
) -> None:
    update = fake.text_update(CHAT, "/start")
    results = await asyncio.gather(*(post(client, update) for _ in range(8)))
    assert results == [(200, "ok")] * 8
    starts = [c for c in fake.calls_to("sendMessage") if "1q:0:platform" in str(c.params)]
    assert len(starts) == 1


async def test_a_failed_update_is_acknowledged_kept_and_retried(
    client: TestClient[Any, Any],
    web_app: web.Application,
    bot_app: BotApp,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
) -> None:
    """The update is in the inbox before the 200; a failure is retried, not dropped."""
    service = bot_app.bot_data.interview
    real = service.start
    failures = 0

    async def explode(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        failures += 1
        raise RuntimeError("database went away")

    service.start = explode  # type: ignore[method-assign]
    update = fake.text_update(CHAT, "/start")
    assert await post(client, update) == (200, "ok")
    assert failures == 1 and fake.messages(CHAT) == []  # no apology before the last attempt
    assert await post(client, update) == (200, "ok")  # Telegram's re-delivery: ignored
    assert failures == 1
    service.start = real  # type: ignore[method-assign]
    runner = web_app[WEBHOOK].runner
    assert await runner.sweep() == 0  # not before its retry time
    clock.now += timedelta(seconds=3)
    assert await runner.sweep() == 1
    await runner.drain()
    assert "Which platform" in (fake.messages(CHAT)[-1].text or "")
    async with db.session() as session:
        row = await session.get(Inbox, update["update_id"])
        assert row is not None and row.status == "done" and row.payload is None


async def test_old_update_ids_are_pruned(
    client: TestClient[Any, Any],
    web_app: web.Application,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
) -> None:
    old = fake.my_chat_member_update(CHAT, "member")
    new = fake.my_chat_member_update(CHAT, "member")
    start = clock.now
    clock.now = start - timedelta(days=8)
    assert (await post(client, old))[0] == 200
    clock.now = start
    assert (await post(client, new))[0] == 200
    assert await inbox.prune(db, start - KEEP) == 1
    assert await recorded_ids(db) == [new["update_id"]]


def test_webhook_url_appends_the_path_to_a_bare_origin() -> None:
    base = make_settings("sqlite+aiosqlite:///x.db", webhook_path="/hook")
    assert webhook_url(base) is None
    bare = base.model_copy(update={"webhook_url": "https://bot.example.com/"})
    assert webhook_url(bare) == "https://bot.example.com/hook"
    full = base.model_copy(update={"webhook_url": "https://bot.example.com/tg/abc"})
    assert webhook_url(full) == "https://bot.example.com/tg/abc"


@pytest.mark.parametrize("secret", [None, "has space", "x" * 257, "semi;colon"])
def test_serve_refuses_to_start_without_a_valid_secret(secret: str | None) -> None:
    settings = make_settings("sqlite+aiosqlite:///x.db", webhook_secret=secret)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        serve_mode(settings)


# --- health and metrics --------------------------------------------------------------------


async def test_healthz_ok(client: TestClient[Any, Any]) -> None:
    async with client.get("/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["content"] == "loaded"
    assert body["steps"] > 0


async def test_healthz_503_when_the_database_is_gone(
    client: TestClient[Any, Any], db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    monkeypatch.setattr(db, "engine", broken)
    try:
        async with client.get("/healthz") as response:
            assert response.status == 503
            body = await response.json()
        assert body == {**body, "status": "unavailable", "database": "unreachable"}
        text = await scrape(client)  # a broken database must not break the scrape
        assert "bot_alerts" in text
    finally:
        await broken.dispose()


@pytest.mark.slow
async def test_metrics_names_and_counts_move(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    text = await scrape(client)
    for name in (
        "bot_updates_total",
        "bot_handler_seconds_bucket",
        "bot_handler_seconds_count",
        "bot_errors_total",
        "bot_webhook_rejections_total",
        "bot_telegram_429_total",
        "bot_alerts",
    ):
        assert re.search(rf"^{name}[{{ ]", text, re.M), name
    assert sample(text, "bot_updates_total", kind="message") == 0
    assert sample(text, "bot_handler_seconds_count") == 0

    await post(client, fake.text_update(CHAT, "/start"))
    await post(client, fake.text_update(CHAT, "/start"), secret="nope")
    await post(client, b"nope", raw=True)
    last = fake.last_message(CHAT)
    assert last is not None
    await post(client, fake.callback_update(CHAT, last.message_id, "1q:0:platform:shopify"))
    await post(client, fake.my_chat_member_update(CHAT, "member"))
    # A reply that meets a 429 waits retry_after and is retried once; a second 429 fails the
    # update and the error handler runs.
    fake.fail_next("sendMessage", status=429, retry_after=1, times=2)
    await post(client, fake.text_update(CHAT, "/help"))
    async with db.session() as session:
        for key, status in [
            ("a", OutboxStatus.PENDING),
            ("b", OutboxStatus.PENDING),
            ("c", OutboxStatus.SENT),
            ("d", OutboxStatus.FAILED),
        ]:
            session.add(Outbox(merchant_id=CHAT, key=key, due_at=clock.now, status=status))

    text = await scrape(client)
    assert sample(text, "bot_updates_total", kind="message") == 2
    assert sample(text, "bot_updates_total", kind="callback_query") == 1
    assert sample(text, "bot_updates_total", kind="my_chat_member") == 1
    assert sample(text, "bot_handler_seconds_count") == 4
    assert sample(text, "bot_webhook_rejections_total", reason="secret") == 1
    assert sample(text, "bot_webhook_rejections_total", reason="json") == 1
    assert sample(text, "bot_telegram_429_total") == 2
    assert sample(text, "bot_errors_total") == 1
    assert sample(text, "bot_alerts", status="pending") == 2
    assert sample(text, "bot_alerts", status="sent") == 1
    assert sample(text, "bot_alerts", status="failed") == 1
    async with db.session() as session:
        pending = await session.exec(select(Outbox).where(col(Outbox.status) == "pending"))
        assert len(list(pending)) == 2


async def test_two_apps_in_one_process_have_separate_registries() -> None:
    first, second = Metrics(), Metrics()
    first.reject("secret")
    assert b'bot_webhook_rejections_total{reason="secret"} 1.0' in first.render()
    assert b'bot_webhook_rejections_total{reason="secret"} 0.0' in second.render()
