"""The bot with 100,000 merchants in its database against the bot on an empty one.

The same interview load as bench_interview (50 merchants typing 10 answers, the bot as its
own ``python -m bot run`` process polling the fake Bot API) runs twice per round: on an
empty database and on one seeded with ``--seed`` merchants (each mid-interview, with funnel
events and planned alerts, as real ones would have). Reported per round: the bot's resident
memory once ready and after the load (from ``/proc``), and median and p99 latency; the
targets are RSS growth from the seeded rows of at most 30 MB and median latency at most 1.2x
the empty database's.

    python -m benchmarks.bench_scale [--seed 100000] [--rounds 3] [--db postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from benchmarks.bench_interview import (
    ANSWERS,
    REPO,
    TOKEN,
    Probe,
    check_content,
    load,
    load_average,
    pct,
    start_process,
    stop_process,
)
from bot.botapi.fake import serve
from bot.storage.db import Database
from bot.storage.models import Event, Merchant, Outbox

EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
MERCHANTS: Table = Merchant.__table__  # type: ignore[attr-defined]
OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
FIRST_SEEDED = 1_000_000  # seeded merchant ids start here (the load uses 10,000 and up)


async def seed(url: str, merchants: int) -> float:
    """Create the schema and ``merchants`` merchants mid-interview; returns seconds taken."""
    started = time.perf_counter()
    db = Database(url)
    await db.upgrade()
    now = datetime.now(UTC)
    batch = 5_000
    for first in range(FIRST_SEEDED, FIRST_SEEDED + merchants, batch):
        ids = range(first, min(first + batch, FIRST_SEEDED + merchants))
        async with db.session() as session:
            conn = await session.connection()
            await conn.execute(insert(MERCHANTS), [merchant_row(i, now) for i in ids])
            await conn.execute(
                insert(EVENTS),
                [
                    {"merchant_id": i, "kind": kind, "at": now, "data": {}, "question": q}
                    for i in ids
                    for kind, q in (
                        ("first_contact", None),
                        ("question_shown", "platform"),
                        ("answer", "platform"),
                        ("question_shown", "market"),
                    )
                ],
            )
            await conn.execute(
                insert(OUTBOX),
                [
                    {
                        "merchant_id": i,
                        "key": key,
                        "due_at": now + timedelta(days=days),
                        "status": "pending",
                        "attempts": 0,
                        "unanswered": 0,
                    }
                    for i in ids
                    for key, days in (("deadline:7d", 30), ("deadline:1d", 36))
                ],
            )
    await db.dispose()
    return time.perf_counter() - started


def merchant_row(merchant_id: int, now: datetime) -> dict[str, Any]:
    return {
        "id": merchant_id,
        "chat_id": merchant_id,
        "language_code": "en",
        "first_seen": now - timedelta(days=merchant_id % 90),
        "last_seen": now - timedelta(days=merchant_id % 30),
        "blocked": False,
        "answers": {"platform": "shopify"},
        "path": ["platform"],
        "current": "market",
        "mode": "interview",
        "interview_version": 1,
        "alerts_on": True,
        "nudge_on": False,
        "timezone": "UTC",
    }


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(url: str, cwd: str, base: int) -> dict[str, float | list[float]]:
    fake = Probe()
    async with await serve(fake) as server:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO),
            "PTB_TIMEDELTA": "1",
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": server.base_url,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "SEND_RATE": "1000",
            "ALLOW_PAID_BROADCAST": "true",
            "HOME": str(Path.home()),  # the content check's cache (~/.cache)
        }
        await check_content(env, cwd)
        proc = await start_process(["-m", "bot", "run"], env, cwd)
        try:
            await asyncio.wait_for(fake.polled.wait(), 300)
            await asyncio.wait_for(load(fake, 50, ("/start",), base), 300)
            ready = rss_mb(proc.pid)
            elapsed, latencies = await asyncio.wait_for(load(fake, 50, ANSWERS, base), 900)
            after = rss_mb(proc.pid)
        finally:
            await stop_process(proc)
    return {"ready": ready, "after": after, "rate": 500 / elapsed, "latencies": latencies}


async def run(merchants: int, rounds: int, database: str) -> None:
    print(f"load average at start: {load_average()}; database: {database}")
    server_pg = None
    if database == "postgres":
        from tests.pgserver import PostgresServer

        server_pg = PostgresServer().start()
    rows = []
    for round_no in range(rounds):
        result = {}
        for label, count in (("empty", 0), ("seeded", merchants)):
            with tempfile.TemporaryDirectory() as tmp:
                url = (
                    server_pg.create_database(f"scale{round_no}{label}")
                    if server_pg is not None
                    else f"sqlite+aiosqlite:///{tmp}/bench.db"
                )
                took = await seed(url, count)
                if count:
                    print(f"  seeded {count} merchants in {took:.0f} s")
                result[label] = await measure(url, tmp, 10_000 + round_no * 1000)
        empty, seeded = result["empty"], result["seeded"]
        assert isinstance(empty["latencies"], list) and isinstance(seeded["latencies"], list)
        p50e, p50s = pct(empty["latencies"], 50), pct(seeded["latencies"], 50)
        row = (
            round_no + 1,
            empty["ready"],
            empty["after"],
            seeded["ready"],
            seeded["after"],
            float(seeded["after"]) - float(empty["after"]),
            p50e,
            p50s,
            p50s / p50e,
            pct(empty["latencies"], 99),
            pct(seeded["latencies"], 99),
        )
        rows.append(row)
        print(
            "run {}: RSS empty {:.1f} -> {:.1f} MB, seeded {:.1f} -> {:.1f} MB"
            " (seeded - empty after the load: {:+.1f} MB); p50 {:.0f} / {:.0f} ms"
            " (ratio {:.2f}); p99 {:.0f} / {:.0f} ms".format(*row)
        )
    if server_pg is not None:
        server_pg.stop()
    growth = statistics.median(r[5] for r in rows)
    ratio = statistics.median(r[8] for r in rows)
    print(
        f"\nmedian RSS difference {growth:+.1f} MB (target <= 30),"
        f" median latency ratio {ratio:.2f} (target <= 1.2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.seed, args.rounds, args.db))


if __name__ == "__main__":
    main()
