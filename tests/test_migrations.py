"""Migrations: they build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401 - registers the tables
from bot.storage import db as storage_db
from bot.storage.db import Database, alembic_config, script_head


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    await db.upgrade()
    await db.upgrade()  # idempotent: a second run (another instance starting) changes nothing
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    await db.dispose()
    assert diff == []
    assert version == "0017"


# Every index on the tables each interactive update writes, and the query that reads it:
# an index costs every update one more B-tree write (issue 20, migration 0017), so one
# nothing reads is dropped, and a new one names its reader here.
READ_BY = {
    "merchant": {
        "ix_merchant_last_seen": "bot.storage.erase (retention sweep), /stats active_week",
    },
    "event": {
        "ix_event_merchant_id": "bot.storage.turn_reads.last_event, erase, broadcast segment",
    },
    "inbox": {
        "ix_inbox_due": "bot.storage.inbox claim (pending, lease expired)",
        "ix_inbox_received_at": "bot.storage.inbox prune",
    },
    "merchant_funnel": {},
}


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_the_tables_every_update_writes_carry_only_indexes_something_reads(
    db_url: str,
) -> None:
    db = Database(db_url)
    await db.upgrade()
    async with db.engine.connect() as conn:
        found = await conn.run_sync(
            lambda sync: {
                table: {index["name"] for index in inspect(sync).get_indexes(table)}
                for table in READ_BY
            }
        )
    await db.dispose()
    assert found == {table: set(readers) for table, readers in READ_BY.items()}


def test_the_shipped_head_is_read_from_the_files_as_alembic_reads_it() -> None:
    # script_head() spares start-up the alembic import; it must agree with alembic.
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert script_head() == head == "0017"


async def test_a_database_at_head_is_not_migrated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    await db.upgrade()  # creates the schema through alembic

    def migrate(_connection: object) -> None:
        raise AssertionError("alembic ran on a database already at head")

    monkeypatch.setattr(storage_db, "_run_upgrade", migrate)
    await db.upgrade()  # recognised by one SELECT of alembic_version
    async with db.engine.connect() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0012'"))
        await conn.commit()
    with pytest.raises(AssertionError, match="alembic ran"):
        await db.upgrade()  # behind head: alembic decides, as before
    await db.dispose()


@pytest.mark.slow
def test_starting_the_bot_does_not_import_alembic_or_icalendar() -> None:
    # About 0.3 s of CPU at every start (alembic pulls in mako and pygments); both are
    # imported where they are used: migrating a database behind head, exporting a calendar.
    code = "import sys, bot.modes; print(sorted({'alembic', 'icalendar'} & set(sys.modules)))"
    env = {**os.environ, "PTB_TIMEDELTA": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
