"""Migrations: they build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401 - registers the tables
from bot.storage.db import Database


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
    assert version == "0015"
