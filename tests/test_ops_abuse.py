"""Slow clients and running out of file descriptors: bounded, and never a log flood."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import bot.web
from bot.logs import ACCEPT_FLOOD, Throttle
from tests.test_modes_processes import wait_for
from tests.test_ops_logs import logging_to_stderr
from tests.test_web import SECRET, bot_app, client, metrics, sample, scrape, web_app  # noqa: F401  (fixtures)


def test_out_of_descriptors_is_not_a_log_flood(capsys: pytest.CaptureFixture[str]) -> None:
    with logging_to_stderr():
        for _ in range(1000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logging.getLogger("asyncio").error(ACCEPT_FLOOD, exc_info=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and ACCEPT_FLOOD in lines[0]


def test_the_throttle_says_how_many_it_held_back() -> None:
    now = [0.0]
    throttle = Throttle(ACCEPT_FLOOD, every=60, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, ACCEPT_FLOOD, None, None)

    assert throttle.filter(record())
    assert not any(throttle.filter(record()) for _ in range(5))
    now[0] = 61
    again = record()
    assert throttle.filter(again) and "6 times since the last such line" in again.getMessage()


async def test_a_slow_body_gets_408_not_a_held_connection(
    client: TestClient[Any, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.web, "BODY_TIMEOUT", 0.2)
    assert client.host and client.port
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        (
            "POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: 100\r\n\r\n"
            '{"update_id": 1'
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408"), status_line
    assert sample(await scrape(client), "bot_webhook_rejections_total", reason="slow") == 1


async def test_connections_beyond_max_connections_are_turned_away(
    web_app: Any,  # noqa: F811
) -> None:
    """MAX_CONNECTIONS idle connections are held; the next one gets 503 at once; a freed
    slot serves requests again (counts, not timings)."""
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    site = bot.web.CappedSite(runner, "127.0.0.1", 0, max_connections=3)
    await site.start()
    port = site.port
    try:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        for _reader, writer in idle:  # half a request: each holds a connection
            writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        refused = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        assert refused.startswith(b"HTTP/1.1 503"), refused
        assert site.refused == 1
        _, first = idle.pop()
        first.close()
        await first.wait_closed()
        await wait_for(lambda: site.open_connections == 2)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/livez") as response,
        ):
            assert response.status == 200
        for _, writer in idle:
            writer.close()
    finally:
        await runner.cleanup()


def test_max_connections_is_a_setting() -> None:
    from tests.conftest import make_settings

    assert make_settings("sqlite+aiosqlite://", max_connections=50).max_connections == 50
    assert make_settings("sqlite+aiosqlite://").max_connections == 1000


@pytest.mark.slow
async def test_twenty_identical_commands_at_once_get_one_answer(
    client: TestClient[Any, Any],  # noqa: F811
    fake: Any,
    db: Any,
) -> None:
    """One chat sends /help 20 times at once (fake enforcing 30/s and 1/s per chat): one
    reply, every update recorded as handled, no 429; another chat is answered as usual."""
    from tests.test_web import post

    fake.rate_limit(global_per_second=30, per_chat_per_second=1)
    flood = [fake.text_update(777, "/help") for _ in range(20)]
    other = fake.text_update(888, "/help")
    answers = await asyncio.gather(*(post(client, update) for update in [*flood, other]))
    assert [status for status, _ in answers] == [200] * 21
    assert len(fake.messages(777)) == 1
    assert len(fake.messages(888)) == 1
    assert fake.rate_limited_count == 0
    from bot.storage import inbox

    assert await inbox.pending(db) == 0
    assert sample(await scrape(client), "bot_updates_coalesced_total") == 19
    # A button press or an answer is never coalesced; the same command later is answered.
    later = fake.text_update(777, "/help")
    later["message"]["date"] += 60
    assert (await post(client, later))[0] == 200
    assert len(fake.messages(777)) == 2
