"""CPU per turn of the merchant row alone: the ORM (``get_locked`` + flush at commit) against
the turn's own path (``bot.storage.merchant_row`` in a ``Database.unit``: the read and the
write of the changed columns run by the driver; on PostgreSQL optimistic, two round trips)
against an empty unit of work. In one process, alternating, so the machine's load moves all
three alike (issue 20).

    python -m benchmarks.bench_merchant_row [--db postgres] [--turns 1000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.storage import merchant_row
from bot.storage.db import Database, get_locked
from bot.storage.models import Merchant

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def change(merchant: Merchant, i: int) -> None:
    """What a typed answer changes: last_seen, the answers, the question on screen."""
    merchant.last_seen = NOW + timedelta(seconds=i)
    merchant.answers = {**merchant.answers, "x": str(i)}
    merchant.current = "a" if i % 2 else "b"


async def measure(url: str, turns: int, rounds: int) -> None:
    db = Database(url)
    await db.upgrade()
    async with db.session() as session:
        session.add(
            Merchant(
                id=1,
                chat_id=1,
                first_seen=NOW,
                last_seen=NOW,
                answers={"platform": "shopify", "market": ["uk", "de"], "entity": "company"},
                path=["platform", "market", "entity"],
                current="fulfilment",
            )
        )

    async def orm(i: int) -> None:
        async with db.session() as session:
            merchant = await get_locked(session, Merchant, 1, lock_key=1)
            assert merchant is not None
            change(merchant, i)

    async def turn_path(i: int) -> None:
        async with db.unit() as unit:
            stored = await merchant_row.load(unit, 1, lock_key=1)
            assert stored is not None
            change(stored.merchant, i)
            await stored.write(unit)

    async def empty(_i: int) -> None:
        async with db.unit():
            pass

    kinds: dict[str, Callable[[int], Awaitable[None]]] = {
        "ORM": orm,
        "turn (direct)": turn_path,
        "empty unit": empty,
    }
    for turn in kinds.values():  # warm caches
        for i in range(50):
            await turn(i)
    results: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, turn in kinds.items():
            start = time.process_time()
            for i in range(turns):
                await turn(i)
            results[name].append((time.process_time() - start) / turns * 1e3)
    for name, figures in results.items():
        shown = ", ".join(f"{x:.3f}" for x in figures)
        print(f"{name:18} ms CPU per turn: {shown}  (min {min(figures):.3f})")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if args.db == "postgres":
        from tests.pgserver import PostgresServer

        with PostgresServer() as server:
            asyncio.run(measure(server.create_database("merchant_row"), args.turns, args.rounds))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/bench.db", args.turns, args.rounds))


if __name__ == "__main__":
    main()
