"""Start-up to ready (issue 20): what `python -m bot` does before it serves, kept cheap.

Timing is measured by benchmarks/bench_startup.py, never asserted here; these tests pin the
mechanisms so that a later change cannot silently undo them.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bot.__main__

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_cli_in_process_leaves_the_collector_alone() -> None:
    # Only `python -m bot` pauses the collector while it imports; a test or an embedding
    # program that imports bot.__main__ keeps its own collector settings.
    assert bot.__main__.__name__ == "bot.__main__"
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.slow
def test_python_m_bot_collects_again_once_imported(tmp_path: Path) -> None:
    # `python -m bot` imports with the collector paused (about 0.15 s of a start); it must be
    # back on, with the imported modules frozen out of its passes, once a mode runs.
    script = textwrap.dedent(
        """
        import atexit, gc, runpy, sys
        atexit.register(
            lambda: print("collector", gc.isenabled(), gc.get_freeze_count() > 50_000)
        )
        sys.argv = ["bot", "db", "current"]
        runpy.run_module("bot", run_name="__main__", alter_sys=True)
        """
    )
    env = {
        **os.environ,
        "PTB_TIMEDELTA": "1",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.db",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "current (empty database)" in done.stdout, done.stderr[-2000:]
    assert done.stdout.strip().endswith("collector True True"), done.stdout


# Modules the run path does not need, imported where they are used instead (each a comment
# there): the PostgreSQL dialects on SQLite (bot.storage.upsert), the PostgreSQL driver
# (bot.storage.direct).
DEFERRED = ("sqlalchemy.dialects.postgresql", "asyncpg")


@pytest.mark.slow
def test_starting_on_sqlite_does_not_import_what_it_does_not_use() -> None:
    code = (
        f"import sys, bot.__main__, bot.modes; print(sorted(set({DEFERRED!r}) & set(sys.modules)))"
    )
    env = {**os.environ, "PTB_TIMEDELTA": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
