"""A few Core statements run by the database driver itself: the turn's hot path (issue 20).

Every interactive update reads its merchant's row and writes it back with the turn's funnel
events. Through SQLAlchemy's execution (the execution context, parameter and result
wrapping, and on PostgreSQL the asyncpg adapter's greenlet hand-offs) each of those
statements cost 0.3-0.6 ms of CPU; asyncpg alone runs one in under 0.1 ms
(benchmarks/README.md, "Issue 20, seventh session: the turn"; ``bench_merchant_row``).

So those statements are still written as Core (one source for the SQL, the tables and the
column types), compiled once per dialect and shape (:func:`prepare`), and then run on the
driver's own connection: the one SQLAlchemy's pool lent to the unit of work, in whatever
transaction it is in. Values pass through the column types' own bind and result processors
(``TypeEngine.dialect_impl(dialect)``), as SQLAlchemy would pass them: what is stored and
read back is the same (``tests/test_direct.py`` compares both ways).

Only what the turn needs: statements with named bind parameters (no expanding ``IN``), rows
back as tuples. Everything else goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from bot.storage.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any]
_GIVEN = object()  # a parameter the caller gives (Prepared.fixed)
# Called with each statement's SQL before it runs (counting round trips: tests, benchmarks),
# as SQLAlchemy's ``before_cursor_execute`` event is for the statements it runs.
_LISTENERS: list[Callable[[str], None]] = []


def listen(callback: Callable[[str], None]) -> None:
    """Call ``callback(sql)`` before each statement run directly (until :func:`unlisten`)."""
    _LISTENERS.append(callback)


def unlisten(callback: Callable[[str], None]) -> None:
    """Stop calling ``callback``."""
    _LISTENERS.remove(callback)


def _heard(sql: str) -> None:
    for callback in _LISTENERS:
        callback(sql)


@dataclass(frozen=True)
class Prepared:
    """A statement compiled for one dialect: its SQL, its parameters in order (each with the
    type's bind processor) and its result columns' processors."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor | None, ...]
    results: tuple[Processor | None, ...]
    # Each parameter's value written in the statement (``.values(status=...)``; a value
    # given by name still wins, as in SQLAlchemy), or _GIVEN: the caller must give it.
    fixed: tuple[Any, ...] = ()

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for these named parameters (processed)."""
        values = (
            (params[name] for name in self.names)
            if not self.fixed
            else (
                params[name] if value is _GIVEN else params.get(name, value)
                for name, value in zip(self.names, self.fixed, strict=True)
            )
        )
        return [
            value if process is None else process(value)
            for value, process in zip(values, self.binds, strict=True)
        ]

    def row(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """A result row as Python values (processed)."""
        return tuple(
            value if process is None else process(value)
            for value, process in zip(values, self.results, strict=True)
        )


def prepare(statement: ClauseElement, dialect: Dialect) -> Prepared:
    """Compile ``statement`` for ``dialect`` once (call it once per statement and shape)."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    binds = []
    fixed: list[Any] = []
    for name in names:
        bind = compiled.binds[name]
        if bind.expanding or bind.callable is not None:
            raise ValueError(f"{name}: only plain bind parameters run directly")
        binds.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
        fixed.append(_GIVEN if bind.required else bind.value)
    # A SELECT's columns, or what an INSERT / UPDATE ... RETURNING returns.
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in getattr(statement, "exported_columns", ())
    )
    given = all(value is _GIVEN for value in fixed)
    return Prepared(compiled.string, names, tuple(binds), results, () if given else tuple(fixed))


_PREPARED: dict[tuple[str, Hashable], Prepared] = {}


def prepared(dialect: Dialect, key: Hashable, build: Callable[[], ClauseElement]) -> Prepared:
    """The statement ``key`` names, compiled for ``dialect`` the first time it is asked for
    (``build`` makes it; a key stands for one statement text in every dialect)."""
    found = _PREPARED.get((dialect.name, key))
    if found is None:
        found = _PREPARED[(dialect.name, key)] = prepare(build(), dialect)
    return found


class Driver(Protocol):
    """The driver connection under a SQLAlchemy connection, as the turn uses it."""

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (none for a statement without RETURNING)."""
        ...

    async def execute_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement once per row of parameters."""
        ...


@functools.cache
def _gone() -> tuple[type[BaseException], ...]:
    """asyncpg's errors for a connection that is gone (the server restarted, the network
    failed) or in no state to go on (an internal error, e.g. the server's goodbye arrived
    mid-operation)."""
    # Imported here, not at the top: on SQLite asyncpg is never needed, and importing it
    # costs ~90 ms of every start (issue 20, start-up).
    import asyncpg

    return (
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.InternalClientError,
        asyncpg.exceptions.PostgresConnectionError,
        ConnectionError,
        OSError,
    )


class _Asyncpg:
    def __init__(self, connection: Any, owner: AsyncConnection) -> None:
        self._conn = connection  # an asyncpg.Connection
        self._owner = owner
        self._gone_errors = _gone()

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if _LISTENERS:
            _heard(prepared.sql)
        try:
            records = await self._conn.fetch(prepared.sql, *prepared.args(params))
        except self._gone_errors:
            await self._lost()
            raise
        return [prepared.row(record) for record in records]

    async def execute_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if _LISTENERS:
            _heard(prepared.sql)
        try:
            await self._conn.executemany(prepared.sql, [prepared.args(row) for row in rows])
        except self._gone_errors:
            await self._lost()
            raise

    async def _lost(self) -> None:
        """The connection failed: close it, and let SQLAlchemy find it closed as it would on
        a statement of its own. It then lets go of this connection and of every older one in
        the pool (a restart dropped them all) and raises the ``DBAPIError``
        (``connection_invalidated``) that the immediate retry looks for
        (bot.storage.db.lost_connection)."""
        self._conn.terminate()  # half-broken (mid-operation) otherwise
        await self._owner.exec_driver_sql("SELECT 1")


class _Sqlite:
    def __init__(self, connection: InlineConnection) -> None:
        self._conn = connection

    async def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if _LISTENERS:
            _heard(prepared.sql)
        rows = self._conn.run(prepared.sql, prepared.args(params))
        return [prepared.row(row) for row in rows]

    async def execute_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if _LISTENERS:
            _heard(prepared.sql)
        self._conn.run_many(prepared.sql, [prepared.args(row) for row in rows])


async def driver(conn: AsyncConnection) -> Driver:
    """The driver connection under ``conn`` (in the transaction ``conn`` is in, if any)."""
    raw = (await conn.get_raw_connection()).driver_connection
    if isinstance(raw, InlineConnection):
        return _Sqlite(raw)
    return _Asyncpg(raw, conn)
