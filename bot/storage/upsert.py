"""``INSERT ... ON CONFLICT`` for the database in use: PostgreSQL's or SQLite's construct."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import Insert as SQLiteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert


def insert(table: Table, *, postgres: bool) -> PostgresInsert | SQLiteInsert:
    """An INSERT into ``table`` that can say ``on_conflict_do_nothing/do_update``."""
    if postgres:
        # Imported here, not at the top: sqlalchemy.dialects.postgresql loads the dialects of
        # all its drivers (asyncpg, psycopg, pg8000...), ~30 ms of every start (issue 20) that
        # a SQLite deployment never uses; on PostgreSQL the engine has loaded it already.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    return sqlite_insert(table)
