"""The merchant row as one update's turn reads and writes it: with Core, not the ORM.

Why (issue 20): every interactive update loads one merchant row locked and writes it back.
Through the ORM that was about 30 % of the bot's event-loop samples (py-spy under
``benchmarks/bench_interview``): ``Session.get(..., with_for_update=True)`` (identity map,
loading) about 15 %, the unit of work's flush at commit about 14 %. Here the row is read by
one ``SELECT ... FOR UPDATE`` built once, the :class:`Merchant` is built outside any session,
and at commit one ``UPDATE merchant SET <the columns that changed> WHERE id = ...`` is sent
(none when nothing changed). The services keep setting ``turn.merchant.x = ...`` as before.

A merchant created in the turn (first contact) stays on the ORM path (``session.add``).
The database triggers on merchant (migration 0015) fire on this UPDATE as on the ORM's.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import JSON, Table, bindparam, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import configure_mappers

from bot.storage.db import Database, read_locked
from bot.storage.models import Merchant

_TABLE: Table = Merchant.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(column.name for column in _TABLE.c)
# Columns holding JSON (answers, path, edit_before): lists and dicts a service may change in
# place, so they are compared by value against a deep copy taken at load.
_JSON = frozenset(column.name for column in _TABLE.c if isinstance(column.type, JSON))
# Built once (each update runs them): on PostgreSQL the read locks the row (see lock()).
_LOCK = select(_TABLE).where(_TABLE.c.id == bindparam("merchant_id")).with_for_update()
# The SET list is the parameters given (only the changed columns), the row is ``merchant_id``.
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("merchant_id"))


class StoredMerchant:
    """A merchant loaded by :func:`lock`, and their column values as loaded."""

    def __init__(self, values: dict[str, Any]) -> None:
        configure_mappers()  # a no-op once done; needed before the first object is built
        # The merchant is built as the ORM builds a loaded object (a new instance, its
        # columns put in its __dict__), but in no session: nothing tracks it, nothing
        # flushes it. Merchant(**values) would run pydantic's construction (~0.3 ms).
        merchant: Merchant = inspect(Merchant).class_manager.new_instance()
        merchant.__dict__.update(values)
        self.merchant = merchant
        self._stored = {
            name: copy.deepcopy(value) if name in _JSON else value
            for name, value in values.items()
        }

    def changes(self) -> dict[str, Any]:
        """The columns whose values differ from the stored ones (JSON by value)."""
        current = self.merchant.__dict__
        return {
            name: current[name]
            for name in _COLUMNS
            if name in current and current[name] != self._stored[name]
        }

    async def write(self, conn: AsyncConnection) -> bool:
        """Send the changed columns (one UPDATE, none if nothing changed); True if sent.

        What is sent becomes the stored state, so a second call sends only what changed
        after the first.
        """
        changed = self.changes()
        if not changed:
            return False
        await conn.execute(_UPDATE, {**changed, "merchant_id": self.merchant.id})
        for name, value in changed.items():
            self._stored[name] = copy.deepcopy(value) if name in _JSON else value
        return True


async def lock(
    db: Database, conn: AsyncConnection, merchant_id: int, *, lock_key: int
) -> StoredMerchant | None:
    """The merchant, their row locked until the transaction ends (PostgreSQL; see
    :func:`bot.storage.db.read_locked`: a first contact takes an advisory lock instead)."""

    async def read() -> StoredMerchant | None:
        row = (await conn.execute(_LOCK, {"merchant_id": merchant_id})).mappings().first()
        return None if row is None else StoredMerchant(dict(row))

    return await read_locked(db, conn, read, lock_key=lock_key)
