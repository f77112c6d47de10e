"""Real ``python -m bot serve`` processes: two instances on one PostgreSQL, logs, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from bot.botapi.fake import FakeMessage, FakeServer, FakeTelegram, serve
from bot.storage.db import Database
from bot.storage.models import Event, Inbox, InboxStatus, Merchant, StepProgress
from tests.conftest import REPO, TOKEN
from tests.pgserver import PostgresServer

pytestmark = pytest.mark.slow

SECRET = "multi_Instance-secret-42"
CHAT = 4242
# The answers the walk gives; several-answer questions tick these, then press Done.
PICK: dict[str, list[str]] = {
    "platform": ["shopify"],
    "market": ["uk", "de"],
    "uses": ["shop_tab", "live"],
}
# Questions answered by a burst: two different presses at once, one to each server.
BURSTS: dict[str, tuple[str, str]] = {
    "entity": ("company", "individual"),
    "origin": ("local", "cross_border"),
    "catalogue": ("small", "large"),
    "fulfilment": ("own", "3pl"),
    "shop_status": ("applied", "approved"),
}
SHOP_NAME = "Ann & Co Crafts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServeProcess:
    """One ``python -m bot serve`` subprocess on a loopback port."""

    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 40)


async def start_serve(
    tmp: Path, name: str, db_url: str, fake_server: FakeServer, **extra: str
) -> ServeProcess:
    """Start a serve process and wait until /healthz answers 200."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(REPO),
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=fake_server.base_url,
        TELEGRAM_BASE_FILE_URL=fake_server.base_file_url,
        DATABASE_URL=db_url,
        WEBHOOK_SECRET=SECRET,
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        PTB_TIMEDELTA="1",
    )
    env.update(extra)
    workdir = tmp / name
    workdir.mkdir(exist_ok=True)
    log = workdir / "serve.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=out,
        )
    server = ServeProcess(proc, port, log)
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"serve exited {proc.returncode}:\n{server.log_text()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{server.url}/healthz") as response:
                    if response.status == 200:
                        return server
            await asyncio.sleep(0.1)
    await server.stop()
    raise AssertionError(f"serve did not become healthy:\n{server.log_text()}")


@contextlib.asynccontextmanager
async def fake_api() -> AsyncIterator[tuple[FakeTelegram, FakeServer]]:
    fake = FakeTelegram(token=TOKEN)
    server = await serve(fake)
    try:
        yield fake, server
    finally:
        await server.close()


Post = Callable[[ServeProcess, dict[str, Any]], Awaitable[int]]


def poster(http: aiohttp.ClientSession, db_url: str) -> Post:
    """POST an update to a server and wait until it is handled: the webhook answers 200 once
    the update is in the inbox and handles it in the background."""

    async def post(server: ServeProcess, update: dict[str, Any]) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(f"{server.url}/telegram", json=update, headers=headers) as response:
            await response.read()
            status = response.status
        if status == 200:
            await until_handled(db_url, update["update_id"])
        return status

    return post


async def until_handled(db_url: str, update_id: int) -> None:
    """Wait until the inbox records the update as handled (done, or given up)."""
    db = Database(db_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            async with db.session() as session:
                row = await session.get(Inbox, update_id)
                if row is not None and row.status != InboxStatus.PENDING:
                    return
            assert time.monotonic() < deadline, f"update {update_id} was never handled"
            await asyncio.sleep(0.02)
    finally:
        await db.dispose()


def newest(fake: FakeTelegram) -> FakeMessage | None:
    """The bot's most recently *sent* message (after a burst: the loser's fresh question)."""
    return max(fake.messages(CHAT), key=lambda m: m.message_id, default=None)


def next_press(fake: FakeTelegram) -> tuple[int, str] | None:
    """The button the walk presses next on the interview message, or None when it is over."""
    last = newest(fake)
    if last is None:
        return None
    rows = last.reply_markup.get("inline_keyboard", []) if last.reply_markup else []
    buttons = [(b["text"], b.get("callback_data", "")) for row in rows for b in row]
    datas = [data for _, data in buttons]
    for label, data in buttons:
        parts = data.split(":")
        if data.startswith("1q:") and parts[3] in PICK.get(parts[2], []):
            ticked = label.startswith("☑")
            several = any(d.startswith(f"1Q:{parts[1]}:") for d in datas)
            if not several or not ticked:
                return last.message_id, data
    for data in datas:
        if data.startswith(("1Q:", "1S:")):
            return last.message_id, data
    return None


async def walk(
    fake: FakeTelegram,
    post: Post,
    servers: list[ServeProcess],
    *,
    winners: dict[str, str] | None,
) -> list[str]:
    """/start, answer every question alternating servers, mark a step done; returns the log.

    With ``winners`` None each BURSTS question gets both presses at once (one per server);
    otherwise the presses go one after the other, the given winner first (the reference).
    """
    turn = 0

    async def send(update: dict[str, Any]) -> None:
        nonlocal turn
        status = await post(servers[turn % len(servers)], update)
        assert status == 200
        turn += 1

    trail: list[str] = []
    await send(fake.text_update(CHAT, "/start"))
    for _ in range(40):
        last = newest(fake)
        assert last is not None
        datas = [d or "" for row in last.buttons for _, d in row]
        burst = next((q for q in BURSTS if any(f":{q}:" in d for d in datas)), None)
        if burst is not None:
            seq = next(d for d in datas if f":{burst}:" in d).split(":")[1]
            options: tuple[str, ...] = BURSTS[burst]
            if winners is not None:
                options = tuple(sorted(options, key=lambda o: o != winners[burst]))
            updates = [
                fake.callback_update(CHAT, last.message_id, f"1q:{seq}:{burst}:{option}")
                for option in options
            ]
            if winners is None:
                codes = await asyncio.gather(
                    *(post(servers[i % len(servers)], u) for i, u in enumerate(updates))
                )
                assert codes == [200, 200]
                turn += 2
            else:
                for update in updates:
                    await send(update)
            trail.append(f"burst {burst}")
            continue
        if "1S:8:shop_name" in datas:
            await send(fake.text_update(CHAT, SHOP_NAME))
            trail.append("typed shop name")
            continue
        press = next_press(fake)
        if press is None:
            break
        await send(fake.callback_update(CHAT, *press))
        trail.append(press[1])
    else:
        raise AssertionError("the interview did not end")
    plan = newest(fake)
    assert plan is not None
    step = next(d for row in plan.buttons for _, d in row if d and d.startswith("1O:"))
    await send(fake.callback_update(CHAT, plan.message_id, step))
    opened = newest(fake)
    assert opened is not None
    done = next(d for row in opened.buttons for _, d in row if d and d.endswith(":done"))
    await send(fake.callback_update(CHAT, opened.message_id, done))
    await send(fake.text_update(CHAT, "/profile"))
    trail += [step, done, "/profile"]
    return trail


async def merchant_state(url: str) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.session() as session:
            merchant = await session.get(Merchant, CHAT)
            assert merchant is not None
            steps = await session.exec(
                select(StepProgress.step_id, StepProgress.status).where(
                    col(StepProgress.merchant_id) == CHAT
                )
            )
            events = await session.exec(
                select(Event.kind).where(col(Event.merchant_id) == CHAT).order_by(col(Event.id))
            )
            return {
                "answers": merchant.answers,
                "path": merchant.path,
                "current": merchant.current,
                "mode": merchant.mode,
                "last_progress_set": merchant.last_progress is not None,
                "steps": sorted(steps),
                "events": list(events),
            }
    finally:
        await db.dispose()


def transcript(fake: FakeTelegram) -> list[tuple[int, list[list[tuple[str, str | None]]]]]:
    return [(m.message_id, m.buttons) for m in fake.messages(CHAT)]


async def scrape(http: aiohttp.ClientSession, server: ServeProcess) -> dict[str, float]:
    async with http.get(f"{server.url}/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def check_logs(server: ServeProcess) -> list[dict[str, Any]]:
    """Every line is one JSON object; neither the token nor the secret appears anywhere."""
    text = server.log_text()
    assert TOKEN not in text
    assert TOKEN.split(":", 1)[1] not in text
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_instances_on_one_postgres_act_as_one(
    db_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    async with fake_api() as (fake, fake_server), aiohttp.ClientSession() as http:
        post = poster(http, db_url)
        a, b = await asyncio.gather(
            start_serve(tmp_path, "a", db_url, fake_server),
            start_serve(tmp_path, "b", db_url, fake_server),
        )
        try:
            trail = await walk(fake, post, [a, b], winners=None)
            two = await merchant_state(db_url)
            metrics = [await scrape(http, a), await scrape(http, b)]
        finally:
            codes = [await a.stop(), await b.stop()]
        two_transcript = transcript(fake)
    assert codes == [0, 0]

    # In every burst exactly one of the two presses won; the other was refused as stale.
    winners = {question: two["answers"][question] for question in BURSTS}
    assert all(winners[q] in options for q, options in BURSTS.items())
    assert two["answers"] == {
        "platform": "shopify",
        "market": PICK["market"],
        "uses": PICK["uses"],
        **winners,
        "shop_name": SHOP_NAME,
        "go_live": None,
    }
    assert two["mode"] == "done"
    assert two["current"] is None
    assert len(two["steps"]) == 1
    assert two["steps"][0][1] == "done"
    assert two["events"].count("interview_done") == 1

    # Both processes handled updates, nothing failed, no update ran twice.
    for samples in metrics:
        assert samples["bot_errors_total"] == 0
        assert sum(v for k, v in samples.items() if k.startswith("bot_updates_total{")) > 3
    total = sum(s[k] for s in metrics for k in s if k.startswith("bot_updates_total{"))
    assert total == 1 + len(trail) + len(BURSTS)  # /start, the trail, a burst counts twice
    logs = check_logs(a) + check_logs(b)
    assert not [line for line in logs if line["level"] in ("ERROR", "CRITICAL")]
    assert any(line["msg"] == "stopped" for line in logs)

    # One process, one fresh database, the same updates (each burst replayed winner first).
    name = postgres_server.unique_name("reference")
    reference_url = await postgres_server.acreate_database(name)
    async with fake_api() as (fake, fake_server), aiohttp.ClientSession() as http:
        single = await start_serve(tmp_path, "single", reference_url, fake_server)
        try:
            await walk(fake, poster(http, reference_url), [single], winners=winners)
            one = await merchant_state(reference_url)
        finally:
            assert await single.stop() == 0
        one_transcript = transcript(fake)
    assert two == one
    assert two_transcript == one_transcript


@pytest.mark.slow
async def test_sigterm_finishes_the_update_in_flight(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    async with fake_api() as (fake, fake_server), aiohttp.ClientSession() as http:
        real = fake.handle
        sending = asyncio.Event()

        async def slow(token: str, method: str, params: Any) -> tuple[int, dict[str, Any]]:
            if method.lower() == "sendmessage":
                sending.set()
                await asyncio.sleep(1.0)
            return await real(token, method, params)

        fake.handle = slow  # type: ignore[method-assign]
        server = await start_serve(tmp_path, "solo", db_url, fake_server, LOG_FORMAT="text")
        try:
            in_flight = asyncio.ensure_future(
                poster(http, db_url)(server, fake.text_update(CHAT, "/start"))
            )
            await asyncio.wait_for(sending.wait(), 20)
            server.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(in_flight, 30) == 200
            # The 200 comes as soon as the update is durable (issue 13), before its reply: the
            # one SIGTERM must finish that reply and exit by itself (a second one would force).
            assert await asyncio.wait_for(server.proc.wait(), 40) == 0
        finally:
            if server.proc.returncode is None:
                server.proc.kill()
                await server.proc.wait()
        assert any("1q:0:platform" in str(m.reply_markup) for m in fake.messages(CHAT))
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"{server.url}/healthz"):
                pass
    text = server.log_text()
    assert TOKEN not in text
    assert SECRET not in text
    lines = text.strip().splitlines()
    assert "stopping" in text
    assert lines[-1].endswith("stopped")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("secret", "needle"), [(None, "WEBHOOK_SECRET is not set"), ("bad secret", "malformed")]
)
def test_serve_without_a_valid_secret_prints_one_line_and_exits_2(
    tmp_path: Path, secret: str | None, needle: str
) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), TELEGRAM_TOKEN=TOKEN)
    if secret is not None:
        env["WEBHOOK_SECRET"] = secret
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert needle in lines[0]
    assert lines[0].startswith("error: ")
    if secret:
        assert secret not in done.stderr
