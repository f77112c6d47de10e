"""Send slots leased from PostgreSQL: one global send rate for every process on a database.

One row (``send_budget``) holds the next free moment on the database's clock. A process
leases ``count`` slots ``spacing`` seconds apart in one statement (the row lock orders
concurrent leases), so slots handed to different processes never overlap; a pause (a 429)
moves the row on for everybody.
"""

from __future__ import annotations

from sqlalchemy import text

from bot.storage.db import Database

__all__ = ["lease_slots"]

_NAME = "global"
_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS double precision)"
_PAUSE = "CAST(:pause AS double precision)"
_RUN = "CAST(:count AS integer) * CAST(:spacing AS double precision)"
_LEASE = text(
    f"""
    INSERT INTO send_budget (name, next_slot)
    VALUES (:name, {_NOW} + {_PAUSE} + {_RUN})
    ON CONFLICT (name) DO UPDATE SET next_slot =
        GREATEST(send_budget.next_slot, {_NOW} + {_PAUSE}) + {_RUN}
    RETURNING next_slot, {_NOW}
    """
)


async def lease_slots(
    db: Database, count: int, spacing: float, pause: float
) -> tuple[float, float]:
    """Lease ``count`` slots (none with ``count=0``), not before ``pause`` seconds from now.

    Returns the end of the leased run and the database's clock, both in Unix seconds: the
    slots are ``end - (count - i) * spacing`` for ``i`` in ``range(count)``.
    """
    params = {"name": _NAME, "count": count, "spacing": spacing, "pause": max(0.0, pause)}
    async with db.session() as session:
        conn = await session.connection()
        row = (await conn.execute(_LEASE, params)).one()
    return float(row[0]), float(row[1])
