"""The durable inbox's storage: accept updates, lease the ones to handle, record outcomes.

Every statement is one short transaction (on PostgreSQL one round trip: autocommit).
Leasing mirrors the outbox: a pending row whose lease ran out is claimable (PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so two processes never take the same row); a process that dies
simply lets its leases run out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    ColumnElement,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql import ClauseElement

from bot.storage.db import Database
from bot.storage.models import Inbox, InboxStatus
from bot.storage.upsert import insert

_TABLE: Table = Inbox.__table__  # type: ignore[attr-defined]
# done() runs once per update: the statement is built once, here. Building it on every call
# (update().where().values()) was a third of done()'s CPU (py-spy, issue 20).
_DONE_VALUES = {"status": InboxStatus.DONE, "payload": None, "lease_until": None, "error": None}
# Handled updates are recorded done a batch at a time (bot.updates), by one statement whose
# text does not depend on how many ids it carries: ``IN (...)`` with N parameters would be a
# new statement for every N (on PostgreSQL each one prepared, crowding the turn's statements
# out of asyncpg's cache). PostgreSQL: one array parameter (the generic ARRAY, which asyncpg's
# dialect renders as BIGINT[]: sqlalchemy.dialects.postgresql is not imported on SQLite);
# SQLite: one JSON array.
_DONE_PG = (
    update(_TABLE)
    .where(_TABLE.c.update_id == any_(bindparam("done_ids", type_=ARRAY(BigInteger))))
    .values(_DONE_VALUES)
)
_DONE_SQLITE = (
    update(_TABLE)
    .where(
        _TABLE.c.update_id.in_(
            select(column("value")).select_from(func.json_each(bindparam("done_ids")))
        )
    )
    .values(_DONE_VALUES)
)


_ACCEPTED = ("update_id", "payload", "received_at", "status", "attempts", "lease_until")


def _accept(postgres: bool) -> Callable[[], ClauseElement]:
    """accept()'s statement (run by the driver, Database.run): the batch's payloads as one
    JSON array, each element a row, so that its text is the same whatever the batch's size.
    A multi-row VALUES was one statement per size, each compiled by SQLAlchemy and, on
    PostgreSQL, prepared by asyncpg on every connection of the pool (issue 20)."""

    def build() -> ClauseElement:
        payloads = bindparam("payloads", type_=Text)
        if postgres:
            rows = func.json_array_elements(cast(payloads, JSON)).table_valued("value")
            update_id: ColumnElement[Any] = cast(rows.c.value.op("->>")("update_id"), BigInteger)
        else:
            rows = func.json_each(payloads).table_valued("value")
            update_id = func.json_extract(rows.c.value, "$.update_id")
        same = (bindparam(name, type_=_TABLE.c[name].type) for name in _ACCEPTED[2:])
        # WHERE true: SQLite would read "ON CONFLICT" as the ON of a join without a WHERE.
        batch = select(update_id, rows.c.value, *same).where(true())
        return (
            insert(_TABLE, postgres=postgres)
            .from_select(list(_ACCEPTED), batch)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(_TABLE.c.update_id)
        )

    return build


@dataclass(frozen=True)
class Leased:
    """An update this process holds a lease on: its payload, how often it was tried and
    when it was received."""

    update_id: int
    payload: dict[str, Any]
    attempts: int
    received_at: datetime


async def accept(
    db: Database, payloads: Sequence[dict[str, Any]], now: datetime, lease: timedelta
) -> list[dict[str, Any]]:
    """Write updates before they are acknowledged; return those not seen before.

    The new rows are leased to the caller (it handles them right away); a re-delivered id
    changes nothing and is not returned.
    """
    if not payloads:
        return []
    parameters = {
        "payloads": json.dumps(list(payloads)),
        "received_at": now,
        "status": InboxStatus.PENDING,
        "attempts": 0,
        "lease_until": now + lease,
    }
    written = await db.run("inbox.accept", _accept(db.is_postgres), parameters)
    fresh = {row[0] for row in written}
    return [payload for payload in payloads if payload["update_id"] in fresh]


async def claim(db: Database, now: datetime, lease: timedelta, limit: int) -> list[Leased]:
    """Lease up to ``limit`` pending updates whose lease ran out (oldest first)."""
    t = _TABLE
    due = (
        select(t.c.update_id)
        .where(
            t.c.status == InboxStatus.PENDING,
            or_(t.c.lease_until.is_(None), t.c.lease_until <= now),
        )
        .order_by(t.c.update_id)
        .limit(limit)
    )
    if db.is_postgres:
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(t)
        .where(t.c.update_id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease)
        .returning(t.c.update_id, t.c.payload, t.c.attempts, t.c.received_at)
    )
    rows = await db.execute(statement)
    leased = [Leased(row[0], row[1] or {}, row[2], row[3]) for row in rows]
    return sorted(leased, key=lambda item: item.update_id)


async def done(db: Database, update_ids: Sequence[int]) -> None:
    """These updates were handled: keep their ids (to ignore re-deliveries), drop their
    payloads. One statement for all of them."""
    if not update_ids:
        return
    ids: Any = list(update_ids) if db.is_postgres else json.dumps(list(update_ids))
    statement = _DONE_PG if db.is_postgres else _DONE_SQLITE
    await db.run("inbox.done", lambda: statement, {"done_ids": ids})


async def retry(db: Database, update_id: int, attempts: int, error: str, at: datetime) -> None:
    """A failed attempt: try again at ``at`` (another process may, if this one dies)."""
    await db.execute(
        update(_TABLE)
        .where(_TABLE.c.update_id == update_id)
        .values(attempts=attempts, error=error[:500], lease_until=at)
    )


async def give_up(db: Database, update_id: int, attempts: int, error: str) -> None:
    """Every attempt failed: the update is not tried again (its payload is dropped)."""
    await db.execute(
        update(_TABLE)
        .where(_TABLE.c.update_id == update_id)
        .values(
            status=InboxStatus.FAILED,
            attempts=attempts,
            error=error[:500],
            payload=None,
            lease_until=None,
        )
    )


async def prune(db: Database, older_than: datetime) -> int:
    """Forget handled (or failed) updates received before ``older_than``."""
    async with db.session() as session:
        conn = await session.connection()
        result = await conn.execute(
            delete(_TABLE).where(
                _TABLE.c.received_at < older_than, _TABLE.c.status != InboxStatus.PENDING
            )
        )
    return int(result.rowcount or 0)


async def pending(db: Database) -> int:
    """How many updates wait to be handled (for metrics and tests)."""
    async with db.session() as session:
        conn = await session.connection()
        result = await conn.execute(
            select(_TABLE.c.update_id).where(_TABLE.c.status == InboxStatus.PENDING)
        )
        return len(result.all())
