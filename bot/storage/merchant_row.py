"""The merchant row as one update's turn reads and writes it: Core statements run by the
driver (:mod:`bot.storage.direct`), not the ORM.

Why (issue 20): every interactive update loads one merchant row and writes it back with the
turn's funnel events. Through the ORM that was about 30 % of the bot's event-loop samples
(py-spy under ``benchmarks/bench_interview``); through SQLAlchemy Core still 0.3-0.6 ms of CPU
per statement. Here the row is read by one SELECT, the :class:`Merchant` is built outside any
session, and at the end of the turn one write sends the changed columns and the events
(services keep setting ``turn.merchant.x = ...`` as before).

How one chat's turns stay in order across instances:

- **PostgreSQL, optimistic.** The read takes no lock and runs outside any transaction; it
  also reads the row's version (``xmin``: the transaction that wrote it, which every write
  changes). The write is one statement: ``UPDATE merchant ... WHERE id = ... AND xmin = <as
  read>`` and, in the same statement, the INSERT of the events (a data-modifying ``WITH``).
  If another turn (or any writer) changed the row since it was read, nothing is written and
  :class:`Conflict` is raised: the update is handled again from the start (bot.updates), as
  it would have waited for the other turn's lock before. A typed answer costs two round trips
  (it was five: BEGIN, SELECT ... FOR UPDATE, INSERT, UPDATE, COMMIT). The UPDATE sets every
  column, not only those that changed: one statement text (per number of events) instead of
  one per set of changed columns, which asyncpg would prepare again on every connection of
  the pool (a round trip and the server's parse each; 0.3-0.4 per typed answer under
  ``bench_interview``, issue 20). The row's version check makes this as safe as before, and
  the funnel trigger fires only for the columns it watches changing. A turn that changed no
  column writes its events on the same condition, and leaves the row's version as it was.
  A turn that also runs statements through SQLAlchemy (alerts planned again, marks read, a
  step marked by the ORM) runs in a transaction, and the same conditional write, which
  locks the row until COMMIT, keeps it correct.
- **SQLite** has one writer at a time: the turn's transaction holds the write lock from its
  ``BEGIN IMMEDIATE`` (bot.storage.db), the read and the writes run inside it.

A merchant created in the turn (first contact) stays on the ORM path (``session.add``); on
PostgreSQL two first contacts at once are kept apart by an advisory lock on the chat.
The database triggers on merchant (migration 0015) fire on this UPDATE as on the ORM's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Table,
    Text,
    bindparam,
    cast,
    insert,
    inspect,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import configure_mappers
from sqlalchemy.sql import ClauseElement

from bot.delivery import HandleAgain
from bot.storage import direct
from bot.storage.db import Unit, read_locked
from bot.storage.models import Event, Merchant

_TABLE: Table = Merchant.__table__  # type: ignore[attr-defined]
_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(column.name for column in _TABLE.c)
# An event row's columns but its id (the database's) and merchant_id (the row written).
EVENT_COLUMNS = tuple(c.name for c in _EVENTS.c if c.name not in ("id", "merchant_id"))
# Columns holding JSON (answers, path, edit_before): lists and dicts a service may change in
# place, so they are compared by value against a deep copy taken at load.
_JSON = frozenset(column.name for column in _TABLE.c if isinstance(column.type, JSON))
# PostgreSQL's version of the row: the id of the transaction that wrote it (as text: xid has
# no binary codec in asyncpg). Every UPDATE of the row changes it.
_VERSION: ColumnElement[str] = cast(literal_column("merchant.xmin"), Text)
_ID = _TABLE.c.id == bindparam("merchant_id")
# What the PostgreSQL write sets: every column but the key (see the module's docstring).
_WRITTEN = tuple(name for name in _COLUMNS if name != "id")


class Conflict(HandleAgain):
    """The merchant changed since this turn read them (another instance's turn, or another
    writer, committed in between): nothing was written. The update is handled again."""

    def __init__(self, merchant_id: int) -> None:
        super().__init__(f"merchant {merchant_id} changed while the turn ran")
        self.merchant_id = merchant_id


# --- statements, compiled once per dialect and shape (direct.prepared) -------------------


def _read(postgres: bool, locked: bool) -> ClauseElement:
    """The merchant's row (PostgreSQL: its version first; ``locked``: FOR UPDATE)."""
    statement = select(_VERSION.label("version"), *_TABLE.c) if postgres else select(*_TABLE.c)
    statement = statement.where(_ID)
    return statement.with_for_update() if locked else statement


def _sets(columns: Sequence[str]) -> dict[str, Any]:
    return {name: bindparam(f"set_{name}", type_=_TABLE.c[name].type) for name in columns}


def _event_params(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {f"e{i}_{name}": row[name] for i, row in enumerate(rows) for name in EVENT_COLUMNS}


def _write_pg(changed: bool, events: int) -> ClauseElement:
    """PostgreSQL: the conditional UPDATE of the whole row and the events' INSERT as one
    statement, returning the row's new version (no row: the version did not match, nothing
    was written)."""
    unchanged = _VERSION == bindparam("version")  # noqa: SIM300 (a column, not a constant)
    returned = (_TABLE.c.id, _VERSION.label("version"))
    if changed:
        update_row = update(_TABLE).where(_ID, unchanged).values(_sets(_WRITTEN))
        row = update_row.returning(*returned).cte("changed")
    else:  # events only (the row as it was): the same condition, the row locked meanwhile
        row = select(*returned).where(_ID, unchanged).with_for_update().cte("changed")
    statement = select(row.c.version)
    if events:
        # One SELECT per event, each joined to the UPDATE's row: no row, no events.
        rows = [
            select(
                row.c.id,
                *(bindparam(f"e{i}_{name}", type_=_EVENTS.c[name].type) for name in EVENT_COLUMNS),
            )
            for i in range(events)
        ]
        logged = insert(_EVENTS).from_select(
            ["merchant_id", *EVENT_COLUMNS], rows[0] if events == 1 else union_all(*rows)
        )
        statement = statement.add_cte(logged.cte("logged"))
    return statement


def _update_sqlite(columns: tuple[str, ...]) -> ClauseElement:
    return update(_TABLE).where(_ID).values(_sets(columns))


def _insert_events() -> ClauseElement:
    names = ("merchant_id", *EVENT_COLUMNS)
    return insert(_EVENTS).values(
        {name: bindparam(f"ev_{name}", type_=_EVENTS.c[name].type) for name in names}
    )


def _kept(name: str, value: Any) -> Any:
    """A column's value as stored for comparing later (JSON copied: changed in place)."""
    return _copy_json(value) if name in _JSON else value


def _copy_json(value: Any) -> Any:
    """A copy of JSON data (dicts, lists; tuples a service may put in), shared immutable
    leaves: what ``copy.deepcopy`` makes of it, at a third of its cost (no memo)."""
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy_json(item) for item in value)
    return value


@functools.cache
def _configured() -> None:
    """The ORM's mappers configured, once: needed before the first object is built (and
    ``configure_mappers`` itself walks every registry on each call)."""
    configure_mappers()


class StoredMerchant:
    """A merchant loaded by :func:`load`, their column values as loaded and (PostgreSQL)
    the row's version as read."""

    def __init__(self, values: dict[str, Any], version: str | None) -> None:
        _configured()
        # The merchant is built as the ORM builds a loaded object (a new instance, its
        # columns put in its __dict__), but in no session: nothing tracks it, nothing
        # flushes it. Merchant(**values) would run pydantic's construction (~0.3 ms).
        merchant: Merchant = inspect(Merchant).class_manager.new_instance()
        merchant.__dict__.update(values)
        self.merchant = merchant
        self.version = version
        self._stored = {name: _kept(name, value) for name, value in values.items()}

    def changes(self) -> dict[str, Any]:
        """The columns whose values differ from the stored ones (JSON by value)."""
        current = self.merchant.__dict__
        return {
            name: current[name]
            for name in _COLUMNS
            if name in current and current[name] != self._stored[name]
        }

    async def write(self, unit: Unit, events: Sequence[Mapping[str, Any]] = ()) -> None:
        """Write the row, if a column changed, and these events (PostgreSQL: the whole row
        and the events in one statement; SQLite: an UPDATE of the changed columns, one
        INSERT); raise :class:`Conflict` if the row changed since it was read. What is sent
        becomes the stored state (a second call writes only if more changed after the
        first)."""
        changed = self.changes()
        if not changed and not events:
            return
        merchant_id = self.merchant.id
        dialect = unit.connection.dialect
        driver = await unit.driver()
        if dialect.name == "postgresql":
            assert self.version is not None
            current = self.merchant.__dict__
            params = {f"set_{name}": current[name] for name in _WRITTEN} if changed else {}
            params["merchant_id"] = merchant_id
            params["version"] = self.version
            params.update(_event_params(events))
            key = ("merchant.write", bool(changed), len(events))
            statement = direct.prepared(
                dialect, key, lambda: _write_pg(bool(changed), len(events))
            )
            rows = await driver.fetch(statement, params)
            if not rows:
                raise Conflict(merchant_id)
            self.version = rows[0][0]
        else:
            columns = tuple(sorted(changed))
            params = {f"set_{name}": value for name, value in changed.items()}
            params["merchant_id"] = merchant_id
            if changed:
                update_row = direct.prepared(
                    dialect, ("merchant.update", columns), lambda: _update_sqlite(columns)
                )
                await driver.fetch(update_row, params)
            if events:
                named = [{f"ev_{name}": value for name, value in row.items()} for row in events]
                await driver.execute_many(
                    direct.prepared(dialect, "merchant.events", _insert_events), named
                )
        for name, value in changed.items():
            self._stored[name] = _kept(name, value)


async def load(unit: Unit, merchant_id: int, *, lock_key: int) -> StoredMerchant | None:
    """The merchant as stored, or None (first contact).

    PostgreSQL: read without a lock and outside any transaction (the write checks the
    version); for a first contact the transaction takes the advisory lock ``lock_key`` and
    reads again, locked (:func:`~bot.storage.db.read_locked`). SQLite: read in the turn's
    write transaction.
    """
    driver = await unit.driver()
    dialect = unit.connection.dialect
    postgres = dialect.name == "postgresql"

    async def read(locked: bool) -> tuple[Any, ...] | None:
        statement = direct.prepared(
            dialect, ("merchant.read", locked), lambda: _read(postgres, locked)
        )
        rows = await driver.fetch(statement, {"merchant_id": merchant_id})
        return rows[0] if rows else None

    row = await read_locked(unit.connection, read, lock_key=lock_key)
    if row is None:
        return None
    if postgres:
        return StoredMerchant(dict(zip(_COLUMNS, row[1:], strict=True)), row[0])
    return StoredMerchant(dict(zip(_COLUMNS, row, strict=True)), None)
