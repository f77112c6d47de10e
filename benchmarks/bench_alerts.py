"""Alert dispatcher benchmarks: rate under Telegram's limits, capacity, claim latency, memory.

Run: ``.venv/bin/python -m benchmarks.bench_alerts`` (or ``python benchmarks/bench_alerts.py``)
Options: ``--only rate|capacity|claim|memory`` and the sizes below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import update
from telegram.request import BaseRequest, RequestData

from bot.alerts.dispatcher import Dispatcher, claim
from bot.alerts.service import AlertService
from bot.app import build_application
from bot.botapi.budget import RateBudget, make_budget
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Outbox
from tests.outbox_seed import seed_due_alerts

TOKEN = "123456789:AAHfakeTokenForTestsOnly_0123456789ab"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=10)
REPO = Path(__file__).resolve().parent.parent


class SinkRequest(BaseRequest):
    """A transport that accepts every call instantly and keeps nothing (for memory runs)."""

    count = 0

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        del method, read_timeout, write_timeout, connect_timeout, pool_timeout
        self.count += 1
        if url.endswith("/getMe"):
            result: dict[str, Any] = {"id": 123456789, "is_bot": True, "first_name": "B",
                                      "username": "b_bot"}  # fmt: skip
        else:
            chat = int((request_data.parameters if request_data else {}).get("chat_id", 1))
            result = {"message_id": self.count, "date": 0,
                      "chat": {"id": chat, "type": "private"}}  # fmt: skip
        return 200, json.dumps({"ok": True, "result": result}).encode()


def settings_for(url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_token": TOKEN,
        "database_url": url,
        "content_dir": REPO / "content",
        "deadline": DEADLINE,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def seed(db: Database, count: int, due: datetime) -> None:
    await seed_due_alerts(db, count, due, deadline=DEADLINE, chunk_size=5000)


def unlimited(app: BotApp, db: Database, service: AlertService) -> Dispatcher:
    """A dispatcher with the rate budget lifted: measures the dispatcher itself."""
    return Dispatcher(
        db, app.bot, service, RateBudget(1_000_000, per_chat_interval=0),
        clock=lambda: NOW, batch_size=500, max_in_flight=1000,
    )  # fmt: skip


async def make(url: str, request: BaseRequest) -> tuple[BotApp, Database, AlertService]:
    db = Database(url)
    await db.upgrade()
    app = build_application(settings_for(url), request=request, db=db, clock=lambda: NOW)
    await app.initialize()
    service = app.bot_data.alerts
    assert service is not None
    return app, db, service


async def close(app: BotApp, db: Database) -> None:
    await app.shutdown()
    await db.dispose()


async def bench_rate(url: str, count: int) -> None:
    fake = FakeTelegram(token=TOKEN)
    fake.rate_limit(global_per_second=30, per_chat_per_second=1)
    app, db, service = await make(url, FakeRequest(fake))
    try:
        await seed(db, count, NOW)
        budget = make_budget(30, allow_paid_broadcast=False)
        dispatcher = Dispatcher.sized(db, app.bot, service, budget, clock=lambda: NOW)
        started = time.monotonic()
        sent = await dispatcher.drain()
        elapsed = time.monotonic() - started
        ok = [c.at for c in fake.calls_to("sendMessage") if c.ok]
        rate = (len(ok) - 1) / (ok[-1] - ok[0])
        print(
            f"rate: {sent} alerts, SEND_RATE=30, fake limits 30/s + 1/s per chat: "
            f"{rate:.2f} msg/s between first and last send ({sent / elapsed:.2f} msg/s "
            f"wall incl. start-up), 429s: {fake.rate_limited_count}"
        )
    finally:
        await close(app, db)


async def bench_capacity(url: str, label: str, count: int, sink: bool) -> None:
    request: BaseRequest = SinkRequest() if sink else FakeRequest(FakeTelegram(token=TOKEN))
    app, db, service = await make(url, request)
    try:
        await seed(db, count, NOW)
        dispatcher = unlimited(app, db, service)
        started = time.monotonic()
        sent = await dispatcher.drain()
        elapsed = time.monotonic() - started
        what = "sink transport" if sink else "FakeTelegram"
        print(f"capacity {label} ({what}): {sent} alerts in {elapsed:.2f} s = "
              f"{sent / elapsed:.0f} msg/s")  # fmt: skip
    finally:
        await close(app, db)


async def bench_claim(url: str, dsn: str, rows: int, batch: int, samples: int) -> None:
    import asyncpg  # type: ignore[import-untyped]

    db = Database(url)
    await db.upgrade()
    try:
        conn = await asyncpg.connect(dsn)
        try:
            # History: 90 % sent, 5 % pending in the future, 5 % due now.
            def record(i: int) -> tuple[Any, ...]:
                if i % 20 == 0:
                    return (i, f"k{i}", NOW - timedelta(seconds=i % 3600), "pending", None)
                if i % 20 == 1:
                    return (i, f"k{i}", NOW + timedelta(days=1 + i % 30), "pending", None)
                return (i, f"k{i}", NOW - timedelta(days=1 + i % 300), "sent", NOW)

            started = time.monotonic()
            chunk = 100_000
            for start in range(0, rows, chunk):
                await conn.copy_records_to_table(
                    "outbox",
                    records=[
                        (*record(i)[:4], 0, None, None, record(i)[4], None)
                        for i in range(start, min(rows, start + chunk))
                    ],
                    columns=["merchant_id", "key", "due_at", "status", "attempts",
                             "lease_until", "lease_owner", "sent_at", "error"],
                )  # fmt: skip
            await conn.execute("ANALYZE outbox")
            print(f"claim: loaded {rows} rows in {time.monotonic() - started:.1f} s")
        finally:
            await conn.close()
        timings = []
        for _ in range(samples):
            t0 = time.perf_counter()
            got = await claim(db, "bench", NOW, timedelta(minutes=5), batch)
            timings.append((time.perf_counter() - t0) * 1000)
            assert len(got) == batch
            # Steady state: the claimed rows are sent before the next claim (not timed).
            async with db.session() as session:
                conn2 = await session.connection()
                await conn2.execute(
                    update(Outbox.__table__)  # type: ignore[arg-type]
                    .where(Outbox.__table__.c.id.in_([g.id for g in got]))  # type: ignore[attr-defined]
                    .values(status="sent", sent_at=NOW, lease_owner=None, lease_until=None)
                )
        timings.sort()
        p50 = statistics.median(timings)
        p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        print(f"claim: batch of {batch} from {rows} rows, {samples} claims: "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {timings[-1]:.2f} ms")  # fmt: skip
    finally:
        await db.dispose()


async def bench_memory(urls: list[str], counts: list[int]) -> None:
    for url, count in zip(urls, counts, strict=True):
        app, db, service = await make(url, SinkRequest())
        try:
            await seed(db, count, NOW)
            dispatcher = unlimited(app, db, service)
            tracemalloc.start()
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            started = time.monotonic()
            sent = await dispatcher.drain()
            elapsed = time.monotonic() - started
            current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"memory: drained {sent} alerts in {elapsed:.1f} s (tracemalloc on): "
                  f"peak {(peak - base) / 1e6:.1f} MB above start, "
                  f"{(current - base) / 1e6:.1f} MB retained")  # fmt: skip
        finally:
            await close(app, db)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["rate", "capacity", "claim", "memory"])
    parser.add_argument("--rate-alerts", type=int, default=1500)
    parser.add_argument("--capacity-alerts", type=int, default=20_000)
    parser.add_argument("--claim-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-alerts", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    from tests.pgserver import PostgresServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    with PostgresServer() as pg:
        step = 0

        def sqlite() -> str:
            nonlocal step
            step += 1
            return f"sqlite+aiosqlite:///{tmp}/bench{step}.db"

        def postgres() -> str:
            return pg.create_database(pg.unique_name("bench"))

        if args.only in (None, "rate"):
            await bench_rate(sqlite(), args.rate_alerts)
        if args.only in (None, "capacity"):
            for sink in (False, True):
                await bench_capacity(sqlite(), "SQLite", args.capacity_alerts, sink)
                await bench_capacity(postgres(), "PostgreSQL", args.capacity_alerts, sink)
        if args.only in (None, "claim"):
            name = pg.unique_name("claim")
            url = pg.create_database(name)
            await bench_claim(url, pg.dsn(name), args.claim_rows, 100, 500)
        if args.only in (None, "memory"):
            await bench_memory([sqlite() for _ in args.memory_alerts], args.memory_alerts)


if __name__ == "__main__":
    asyncio.run(main())
