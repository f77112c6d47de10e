"""Slow clients and running out of file descriptors: bounded, and never a log flood."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import bot.web
from bot.logs import ACCEPT_FLOOD, Throttle
from tests.test_ops_logs import logging_to_stderr
from tests.test_web import SECRET, bot_app, client, metrics, sample, scrape, web_app  # noqa: F401  (fixtures)  # noqa: F401  (fixtures)


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
