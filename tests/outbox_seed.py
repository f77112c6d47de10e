"""Seed an outbox with due alerts, fast (shared by the dispatcher tests and benchmarks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from bot.alerts.keys import target_stamp
from bot.storage.db import Database
from bot.storage.models import Merchant, Outbox


async def seed_due_alerts(
    db: Database,
    count: int,
    due: datetime,
    *,
    deadline: datetime,
    first_id: int = 10_000,
    chunk_size: int = 2000,
) -> None:
    """``count`` subscribed merchants, each with one due ``deadline:1d`` alert."""
    key = f"deadline:1d@{target_stamp('deadline', deadline)}"
    ids = range(first_id, first_id + count)
    async with db.session() as session:
        conn = await session.connection()
        for start in range(0, count, chunk_size):
            chunk = ids[start : start + chunk_size]
            await conn.execute(
                insert(Merchant),
                [
                    {
                        "id": i, "chat_id": i, "first_seen": due, "last_seen": due,
                        "blocked": False, "answers": {}, "path": [], "mode": "interview",
                        "interview_version": 1, "alerts_on": True, "nudge_on": False,
                        "timezone": "UTC",
                    }
                    for i in chunk
                ],
            )  # fmt: skip
            await conn.execute(
                insert(Outbox),
                [
                    {"merchant_id": i, "key": key, "due_at": due, "status": "pending",
                     "attempts": 0}
                    for i in chunk
                ],
            )  # fmt: skip
