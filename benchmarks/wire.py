"""What the bot sends to its database, counted: statements, BEGIN/COMMIT/ROLLBACK, pool pings
and new connections (tests/test_round_trips.py, benchmarks/counted_bot.py; issue 20).

Statements are counted from SQLAlchemy's ``before_cursor_execute`` event and, for those the
turn runs on the driver itself, from :func:`bot.storage.direct.listen`.

PostgreSQL sends BEGIN, COMMIT and ROLLBACK as statements of their own, but only for a
transaction the driver really began: SQLAlchemy's asyncpg adapter sends BEGIN just before the
first statement *SQLAlchemy* runs in it, so a unit of work whose statements all ran directly
(autocommit) sends none, and its commit sends nothing either. SQLite's ``BEGIN IMMEDIATE`` is
run on the sqlite3 connection as the transaction begins (counted from the ``begin`` event;
its COMMIT is not counted). Autocommit work sends no BEGIN or COMMIT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from bot.storage import direct
from bot.storage.db import Database

PING = "PING (pool pre-ping)"
CONNECT = "CONNECT (new connection)"


class Wire:
    """The statements sent, in order (``log``), as their first 60 characters."""

    def __init__(self, *, skip_leases: bool = False) -> None:
        self.log: list[str] = []
        # Send slots are leased from PostgreSQL a batch at a time (bot.storage.send_slots),
        # not per update: ``skip_leases`` leaves that transaction out of the count.
        self.skip_leases = skip_leases
        self._pending: set[int] = set()  # begun, BEGIN not sent yet (shown with a statement)
        self._open: set[int] = set()  # BEGIN sent (PostgreSQL): COMMIT/ROLLBACK will be too
        self._lease = False

    def on_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.skip_leases and "send_budget" in statement:
            self._lease = True
            self._pending.discard(id(conn))
            return
        if id(conn) in self._pending:
            self._pending.discard(id(conn))
            self._open.add(id(conn))
            self.log.append("BEGIN")
        self.log.append(" ".join(statement.split())[:60])

    def on_direct(self, statement: str) -> None:
        """A statement run by the driver directly: it begins no transaction."""
        self.log.append(" ".join(statement.split())[:60])

    def on_begin(self, conn: Any) -> None:
        self._lease = False
        if conn.dialect.name != "postgresql":  # SQLite: BEGIN IMMEDIATE, now
            self.log.append("BEGIN")
        elif conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self._pending.add(id(conn))

    def _end(self, conn: Any, what: str) -> None:
        self._pending.discard(id(conn))
        if id(conn) in self._open:
            self._open.discard(id(conn))
            if not self._lease:
                self.log.append(what)

    def on_commit(self, conn: Any) -> None:
        self._end(conn, "COMMIT")

    def on_rollback(self, conn: Any) -> None:
        self._end(conn, "ROLLBACK")

    def on_connect(self, *_: Any) -> None:
        self.log.append(CONNECT)


@contextmanager
def listening(wire: Wire, target: Any, pool: Any) -> Iterator[Wire]:
    """Count what ``target`` (an Engine, or the Engine class for every engine) sends, and
    the connections ``pool`` (a Pool, the Pool class, or None: not counted) opens."""
    real_ping: Callable[[Any, Any], bool] = PGDialect_asyncpg.do_ping

    def ping(dialect: PGDialect_asyncpg, dbapi_connection: Any) -> bool:
        wire.log.append(PING)
        return bool(real_ping(dialect, dbapi_connection))

    hooks: list[tuple[Any, str, Callable[..., None]]] = [
        (target, "before_cursor_execute", wire.on_execute),
        (target, "begin", wire.on_begin),
        (target, "commit", wire.on_commit),
        (target, "rollback", wire.on_rollback),
    ]
    if pool is not None:
        hooks.append((pool, "connect", wire.on_connect))
    for where, name, fn in hooks:
        event.listen(where, name, fn)
    PGDialect_asyncpg.do_ping = ping  # type: ignore[method-assign]
    direct.listen(wire.on_direct)
    try:
        yield wire
    finally:
        direct.unlisten(wire.on_direct)
        PGDialect_asyncpg.do_ping = real_ping  # type: ignore[method-assign]
        for where, name, fn in hooks:
            event.remove(where, name, fn)


@contextmanager
def counting(db: Database) -> Iterator[Wire]:
    """What ``db`` sends while the block runs (tests: send-slot leases and new connections
    left out; a pool may open one at any time)."""
    engine = db.engine.sync_engine
    with listening(Wire(skip_leases=True), engine, None) as wire:
        yield wire


def everything() -> Wire:
    """Count what every engine of this process sends, from now on (benchmarks)."""
    wire = Wire()
    hooks = listening(wire, Engine, Pool)
    hooks.__enter__()
    _FOREVER.append(hooks)  # never closed (a collected generator would remove the hooks)
    return wire


_FOREVER: list[Any] = []
