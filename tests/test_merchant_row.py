"""The merchant row read and written in a turn (bot.storage.merchant_row, issue 20): only the
changed columns are written, JSON changed in place counts, nothing changed sends nothing, the
merchant is in no session, the events go with the row, and on PostgreSQL a row changed since
it was read is a Conflict that writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlmodel import col, select

from benchmarks.wire import counting
from bot.storage import merchant_row
from bot.storage.db import Database
from bot.storage.models import Event, Merchant, Mode

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
async def test_changed_columns_are_written_json_in_place_too(db: Database) -> None:
    """SQLite sends the changed columns; PostgreSQL the whole row, one statement text
    whatever changed (asyncpg prepares each text on every pooled connection)."""
    await seed(db)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 5, lock_key=5)
        assert stored is not None
        merchant = stored.merchant
        assert inspect(merchant).session is None  # nothing tracks it
        assert merchant.answers == {"market": ["uk"]} and merchant.mode == Mode.INTERVIEW
        assert merchant.last_seen == NOW
        merchant.answers["market"].append("de")  # in place
        merchant.path.append("entity")
        merchant.current = None
        with counting(db) as wire:
            await stored.write(unit)
            await stored.write(unit)  # sent already: nothing left
        [statement] = wire.log
        if db.is_postgres:
            assert "UPDATE merchant SET chat_id=" in statement
        else:
            assert "UPDATE merchant SET answers=" in statement
            assert "last_seen" not in statement
    async with db.session() as session:
        row = await session.get(Merchant, 5)
        assert row is not None
        assert row.answers == {"market": ["uk", "de"]}
        assert row.path == ["platform", "market", "entity"]
        assert row.current is None and row.last_seen == NOW


async def test_nothing_changed_sends_nothing(db: Database) -> None:
    await seed(db)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 5, lock_key=5)
        assert stored is not None
        stored.merchant.last_seen = NOW  # the same value
        stored.merchant.answers = {"market": ["uk"]}  # an equal value
        with counting(db) as wire:
            await stored.write(unit)
        assert wire.log == []


async def test_no_row_is_none(db: Database) -> None:
    async with db.unit() as unit:
        assert await merchant_row.load(unit, 404, lock_key=404) is None


def event_row(kind: str) -> dict[str, object]:
    return {
        "merchant_id": 5,
        "kind": kind,
        "at": NOW,
        "data": {"n": 1},
        "question": "market",
        "step": None,
        "platform": "shopify",
        "shop_status": None,
        "markets": ",uk,",
    }


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_the_changes_and_the_events_are_written_together(db: Database) -> None:
    """PostgreSQL: one statement (the UPDATE and the events' INSERT); SQLite: two."""
    await seed(db)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 5, lock_key=5)
        assert stored is not None
        stored.merchant.current = "fulfilment"
        with counting(db) as wire:
            await stored.write(unit, [event_row("answer"), event_row("question_shown")])
        assert len(wire.log) == (1 if db.is_postgres else 2), wire.log
    async with db.session() as session:
        events = (await session.exec(select(Event).order_by(col(Event.id)))).all()
        assert [e.kind for e in events] == ["answer", "question_shown"]
        assert all(e.data == {"n": 1} and e.at == NOW and e.markets == ",uk," for e in events)
        merchant = await session.get(Merchant, 5)
        assert merchant is not None and merchant.current == "fulfilment"


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_row_changed_since_it_was_read_is_a_conflict_and_nothing_is_written(
    db: Database,
) -> None:
    """Optimistic on PostgreSQL: two turns read the same merchant; the first to write wins,
    the second writes nothing (neither the row nor its events) and raises Conflict."""
    await seed(db)
    async with db.unit() as first, db.unit() as second:
        a = await merchant_row.load(first, 5, lock_key=5)
        b = await merchant_row.load(second, 5, lock_key=5)
        assert a is not None and b is not None
        a.merchant.current = "fulfilment"
        b.merchant.current = "catalogue"
        await a.write(first, [event_row("answer")])
        with pytest.raises(merchant_row.Conflict):
            await b.write(second, [event_row("lost")])
    async with db.session() as session:
        merchant = await session.get(Merchant, 5)
        assert merchant is not None and merchant.current == "fulfilment"
        kinds = (await session.exec(select(Event.kind))).all()
        assert kinds == ["answer"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_turn_may_write_twice_its_own_change_is_no_conflict(db: Database) -> None:
    """The version read back from the first write is the one the second checks (a turn that
    writes the merchant early, before reading it back by SQL, and again at its end)."""
    await seed(db)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 5, lock_key=5)
        assert stored is not None
        stored.merchant.current = "fulfilment"
        await stored.write(unit)
        stored.merchant.current = "catalogue"
        await stored.write(unit, [event_row("answer")])
    async with db.session() as session:
        merchant = await session.get(Merchant, 5)
        assert merchant is not None and merchant.current == "catalogue"


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_events_alone_are_written(db: Database) -> None:
    await seed(db)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 5, lock_key=5)
        assert stored is not None
        await stored.write(unit, [event_row("plan_opened")])
    async with db.session() as session:
        assert (await session.exec(select(Event.kind))).all() == ["plan_opened"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_events_alone_are_checked_against_the_version_too(db: Database) -> None:
    """A turn that changed no column but logged events writes them on condition of the row's
    version, which it does not change. (Two units at once: PostgreSQL only; on SQLite the
    second would wait for the first's write lock.)"""
    await seed(db)
    async with db.unit() as first, db.unit() as second:
        a = await merchant_row.load(first, 5, lock_key=5)
        b = await merchant_row.load(second, 5, lock_key=5)
        assert a is not None and b is not None
        await a.write(first, [event_row("plan_opened")])
        b.merchant.current = "fulfilment"
        await b.write(second)  # events alone left the row as it was: no conflict
        with pytest.raises(merchant_row.Conflict):
            await a.write(first, [event_row("lost")])  # b changed the row since
    async with db.session() as session:
        assert (await session.exec(select(Event.kind))).all() == ["plan_opened"]
