"""Live content across processes: the reload request every instance polls, and heartbeats.

``content_reload`` is one row whose ``generation`` goes up when an operator asks for a reload
(the console's button, or any instance's SIGHUP-free request); every process reads it on
each poll (one primary-key lookup) and reloads its own content folder when it moved on.
``instance`` is one row per running process with the content hash it runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, delete, select

from bot.storage.db import Database
from bot.storage.models import ContentReload, Instance
from bot.storage.upsert import insert

__all__ = [
    "forget_instance",
    "heartbeat",
    "list_instances",
    "reload_generation",
    "request_reload",
]

_NAME = "global"
#: Rows of processes not seen for this long are deleted at the next heartbeat of anyone.
FORGET_AFTER = timedelta(days=1)


async def request_reload(db: Database, *, by: str | None, now: datetime) -> int:
    """Ask every instance to reload its content; returns the new generation."""
    table = ContentReload.__table__  # type: ignore[attr-defined]
    statement = insert(table, postgres=db.is_postgres).values(
        name=_NAME, generation=1, requested_at=now, requested_by=by
    )
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "generation": table.c.generation + 1,
            "requested_at": now,
            "requested_by": by,
        },
    )
    async with db.session() as session:
        conn = await session.connection()
        await conn.execute(statement)
        found = await session.exec(
            select(ContentReload.generation).where(ContentReload.name == _NAME)
        )
        return int(found.one())


async def reload_generation(db: Database) -> int:
    """The current reload generation (0 before the first request)."""
    async with db.session() as session:
        found = await session.exec(
            select(ContentReload.generation).where(ContentReload.name == _NAME)
        )
        value = found.first()
    return int(value) if value is not None else 0


async def heartbeat(db: Database, row: Instance) -> None:
    """Write this process's row (insert or update), and forget long-gone processes."""
    async with db.session() as session:
        found = await session.get(Instance, row.id)
        if found is None:
            session.add(Instance.model_validate(row.model_dump()))
        else:
            found.role = row.role
            found.host = row.host
            found.pid = row.pid
            found.content_hash = row.content_hash
            found.generation = row.generation
            found.problems = list(row.problems)
            found.started_at = row.started_at
            found.last_seen = row.last_seen
        await session.exec(
            delete(Instance).where(col(Instance.last_seen) < row.last_seen - FORGET_AFTER)
        )


async def forget_instance(db: Database, instance_id: str) -> None:
    """Remove this process's row (at a clean shutdown)."""
    async with db.session() as session:
        await session.exec(delete(Instance).where(col(Instance.id) == instance_id))


async def list_instances(db: Database) -> list[Instance]:
    """Every known process, most recently seen first."""
    async with db.session() as session:
        found = await session.exec(select(Instance).order_by(col(Instance.last_seen).desc()))
        return list(found.all())
