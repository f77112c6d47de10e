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
#: asyncpg prepares a statement the first time a connection runs it (a round trip of its own:
#: Parse/Describe), and looks up a type it has no codec for yet (one more).
PREPARE = "PREPARE (statement new to its connection)"
INTROSPECT = "INTROSPECT (a type new to its connection)"


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
def listening(wire: Wire, target: Any, pool: Any, *, prepares: bool = False) -> Iterator[Wire]:
    """Count what ``target`` (an Engine, or the Engine class for every engine) sends, the
    connections ``pool`` (a Pool, the Pool class, or None: not counted) opens and, with
    ``prepares``, asyncpg's preparations and type lookups (every process's)."""
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
    real_prepare, real_introspect = _asyncpg_hooks(wire) if prepares else (None, None)
    direct.listen(wire.on_direct)
    try:
        yield wire
    finally:
        direct.unlisten(wire.on_direct)
        PGDialect_asyncpg.do_ping = real_ping  # type: ignore[method-assign]
        if real_prepare is not None:
            from asyncpg.connection import Connection

            Connection._get_statement = real_prepare
            Connection._introspect_types = real_introspect
        for where, name, fn in hooks:
            event.remove(where, name, fn)


def _asyncpg_hooks(wire: Wire) -> tuple[Any, Any]:
    """Count asyncpg's statement preparations (a statement cache miss) and type lookups;
    return the originals (None, None without asyncpg)."""
    try:
        from asyncpg.connection import Connection
    except ImportError:  # pragma: no cover (asyncpg is a dependency)
        return None, None
    real_prepare, real_introspect = Connection._get_statement, Connection._introspect_types

    async def get_statement(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        record_class = kwargs.get("record_class") or self._protocol.get_record_class()
        key = (query, record_class, kwargs.get("ignore_custom_codec", False))
        if kwargs.get("use_cache", True) is False or self._stmt_cache.get(key) is None:
            wire.log.append(PREPARE)
        return await real_prepare(self, query, *args, **kwargs)

    async def introspect(self: Any, *args: Any, **kwargs: Any) -> Any:
        wire.log.append(INTROSPECT)
        return await real_introspect(self, *args, **kwargs)

    Connection._get_statement = get_statement
    Connection._introspect_types = introspect
    return real_prepare, real_introspect


@contextmanager
def counting(db: Database) -> Iterator[Wire]:
    """What ``db`` sends while the block runs (tests: send-slot leases, new connections and
    statement preparations left out: a pool may open a connection, and a connection prepare
    a statement, at any time)."""
    engine = db.engine.sync_engine
    with listening(Wire(skip_leases=True), engine, None) as wire:
        yield wire


def everything() -> Wire:
    """Count what every engine of this process sends, from now on (benchmarks)."""
    wire = Wire()
    hooks = listening(wire, Engine, Pool, prepares=True)
    hooks.__enter__()
    _FOREVER.append(hooks)  # never closed (a collected generator would remove the hooks)
    return wire


_FOREVER: list[Any] = []
