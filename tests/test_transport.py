"""The aiohttp Bot API transport (bot.botapi.transport) over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut

from bot.app import build_application
from bot.botapi.fake import FakeTelegram, SimulatedUser, serve
from bot.botapi.transport import AiohttpRequest
from bot.content.loader import Content
from bot.modes import StartupError, initialise
from bot.storage.db import Database
from tests.conftest import TOKEN, Clock, make_settings
from tests.pgserver import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def start_server(handler: Handler) -> tuple[str, web.AppRunner]:
    """A loopback server sending every request to ``handler``; returns its root URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}", runner


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(read_timeout=0.3, connect_timeout=1.0)
    await request.initialize()
    yield request
    await request.shutdown()


async def test_a_merchant_talks_to_the_bot_over_http(
    tmp_path: Path, content: Content, clock: Clock
) -> None:
    """The real Application with its default transport, against the fake over loopback."""
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path}/bot.db",
            telegram_base_url=server.base_url,
            telegram_base_file_url=server.base_file_url,
        )
        db = Database(settings.database_url)
        await db.upgrade()
        app = build_application(settings, content=content, db=db, clock=clock)
        async with app:
            user = SimulatedUser(app, fake, user_id=4242, first_name="Zoë & Co")
            greeting = await user.send("/start")
            assert "Hi Zoë &amp; Co!" in (greeting[0].raw_text or ""), "escaped on the way"
            assert "Which platform" in (greeting[-1].text or "")
            assert "Shopify" in greeting[-1].button_labels
            replies = await user.send("Shopify")  # form-encoded parameters, keyboard JSON
            assert replies and replies[-1].button_labels
            # Files go as multipart: the export arrives whole, with its name.
            document = (await user.send("/export"))[-1]
            assert document.document is not None
            assert str(document.document["file_name"]).endswith(".json")
            assert document.document["mime_type"] == "application/json"
            data = json.loads(document.document_bytes or b"")
            assert data["merchant"]["id"] == 4242
        await db.dispose()


@pytest.mark.slow
async def test_a_slow_answer_is_timed_out(transport: AiohttpRequest) -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    root, runner = await start_server(slow)
    try:
        with pytest.raises(TimedOut):
            await transport.post(f"{root}/bot{TOKEN}/getMe")
        # A longer per-call timeout (as getUpdates passes for long polling) is honoured.
        assert await transport.post(f"{root}/bot{TOKEN}/getMe", read_timeout=5) is True
    finally:
        await runner.cleanup()


async def test_an_unreachable_server_is_a_network_error(transport: AiohttpRequest) -> None:
    with pytest.raises(NetworkError) as caught:
        await transport.post(f"http://127.0.0.1:{free_port()}/bot{TOKEN}/getMe")
    assert "aiohttp." in str(caught.value)
    assert not isinstance(caught.value, TimedOut)


async def test_status_codes_reach_ptb_unchanged(transport: AiohttpRequest) -> None:
    async def busy(_request: web.Request) -> web.StreamResponse:
        body = {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }
        return web.json_response(body, status=429)

    root, runner = await start_server(busy)
    try:
        status, body = await transport.do_request(f"{root}/bot{TOKEN}/sendMessage", "POST")
        assert status == 429
        assert json.loads(body)["parameters"]["retry_after"] == 7
    finally:
        await runner.cleanup()


async def test_proxies_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str]] = []

    async def proxy(request: web.Request) -> web.StreamResponse:
        seen.append((request.host, request.path))
        return web.json_response({"ok": True, "result": {"via": "proxy"}})

    async def origin(_request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "result": {"via": "direct"}})

    proxy_root, proxy_runner = await start_server(proxy)
    origin_root, origin_runner = await start_server(origin)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_root)
    try:
        request = AiohttpRequest()
        await request.initialize()
        try:
            # The proxy receives the request for the real host (nothing resolves it here).
            result = await request.post(f"http://api.telegram.invalid/bot{TOKEN}/getMe")
            assert result == {"via": "proxy"}
            assert seen == [("api.telegram.invalid", f"/bot{TOKEN}/getMe")]
        finally:
            await request.shutdown()

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        request = AiohttpRequest()
        await request.initialize()
        try:
            result = await request.post(f"{origin_root}/bot{TOKEN}/getMe")
            assert result == {"via": "direct"}
            assert len(seen) == 1, "NO_PROXY hosts are reached directly"
        finally:
            await request.shutdown()
    finally:
        await proxy_runner.cleanup()
        await origin_runner.cleanup()


async def test_it_must_be_initialised_and_can_be_reopened() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        await request.initialize()
        try:
            me = await request.post(f"{server.base_url}{TOKEN}/getMe")
            assert isinstance(me, dict) and me["is_bot"] is True
        finally:
            await request.shutdown()


def test_the_pool_needs_a_connection() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AiohttpRequest(0)


async def test_a_failed_start_closes_the_transports(
    tmp_path: Path, content: Content, clock: Clock
) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/bot.db",
        telegram_base_url=f"http://127.0.0.1:{free_port()}/bot",
    )
    db = Database(settings.database_url)
    await db.upgrade()
    app = build_application(settings, content=content, db=db, clock=clock)
    with pytest.raises(StartupError, match="cannot reach Telegram"):
        await initialise(app, settings)
    # Both transports were opened by Bot.initialize and are closed again.
    with pytest.raises(RuntimeError, match="not initialized"):
        await app.bot.request.do_request("http://127.0.0.1:9/", "POST")
    await db.dispose()
