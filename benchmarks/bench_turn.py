"""CPU per typed interview answer inside one process: the bot's own work, without HTTP.

The same ten typed answers as ``bench_interview`` (50 merchants, 500 updates per round) go
through the path an update takes in production (inbox accept, the Application's handlers,
the turn, the reply, inbox done) on the real Application, with the fake Bot API answering
in-process (``FakeRequest``: no sockets, no other process). In the same rounds, alternating,
the same updates go through a bare PTB Application whose one handler replies with the same
text (an echo on the same in-process transport), so the ratio between the two is read
within one run. Process CPU time (``time.process_time``) is what is compared: it moves far
less with the machine's load than wall time, which is what makes this a good A/B tool for
a change to the bot's own code (``bench_interview`` measures the real processes, over HTTP).

    python -m benchmarks.bench_turn [--db postgres] [--rounds 5] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters

from benchmarks.bench_interview import ANSWERS, REPO, TOKEN
from benchmarks.echo_bot import echo
from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.config import Settings
from bot.content.check import load_checked
from bot.content.loader import Content
from bot.context import BotApp
from bot.storage.db import Database
from bot.updates import UpdateRunner

MERCHANTS = 50


def echo_app(fake: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def walk(
    fake: FakeTelegram, handle: Callable[[dict[str, Any]], Awaitable[None]], base: int
) -> float:
    """CPU seconds per update for every merchant typing the ten answers (one chat's updates
    in order, the merchants concurrently, as in production)."""

    async def merchant(chat: int) -> None:
        for text in ANSWERS:
            await handle(fake.text_update(chat, text) | {"update_id": fake.next_update_id()})

    started = time.process_time()
    await asyncio.gather(*(merchant(base + i) for i in range(MERCHANTS)))
    return (time.process_time() - started) / (MERCHANTS * len(ANSWERS))


@dataclass(frozen=True)
class InProcess:
    """The real Application on a new database, with the fake Bot API in this process."""

    content: Content
    db: Database
    fake: FakeTelegram
    app: BotApp


@asynccontextmanager
async def in_process(database: str, name: str) -> AsyncIterator[InProcess]:
    """The bot as ``bench_turn`` and ``bench_session`` run it: the checked content, a new
    database (SQLite in a temporary folder, or ``name`` on a throwaway PostgreSQL server) at
    head, the fake Bot API reached through ``FakeRequest`` (no sockets), the paid send
    ceiling (the bot's own work is measured, not the send budget)."""
    content = load_checked(REPO / "content")
    server_pg = None
    if database == "postgres":
        from tests.pgserver import PostgresServer

        server_pg = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = (
                server_pg.create_database(name)
                if server_pg is not None
                else f"sqlite+aiosqlite:///{tmp}/bench.db"
            )
            settings = Settings.model_validate(
                {
                    "telegram_token": TOKEN,
                    "database_url": url,
                    "content_dir": REPO / "content",
                    "send_rate": 1000,
                    "allow_paid_broadcast": True,
                }
            )
            db = Database(url)
            await db.upgrade()
            fake = FakeTelegram(token=TOKEN)
            app = build_application(
                settings,
                request=FakeRequest(fake),
                get_updates_request=FakeRequest(fake),
                content=content,
                db=db,
            )
            try:
                yield InProcess(content, db, fake, app)
            finally:
                await db.dispose()
    finally:
        if server_pg is not None:
            server_pg.stop()


async def run(database: str, rounds: int, profile: Path | None) -> None:
    profiler = cProfile.Profile() if profile is not None else None
    async with in_process(database, "bench_turn") as setup:
        fake, bot = setup.fake, setup.app
        baseline = echo_app(fake)
        runner = UpdateRunner(bot)

        async def through_bot(payload: dict[str, Any]) -> None:
            for fresh in await runner.accept([payload]):
                await runner.handle(fresh)

        async def through_echo(payload: dict[str, Any]) -> None:
            await baseline.process_update(Update.de_json(payload, baseline.bot))

        async with bot, baseline:
            gc.collect()
            gc.freeze()  # as `run` and `serve` do after start-up (bot.modes.settle_heap)
            print(f"database: {database}; {MERCHANTS} merchants x {len(ANSWERS)} typed answers")
            ratios = []
            for r in range(rounds + 1):
                base = 100_000 + 1000 * r
                # Every merchant starts the interview first (not measured).
                await asyncio.gather(
                    *(through_bot(fake.text_update(base + i, "/start")) for i in range(MERCHANTS))
                )
                if profiler is not None and r == rounds:
                    profiler.enable()
                bot_cpu = await walk(fake, through_bot, base)
                if profiler is not None and r == rounds:
                    profiler.disable()
                echo_cpu = await walk(fake, through_echo, base + 500_000)
                if r == 0:
                    continue  # warm-up round: caches, prepared statements
                ratios.append(bot_cpu / echo_cpu)
                print(
                    f"round {r}: bot {bot_cpu * 1000:.3f} ms CPU per update,"
                    f" echo {echo_cpu * 1000:.3f} ms, ratio {bot_cpu / echo_cpu:.2f}"
                )
            median = statistics.median(ratios)
            print(f"median ratio bot / echo (same in-process transport): {median:.2f}")
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
        print(f"profile of the last round's bot updates: {profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(run(args.db, args.rounds, args.profile))


if __name__ == "__main__":
    main()
