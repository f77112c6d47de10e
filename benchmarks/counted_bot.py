"""``python -m bot`` with every database round trip counted (for bench_interview).

Runs the real CLI (``python -m benchmarks.counted_bot run``) with every engine's statements,
BEGIN/COMMIT/ROLLBACK, pool pings and new connections counted (benchmarks/wire.py: what
SQLAlchemy runs and what the turn runs on the driver itself). On SIGUSR1 and at exit the
counts so far go to the JSON file named by ``BENCH_COUNTS``. The hooks cost CPU, so
bench_interview measures throughput with the plain bot and counts in a separate run.
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

from benchmarks.wire import CONNECT, INTROSPECT, PING, PREPARE, everything

WIRE = everything()  # every statement, BEGIN/COMMIT, ping and new connection from now on


def kind(statement: str) -> str:
    """A statement's verb and table: ``INSERT inbox``, ``SELECT merchant``..."""
    if statement in ("BEGIN", "COMMIT", "ROLLBACK", PING, CONNECT, PREPARE, INTROSPECT):
        return statement
    if statement.startswith("WITH changed AS (UPDATE merchant"):
        return "UPDATE merchant + INSERT event (one statement)"
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
    elif table == "?":  # FROM cut off (statements are kept to 60 characters): a column's table
        table = next((w.split(".")[0] for w in words[1:] if "." in w), "?")
    return f"{verb} {table}"


@atexit.register
def _write(*_: Any) -> None:
    path = os.environ.get("BENCH_COUNTS")
    if path:
        partial = Path(path + ".tmp")
        partial.write_text(json.dumps(dict(Counter(kind(s) for s in WIRE.log))))
        partial.replace(path)


signal.signal(signal.SIGUSR1, _write)  # a snapshot on demand (before and after the load)

if __name__ == "__main__":
    from bot.__main__ import main

    sys.argv[0] = "bot"
    sys.exit(main())
