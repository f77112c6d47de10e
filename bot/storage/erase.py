"""What the bot stores about a merchant: export it, erase it, and expire it (retention)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.storage.db import Database, request_checkpoint
from bot.storage.models import Event, Merchant, Outbox, StepProgress, utcnow

log = logging.getLogger(__name__)

# Every table that holds rows about one merchant, and the column that names them.
PERSONAL_TABLES: tuple[tuple[type[Any], Any], ...] = (
    (StepProgress, StepProgress.merchant_id),
    (Outbox, Outbox.merchant_id),
    (Event, Event.merchant_id),
)


def _plain(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = row.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


async def export_rows(session: AsyncSession, merchant_id: int) -> dict[str, Any]:
    """Everything stored about one merchant, as JSON-ready data."""
    merchant = await session.get(Merchant, merchant_id)
    result: dict[str, Any] = {"merchant": _plain(merchant) if merchant else None}
    for table, column in PERSONAL_TABLES:
        rows = await session.exec(select(table).where(column == merchant_id))
        result[table.__tablename__] = [_plain(r) for r in rows]
    return result


def export_json(data: dict[str, Any], exported_at: datetime) -> bytes:
    """The export file's bytes."""
    document = {"exported_at": exported_at.isoformat(), **data}
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()


async def erase(session: AsyncSession, merchant_id: int) -> dict[str, int]:
    """Delete every row about the merchant; return how many rows of each kind went.

    On SQLite the deleted rows are overwritten (``secure_delete``) and the WAL is
    checkpointed and truncated once the session commits, so nothing erased stays on disk.
    """
    request_checkpoint(session)
    counts: dict[str, int] = {}
    for table, column in PERSONAL_TABLES:
        result = await session.exec(delete(table).where(col(column) == merchant_id))
        counts[table.__tablename__] = result.rowcount or 0
    result = await session.exec(delete(Merchant).where(col(Merchant.id) == merchant_id))
    counts["merchant"] = result.rowcount or 0
    return counts


async def prune_inactive(db: Database, *, older_than: datetime, batch: int = 500) -> int:
    """Erase merchants not seen since ``older_than``; return how many were erased."""
    erased = 0
    while True:
        async with db.session() as session:
            rows = await session.exec(
                select(Merchant.id).where(col(Merchant.last_seen) < older_than).limit(batch)
            )
            ids = list(rows)
            for merchant_id in ids:
                await erase(session, merchant_id)
        erased += len(ids)
        if len(ids) < batch:
            return erased


def retention_loop(
    db: Database,
    days: int,
    *,
    clock: Callable[[], datetime] = utcnow,
    every: timedelta = timedelta(hours=6),
) -> Callable[[asyncio.Event], Any]:
    """A background loop that enforces RETENTION_DAYS until stopped."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                erased = await prune_inactive(db, older_than=clock() - timedelta(days=days))
                if erased:
                    log.info("retention: erased %d inactive merchant(s)", erased)
            except Exception:
                log.exception("retention pass failed; will retry")
            try:
                await asyncio.wait_for(stop.wait(), every.total_seconds())
            except TimeoutError:
                continue

    return loop
