"""The merchant row read and written by Core in a turn (bot.storage.merchant_row, issue 20):
only the changed columns are written, JSON changed in place counts, nothing changed sends
nothing, and the merchant is in no session."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from bot.storage import merchant_row
from bot.storage.db import Database
from bot.storage.models import Merchant, Mode
from tests.test_round_trips import counting

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def seed(db: Database, merchant_id: int = 5) -> None:
    async with db.session() as session:
        session.add(
            Merchant(
                id=merchant_id,
                chat_id=merchant_id,
                first_seen=NOW,
                last_seen=NOW,
                answers={"market": ["uk"]},
                path=["platform", "market"],
                current="entity",
            )
        )


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_only_changed_columns_are_written_json_in_place_too(db: Database) -> None:
    await seed(db)
    async with db.session() as session:
        stored = await merchant_row.lock(db, await session.connection(), 5, lock_key=5)
        assert stored is not None
        merchant = stored.merchant
        assert inspect(merchant).session is None  # nothing tracks it
        assert merchant.answers == {"market": ["uk"]} and merchant.mode == Mode.INTERVIEW
        assert merchant.last_seen == NOW
        merchant.answers["market"].append("de")  # in place
        merchant.path.append("entity")
        merchant.current = None
        with counting(db) as wire:
            assert await stored.write(await session.connection())
            assert not await stored.write(await session.connection())  # sent already: nothing left
        [statement] = wire.log
        assert statement.startswith("UPDATE merchant SET answers=")
        assert "last_seen" not in statement
    async with db.session() as session:
        row = await session.get(Merchant, 5)
        assert row is not None
        assert row.answers == {"market": ["uk", "de"]}
        assert row.path == ["platform", "market", "entity"]
        assert row.current is None and row.last_seen == NOW


async def test_nothing_changed_sends_nothing(db: Database) -> None:
    await seed(db)
    async with db.session() as session:
        stored = await merchant_row.lock(db, await session.connection(), 5, lock_key=5)
        assert stored is not None
        stored.merchant.last_seen = NOW  # the same value
        stored.merchant.answers = {"market": ["uk"]}  # an equal value
        with counting(db) as wire:
            assert not await stored.write(await session.connection())
        assert wire.log == []


async def test_no_row_is_none(db: Database) -> None:
    async with db.session() as session:
        assert await merchant_row.lock(db, await session.connection(), 404, lock_key=404) is None
