"""Statements run by the driver itself (bot.storage.direct, issue 20) read and write the
same values SQLAlchemy does: JSON, enums, UTC datetimes, booleans, NULLs, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, select, update

from bot.storage import direct, merchant_row
from bot.storage.db import Database
from bot.storage.models import Awaiting, Merchant, Mode

NOW = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)
_TABLE: Any = Merchant.__table__  # type: ignore[attr-defined]


def every_kind_of_value(merchant_id: int) -> Merchant:
    return Merchant(
        id=merchant_id,
        chat_id=-100_123_456_789,
        language_code="de",
        first_seen=NOW,
        last_seen=NOW + timedelta(hours=1),
        last_progress=None,
        answers={"market": ["uk", "de"], "shop_name": "Ann & Co — „Grüße“", "n": 3},
        path=["platform", "market"],
        current=None,
        mode=Mode.EDIT,
        edit_before={"market": ["uk"]},
        timezone="Europe/Berlin",
        awaiting=Awaiting.ZONE,
        blocked=True,
        broadcasts_off=True,
        last_update_id=2**40,
    )


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_merchant_read_directly_equals_the_orm_read(db: Database) -> None:
    async with db.session() as session:
        session.add(every_kind_of_value(7))
    async with db.session() as session:
        orm = await session.get(Merchant, 7)
        assert orm is not None
        expected = {column.name: getattr(orm, column.name) for column in _TABLE.c}
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 7, lock_key=7)
    assert stored is not None
    read = {column.name: stored.merchant.__dict__[column.name] for column in _TABLE.c}
    assert read == expected
    assert read["mode"] is Mode.EDIT and read["awaiting"] is Awaiting.ZONE
    assert read["last_seen"].tzinfo is not None


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_values_written_directly_read_back_by_the_orm(db: Database) -> None:
    async with db.session() as session:
        session.add(Merchant(id=8, chat_id=8, first_seen=NOW, last_seen=NOW))
    wanted = every_kind_of_value(8)
    async with db.unit() as unit:
        stored = await merchant_row.load(unit, 8, lock_key=8)
        assert stored is not None
        for column in _TABLE.c:
            if column.name != "id":
                setattr(stored.merchant, column.name, getattr(wanted, column.name))
        await stored.write(unit)
    async with db.session() as session:
        orm = await session.get(Merchant, 8)
        assert orm is not None
        for column in _TABLE.c:
            assert getattr(orm, column.name) == getattr(wanted, column.name), column.name


async def test_only_plain_parameters_run_directly(db: Database) -> None:
    expanding = select(_TABLE.c.id).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="ids"):
        direct.prepare(expanding, db.engine.dialect)
    computed = select(_TABLE.c.id).where(_TABLE.c.id == bindparam("k", callable_=lambda: 5))
    with pytest.raises(ValueError, match="k"):
        direct.prepare(computed, db.engine.dialect)


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_values_written_in_the_statement_are_sent_as_written(db: Database) -> None:
    """A statement may carry some values itself (``.values(status=...)``, ``== 5``): they go
    through the column type like the named ones (here an enum and a JSON NULL)."""
    async with db.session() as session:
        session.add(every_kind_of_value(9))
    fixed = (
        update(_TABLE)
        .where(_TABLE.c.id == bindparam("merchant_id"))
        .values(mode=Mode.INTERVIEW, edit_before=None, current="market")
        .returning(_TABLE.c.id, _TABLE.c.mode)
    )
    rows = await db.run("test.fixed", lambda: fixed, {"merchant_id": 9})
    assert rows == [(9, Mode.INTERVIEW)]
    default = bindparam("zone", value="UTC", type_=_TABLE.c.timezone.type)
    zone = update(_TABLE).where(_TABLE.c.id == bindparam("merchant_id")).values(timezone=default)
    await db.run("test.default", lambda: zone, {"merchant_id": 9, "zone": "Asia/Tokyo"})
    async with db.session() as session:
        orm = await session.get(Merchant, 9)
        assert orm is not None
        assert (orm.mode, orm.edit_before, orm.current) == (Mode.INTERVIEW, None, "market")
        assert orm.timezone == "Asia/Tokyo"  # a value given by name wins over the default
        assert orm.answers == every_kind_of_value(9).answers  # not in the statement: kept
