"""``python -m bot`` with every database round trip counted (for bench_interview).

Runs the real CLI (``python -m benchmarks.counted_bot run``) with SQLAlchemy event hooks on
every engine: statements (``before_cursor_execute``), BEGIN/COMMIT/ROLLBACK (PostgreSQL
sends them as statements of their own unless the connection is in autocommit) and pool
pings. On SIGUSR1 and at exit the counts so far go to the JSON file named by
``BENCH_COUNTS``. The hooks cost CPU, so bench_interview measures throughput with the plain
bot and counts in a separate run.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

counts: Counter[str] = Counter()


def kind(statement: str) -> str:
    """A statement's verb and table: ``INSERT inbox``, ``SELECT merchant``..."""
    words = statement.replace("(", " ").replace('"', "").split()
    verb = words[0].upper() if words else "?"
    table = "?"
    # An UPDATE's table is its second word (the batched inbox done has a FROM json_each).
    for marker in ("UPDATE",) if verb == "UPDATE" else ("INTO", "FROM", "UPDATE"):
        upper = [w.upper() for w in words]
        if marker in upper[: len(upper)]:
            at = upper.index(marker) + 1
            if at < len(words):
                table = words[at].split(".")[0]
                break
    if verb == "SELECT" and "pg_advisory" in statement:
        table = "advisory lock"
    return f"{verb} {table}"


def real_boundary(conn: Any) -> bool:
    return bool(
        conn.dialect.name == "postgresql"
        and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
    )


@event.listens_for(Engine, "before_cursor_execute")
def _execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    counts[kind(statement)] += 1


@event.listens_for(Engine, "begin")
def _begin(conn: Any) -> None:
    if real_boundary(conn):
        counts["BEGIN"] += 1


@event.listens_for(Engine, "commit")
def _commit(conn: Any) -> None:
    if real_boundary(conn):
        counts["COMMIT"] += 1


@event.listens_for(Engine, "rollback")
def _rollback(conn: Any) -> None:
    if real_boundary(conn):
        counts["ROLLBACK"] += 1


@event.listens_for(Pool, "connect")
def _connect(*_: Any) -> None:
    # Not a round trip but dearer than many: PostgreSQL starts a server process for each
    # connection (a pool that closes and reopens connections under load pays it again).
    counts["CONNECT (new connection)"] += 1


_ping = PGDialect_asyncpg.do_ping


def _counted_ping(self: PGDialect_asyncpg, dbapi_connection: Any) -> bool:
    counts["PING (pool pre-ping)"] += 1
    return bool(_ping(self, dbapi_connection))


PGDialect_asyncpg.do_ping = _counted_ping  # type: ignore[method-assign]


@atexit.register
def _write(*_: Any) -> None:
    path = os.environ.get("BENCH_COUNTS")
    if path:
        partial = Path(path + ".tmp")
        partial.write_text(json.dumps(dict(counts)))
        partial.replace(path)


signal.signal(signal.SIGUSR1, _write)  # a snapshot on demand (before and after the load)

if __name__ == "__main__":
    from bot.__main__ import main

    sys.argv[0] = "bot"
    sys.exit(main())
