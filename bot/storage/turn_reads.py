"""Rows a turn reads besides its merchant's: their step marks and their latest logged event
of some kinds. Core statements run by the driver (:mod:`bot.storage.direct`), like the
merchant row's (:mod:`bot.storage.merchant_row`).

Why (issue 20): run through SQLAlchemy, the first statement of a turn makes the asyncpg
adapter send BEGIN, and the turn then ends with a COMMIT: the answer that shows the plan
cost two more round trips on PostgreSQL only to read. Run by the driver, a read on
PostgreSQL goes out on its own (autocommit), outside a transaction the turn has not begun,
and inside one it has (a turn that wrote through the ORM, or a first contact). Under READ
COMMITTED, PostgreSQL's default and the bot's, each statement of a transaction reads what
was committed when it began anyway, so a read sees the same rows either way; it takes no
lock. SQLite runs them inside the turn's transaction, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.sql import ClauseElement

from bot.storage import direct
from bot.storage.db import Unit
from bot.storage.models import Event, StepProgress, StepStatus

_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_STEPS: Table = StepProgress.__table__  # type: ignore[attr-defined]


class MarkRow(NamedTuple):
    """A step_progress row as the plan reads it."""

    step_id: str
    status: StepStatus
    step_version: int


def _marks() -> ClauseElement:
    steps = _STEPS.c
    return select(steps.step_id, steps.status, steps.step_version).where(
        steps.merchant_id == bindparam("merchant_id")
    )


def _last_event(kinds: tuple[str, ...]) -> ClauseElement:
    # One comparison per kind, the kinds written into the statement (one statement per set
    # of kinds, compiled once): the driver runs no expanding IN (bot.storage.direct).
    events = _EVENTS.c
    return (
        select(events.kind, events.step)
        .where(
            events.merchant_id == bindparam("merchant_id"),
            or_(*(events.kind == kind for kind in kinds)),
        )
        .order_by(events.id.desc())
        .limit(1)
    )


async def marks(unit: Unit, merchant_id: int) -> list[MarkRow]:
    """The merchant's step_progress rows."""
    statement = direct.prepared(unit.connection.dialect, "turn.marks", _marks)
    rows = await (await unit.driver()).fetch(statement, {"merchant_id": merchant_id})
    return [MarkRow(*row) for row in rows]


async def last_event(
    unit: Unit, merchant_id: int, kinds: Sequence[str]
) -> tuple[str, str | None] | None:
    """The merchant's latest stored event of one of ``kinds``: (kind, step), or None."""
    if not kinds:
        return None
    key = tuple(kinds)
    statement = direct.prepared(
        unit.connection.dialect, ("turn.last_event", key), lambda: _last_event(key)
    )
    rows = await (await unit.driver()).fetch(statement, {"merchant_id": merchant_id})
    return (rows[0][0], rows[0][1]) if rows else None
