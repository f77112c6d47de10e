"""SQLite for the async engine without a thread hop per statement.

SQLAlchemy's ``sqlite+aiosqlite`` dialect talks to an aiosqlite connection, which runs every
statement, cursor, fetch and commit in a worker thread and hands the result back to the
event loop: about fifteen thread hand-offs per short transaction, which measured as most of
the CPU a bot update spent in the database (see benchmarks/README.md). SQLite itself answers
these small statements on a local file in microseconds, so this module offers an object
with aiosqlite's connection interface whose coroutines call :mod:`sqlite3` directly.

Trade-off, deliberately taken: a statement blocks the event loop while SQLite runs it. For
the bot's transactions (a handful of single-row statements in WAL mode) that is shorter than
a thread hand-off. Writers in *this* process never wait on each other (``bot.storage.db``
admits one write transaction at a time); a writer in *another* process (e.g. a ``remind``
worker on the same file) can make ``BEGIN IMMEDIATE`` wait up to ``BUSY_TIMEOUT_MS``.
Deployments with
several processes belong on PostgreSQL anyway (see README).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

BUSY_TIMEOUT_MS = 5000


class _Immediate:
    """Stands in for aiosqlite's request queue: runs the function at once.

    SQLAlchemy sets a connection's isolation level by putting ``(future, function)`` on
    aiosqlite's queue; here the function runs inline and the future resolves immediately.
    """

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        """Run ``function`` and settle ``future`` with its outcome."""
        future, function = item
        try:
            result = function()
        except Exception as exc:  # handed to the awaiting caller, as aiosqlite would
            future.set_exception(exc)
        else:
            future.set_result(result)


class InlineCursor:
    """aiosqlite's cursor interface over a sqlite3 cursor."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        """Run one statement."""
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        """Run one statement for each set of parameters."""
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` rows."""
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()

    @property
    def description(self) -> Any:
        """Column descriptions of the last query."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last insert."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Rows fetched by fetchmany() by default."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite's connection interface (what SQLAlchemy's adapter uses) over sqlite3."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection  # None once closed
        self._tx = _Immediate()

    def cursor(self) -> InlineCursor:
        """A new cursor (entered with ``async with`` by the adapter)."""
        return InlineCursor(self._conn.cursor())

    def run(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Run one statement now and return its rows (bot.storage.direct)."""
        return self._conn.execute(sql, parameters).fetchall()

    def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters (bot.storage.direct)."""
        self._conn.executemany(sql, rows)

    def begin_immediate(self) -> None:
        """Start a write transaction now (``BEGIN IMMEDIATE``): the write lock is taken at
        the start, so a transaction that reads first never fails to upgrade later."""
        self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        """Commit the transaction."""
        self._conn.commit()

    async def rollback(self) -> None:
        """Roll the transaction back."""
        self._conn.rollback()

    async def close(self) -> None:
        """Close the connection (twice is fine)."""
        self.stop()

    def stop(self) -> None:
        """Close at once (the pool's terminate)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    @property
    def isolation_level(self) -> str | None:
        """sqlite3's isolation level."""
        return self._conn.isolation_level

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Register a SQL function."""
        self._conn.create_function(*args, **kwargs)


def connector(database: str, *, uri: bool = False) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine`` that opens inline connections."""

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(
            database, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, uri=uri
        )
        return InlineConnection(connection)

    return connect


__all__: Sequence[str] = ("BUSY_TIMEOUT_MS", "InlineConnection", "InlineCursor", "connector")
