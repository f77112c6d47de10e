"""Updates per second through the webhook server (serve mode) on SQLite and PostgreSQL.

An in-process aiohttp server (the real ``bot.web.create_app`` around the real Application)
listens on loopback; a local aiohttp client plays ``--chats`` merchants at once, each sending
/start and then pressing buttons through the whole interview, waiting for the bot's answer
to each update (its message reaching the Bot API) before the next: ``serve`` answers the
webhook once the update is in the inbox and handles it after that. The Bot API is
the in-memory fake (``--bot-api memory``) or the same fake served over loopback HTTP and
reached through the bot's real transport, aiohttp (``bot.botapi.transport``; ``--bot-api http``).
Reported: updates/s, latency (the POST to the bot's answer) and this process's CPU per update
(the server, the client and the fake together; PostgreSQL's server is not counted): the
steadier figure for comparing two versions of the bot on one machine.

    .venv/bin/python -m benchmarks.bench_serve                 # both databases
    .venv/bin/python -m benchmarks.bench_serve --db sqlite --chats 50 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, serve
from bot.config import Settings
from bot.content.loader import load_content
from bot.metrics import CountingRequest, Metrics
from bot.storage.db import Database
from bot.web import SECRET_HEADER, create_app, instrument

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHfakeTokenForBenchmarkOnly_0123456"
SECRET = "bench-secret"
MAX_UPDATES_PER_WALK = 40  # a walk is ~12 updates; this bounds a misbehaving one


@dataclass
class Result:
    """Timings of one run."""

    db: str
    walks: int = 0
    updates: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of this process (server, client, fake) over the walks
    latencies: list[float] = field(default_factory=list)

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        return (
            f"| {self.db} | {self.walks} | {self.updates} | {self.seconds:.2f} | "
            f"{self.updates / self.seconds:.0f} | {p50:.1f} | {p99:.1f} | {lat[-1] * 1000:.1f} |"
            f" {self.cpu / self.updates * 1000:.2f} | {self.errors} |"
        )


def next_update(fake: FakeTelegram, chat: int) -> dict[str, Any] | None:
    """The walk's next press: first option, tick-then-Done, Skip typed questions; or None."""
    last = fake.last_message(chat)
    if last is None:
        return None
    datas = [d for row in last.buttons for _, d in row if d]
    if not datas or not any(d.startswith(("1q:", "1Q:", "1S:")) for d in datas):
        return None  # the interview is over (profile and plan are on screen)
    ticked = any(label.startswith("☑") for row in last.buttons for label, _ in row)
    confirm = next((d for d in datas if d.startswith("1Q:")), None)
    choose = next((d for d in datas if d.startswith("1q:")), None)
    skip = next((d for d in datas if d.startswith("1S:")), None)
    data = confirm if confirm and ticked else choose or skip or confirm
    assert data is not None
    return fake.callback_update(chat, last.message_id, data)


class Probe(FakeTelegram):
    """The fake Bot API that also tells when the bot answered a chat (sent or edited)."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.answered: dict[int, asyncio.Event] = {}

    async def handle(
        self, token: str, method: str, params: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        status, body = await super().handle(token, method, params)
        if method.lower() in ("sendmessage", "editmessagetext") and status == 200:
            event = self.answered.get(int(str(params.get("chat_id"))))
            if event is not None:
                event.set()
        return status, body


def shows_plan(fake: FakeTelegram, chat: int) -> bool:
    """Whether the chat's last message is the plan (its steps' buttons): the walk is over."""
    last = fake.last_message(chat)
    return last is not None and any(
        (d or "").startswith("1O:") for row in last.buttons for _, d in row
    )


async def one_walk(
    http: aiohttp.ClientSession, url: str, fake: Probe, chat: int, result: Result
) -> None:
    """One merchant: /start, then every interview question, one update at a time.

    ``serve`` answers the webhook once the update is in the inbox and handles it after that,
    so an update's latency runs from the POST to the bot's answer reaching the Bot API (the
    next press needs the screen it shows). The bot may answer with more than one message: the
    walk goes on once the last one shows a question (or, at the end, the plan).
    """
    update: dict[str, Any] | None = fake.text_update(chat, "/start")
    headers = {SECRET_HEADER: SECRET}
    answered = fake.answered.setdefault(chat, asyncio.Event())
    for _ in range(MAX_UPDATES_PER_WALK):
        if update is None:
            break
        answered.clear()
        started = time.perf_counter()
        async with http.post(url, json=update, headers=headers) as response:
            await response.read()
            ok = response.status == 200
        if ok:
            try:
                await asyncio.wait_for(answered.wait(), 30)
            except TimeoutError:
                ok = False
        result.latencies.append(time.perf_counter() - started)
        result.updates += 1
        result.errors += not ok
        if not ok:
            break
        # Neither a question nor the plan on screen yet: more is coming (/start: the
        # welcome, then the first question; at the end the profile, then the plan).
        while (update := next_update(fake, chat)) is None and not shows_plan(fake, chat):
            answered.clear()
            try:
                await asyncio.wait_for(answered.wait(), 30)
            except TimeoutError:
                result.errors += 1
                break
    result.walks += 1


async def run(db_name: str, db_url: str, args: argparse.Namespace) -> Result:
    """Serve on loopback, drive ``chats`` concurrent walks ``rounds`` times, time it all."""
    fake = Probe()
    fake_server = await serve(fake) if args.bot_api == "http" else None
    extra: dict[str, Any] = {}
    if fake_server is not None:
        extra = {
            "telegram_base_url": fake_server.base_url,
            "telegram_base_file_url": fake_server.base_file_url,
        }
    settings = Settings(
        _env_file=None,
        telegram_token=TOKEN,
        database_url=db_url,
        content_dir=REPO / "content",
        # The paid ceiling (1000 msg/s), as bench_interview: the bot's own work is measured,
        # not Telegram's default 30 msg/s (on PostgreSQL shared through the database).
        send_rate=1000,
        allow_paid_broadcast=True,
        **extra,
    )
    db = Database(db_url)
    await db.upgrade()
    metrics = Metrics()
    request = FakeRequest(fake) if fake_server is None else None
    application = build_application(
        settings,
        request=CountingRequest(request, metrics.count_429) if request else None,
        content=load_content(settings.content_dir),
        db=db,
    )
    instrument(application, metrics)
    result = Result(db_name)
    async with application:
        await application.start()
        app = create_app(application, secret=SECRET, metrics=metrics, sweep_every=None)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/telegram"
        connector = aiohttp.TCPConnector(limit=args.chats)
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                started, cpu = time.perf_counter(), time.process_time()
                for round_ in range(args.rounds):
                    first = 10_000 + round_ * args.chats
                    await asyncio.gather(
                        *(
                            one_walk(http, url, fake, chat, result)
                            for chat in range(first, first + args.chats)
                        )
                    )
                result.seconds = time.perf_counter() - started
                result.cpu = time.process_time() - cpu
        finally:
            await runner.cleanup()
            await application.stop()
    await db.dispose()
    if fake_server is not None:
        await fake_server.close()
    # Handler errors (the apology path) would make the figures meaningless: count them too.
    result.errors += int(metrics.registry.get_sample_value("bot_errors_total") or 0)
    return result


def machine() -> str:
    """CPU model and count, for the record."""
    model = platform.processor() or "unknown CPU"
    with_path = Path("/proc/cpuinfo")
    if with_path.exists():
        for line in with_path.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}"


async def main_async(args: argparse.Namespace) -> None:
    """Run the chosen databases and print a markdown table."""
    results: list[Result] = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await run("SQLite", f"sqlite+aiosqlite:///{tmp}/bench.db", args))
    if args.db in ("postgres", "both"):
        from tests.pgserver import PostgresServer

        with PostgresServer() as server:
            url = await server.acreate_database("bench_serve")
            results.append(await run("PostgreSQL", url, args))
    print(f"machine: {machine()}")
    print(f"chats: {args.chats} concurrent, rounds: {args.rounds}, Bot API: {args.bot_api}")
    print(
        "| database | walks | updates | seconds | updates/s | p50 ms | p99 ms | max ms"
        " | CPU ms per update | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--chats", type=int, default=50, help="concurrent merchants")
    parser.add_argument("--rounds", type=int, default=2, help="walks per chat slot")
    parser.add_argument("--bot-api", choices=["memory", "http"], default="memory")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
