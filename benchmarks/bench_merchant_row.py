"""CPU per turn of the merchant row alone: the ORM (``get_locked`` + flush at commit) against
the turn's own path (``bot.storage.merchant_row`` in a ``Database.unit``: the read and the
write of the changed columns run by the driver; on PostgreSQL optimistic, two round trips)
against an empty unit of work. In one process, alternating, so the machine's load moves all
three alike (issue 20).

Then ``answers written``: what a typed answer writes (its merchant's row and one ``answer``
event, over 2,000 merchants) on a database at head against one with the indexes migration
0017 dropped created again, alternating; on PostgreSQL with the server's CPU too.

    python -m benchmarks.bench_merchant_row [--db postgres] [--turns 1000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from benchmarks.bench_interview import server_seconds
from bot.storage import merchant_row
from bot.storage.db import Database, get_locked
from bot.storage.models import Merchant

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def change(merchant: Merchant, i: int) -> None:
    """What a typed answer changes: last_seen, the answers, the question on screen."""
    merchant.last_seen = NOW + timedelta(seconds=i)
    merchant.answers = {**merchant.answers, "x": str(i)}
    merchant.current = "a" if i % 2 else "b"


#: How many merchants the ``answers written`` section spreads its turns over.
MERCHANTS = 2000


def merchants(count: int) -> list[Merchant]:
    """Merchants mid-interview, as the bot stores them."""
    return [
        Merchant(
            id=i,
            chat_id=i,
            first_seen=NOW,
            last_seen=NOW,
            answers={"platform": "shopify", "market": ["uk", "de"], "entity": "company"},
            path=["platform", "market", "entity"],
            current="fulfilment",
        )
        for i in range(1, count + 1)
    ]


def answer_event(merchant_id: int, i: int) -> dict[str, object]:
    """The ``answer`` event a typed answer logs (bot.services.core.Turn.log)."""
    return {
        "merchant_id": merchant_id,
        "kind": "answer",
        "at": NOW + timedelta(seconds=i),
        "data": {},
        "question": "fulfilment",
        "step": None,
        "platform": "shopify",
        "shop_status": None,
        "markets": ",uk,de,",
    }


async def measure(
    url: str,
    answers_url: str,
    old_url: str,
    turns: int,
    rounds: int,
    postmaster: int | None = None,
) -> None:
    db = Database(url)
    await db.upgrade()
    async with db.session() as session:
        session.add_all(merchants(1))

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
    await answers_written(answers_url, old_url, turns, rounds, postmaster)


async def answers_written(
    url: str, old_url: str, turns: int, rounds: int, postmaster: int | None
) -> None:
    """A typed answer's writes at head against the same with 0017's indexes back."""
    dropped = importlib.import_module("bot.storage.migrations.versions.0017_drop_unread_indexes")
    databases = {"head": Database(url), "0017's indexes": Database(old_url)}
    for name, db in databases.items():
        await db.upgrade()
        async with db.session() as session:
            session.add_all(merchants(MERCHANTS))
        if name != "head":
            async with db.engine.begin() as conn:
                for index, table, columns in dropped.DROPPED:
                    listed = ", ".join(columns)
                    await conn.execute(text(f"CREATE INDEX {index} ON {table} ({listed})"))

    def turn_on(db: Database) -> Callable[[int], Awaitable[None]]:
        async def turn(i: int) -> None:
            merchant_id = i % MERCHANTS + 1
            async with db.unit() as unit:
                stored = await merchant_row.load(unit, merchant_id, lock_key=merchant_id)
                assert stored is not None
                change(stored.merchant, i)
                await stored.write(unit, [answer_event(merchant_id, i)])

        return turn

    print(f"\nanswers written: {turns} typed answers' row + event over {MERCHANTS} merchants")
    bot: dict[str, list[float]] = {name: [] for name in databases}
    server: dict[str, list[float]] = {name: [] for name in databases}
    step = 0
    for db in databases.values():  # warm caches
        for _ in range(50):
            step += 1
            await turn_on(db)(step)
    for _ in range(rounds):
        for name, db in databases.items():
            turn = turn_on(db)
            server_before = server_seconds(postmaster) if postmaster else 0.0
            start = time.process_time()
            for _ in range(turns):
                step += 1
                await turn(step)
            bot[name].append((time.process_time() - start) / turns * 1e3)
            if postmaster:
                server[name].append((server_seconds(postmaster) - server_before) / turns * 1e3)
    for name in databases:
        shown = ", ".join(f"{x:.3f}" for x in bot[name])
        print(f"{name:18} ms CPU per answer: {shown}")
        if postmaster:
            shown = ", ".join(f"{x:.3f}" for x in server[name])
            print(f"{'':18} PostgreSQL ms:     {shown}")
    ratios = [h / o for h, o in zip(bot["head"], bot["0017's indexes"], strict=True)]
    print("head / with 0017's indexes, per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    if postmaster:
        ratios = [h / o for h, o in zip(server["head"], server["0017's indexes"], strict=True)]
        print("  PostgreSQL's CPU, per round:         " + ", ".join(f"{r:.2f}" for r in ratios))
    for db in databases.values():
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
            urls = (server.create_database(name) for name in ("merchant_row", "answers", "old"))
            asyncio.run(measure(*urls, args.turns, args.rounds, server.postmaster_pid()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        urls = (f"sqlite+aiosqlite:///{tmp}/{name}.db" for name in ("bench", "answers", "old"))
        asyncio.run(measure(*urls, args.turns, args.rounds))


if __name__ == "__main__":
    main()
