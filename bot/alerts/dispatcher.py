"""The alert dispatcher: claims due outbox rows under a lease, sends them, records outcomes.

Delivery rules:

* Claiming is one short write transaction that stamps ``lease_owner``/``lease_until`` on a
  batch of due, unleased pending rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so several
  dispatchers never claim the same row; SQLite: one ``UPDATE ... RETURNING`` under the write
  lock). A process that dies leaves leases that expire, and the rows become claimable again.
* Each row is rendered right after it is claimed (the text says how long is left *now*), then
  waits for the process-wide :class:`~bot.botapi.budget.RateBudget` and is sent. A row whose lease
  is about to run out is not sent (another dispatcher may own it soon); it is retried later.
* Outcomes are written in small groups; a row only becomes ``sent`` when the update also
  proves the lease is still ours (``lease_owner`` matches and the row is still pending).
* 429: the whole budget pauses for ``retry_after`` and the send is retried (no attempt is
  counted). 5xx and network errors: exponential back-off, at most ``max_attempts`` tries,
  then ``failed`` with the error. 403 (or "chat not found"): the merchant's alerts are
  switched off and their pending rows cancelled (by the :class:`AlertSource`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Table, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.botapi.budget import RateBudget
from bot.botapi.markup import markup
from bot.botapi.ratelimiter import OUTBOX
from bot.storage.db import Database
from bot.storage.models import Outbox, utcnow
from bot.views.screens import Screen

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = [
    "AlertSource",
    "Claimed",
    "Dispatcher",
    "Prepared",
    "claim",
]

_TABLE: Table = Outbox.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """One outbox row this dispatcher holds a lease on."""

    id: int
    merchant_id: int
    key: str
    due_at: datetime
    attempts: int
    lease_until: datetime


@dataclass(frozen=True)
class Prepared:
    """A claimed row made ready: the message to send, or ``None`` to cancel the row."""

    row: Claimed
    chat_id: int
    screen: Screen | None
    reason: str | None = None


class AlertSource(Protocol):
    """What the dispatcher needs from the alert feature (rendering and merchant state)."""

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Render claimed rows at send time (``screen=None`` cancels a row)."""
        ...

    async def blocked(self, session: AsyncSession, merchant_id: int) -> None:
        """The merchant blocked the bot: switch alerts off and cancel pending rows."""
        ...

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """Follow-ups after rows were marked sent (e.g. schedule the next nudge)."""
        ...


Kind = Literal["sent", "retry", "failed", "blocked", "cancelled", "released"]


@dataclass
class _Result:
    row: Claimed
    kind: Kind
    error: str | None = None


async def claim(
    db: Database, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due pending rows (oldest first) in one short transaction."""
    t = _TABLE
    until = now + lease
    due = (
        select(t.c.id)
        .where(
            t.c.status == "pending",
            t.c.due_at <= now,
            or_(t.c.lease_until.is_(None), t.c.lease_until < now),
        )
        .order_by(t.c.due_at)
        .limit(limit)
    )
    if db.is_postgres:
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(t)
        .where(t.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=owner, lease_until=until)
        .returning(t.c.id, t.c.merchant_id, t.c.key, t.c.due_at, t.c.attempts)
    )
    async with db.session() as session:
        conn = await session.connection()
        result = await conn.execute(stmt)
        rows = result.all()
    claimed = [Claimed(r[0], r[1], r[2], r[3], r[4], until) for r in rows]
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


@dataclass
class Dispatcher:
    """Sends due outbox rows through one rate budget; many may share one database."""

    db: Database
    bot: Bot
    source: AlertSource
    budget: RateBudget
    clock: Callable[[], datetime] = utcnow
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    batch_size: int = 100
    max_in_flight: int = 200
    lease: timedelta = timedelta(seconds=120)
    lease_margin: timedelta = timedelta(seconds=5)
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    idle_seconds: float = 1.0
    db_retry_seconds: float = 5.0
    # Told after every round whether the database answered (the database-up gauge).
    on_database: Callable[[bool], None] | None = None
    paid_broadcast: bool = False
    sent_count: int = 0
    failed_count: int = 0
    expired_count: int = 0  # cancelled at send time: no longer applied (metrics)
    _results: list[_Result] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def sized(
        cls, db: Database, bot: Bot, source: AlertSource, budget: RateBudget, **kwargs: Any
    ) -> Dispatcher:
        """A dispatcher whose batch and lease fit the budget's rate (about 2 s per batch)."""
        batch = int(max(10, min(500, budget.global_rate * 2)))
        kwargs.setdefault("batch_size", batch)
        kwargs.setdefault("max_in_flight", batch * 2)
        in_flight_seconds = kwargs["max_in_flight"] / budget.global_rate
        kwargs.setdefault("lease", timedelta(seconds=max(120.0, in_flight_seconds * 4)))
        return cls(db, bot, source, budget, **kwargs)

    async def run(self, stop: asyncio.Event) -> None:
        """Send due alerts until ``stop`` is set; errors are logged and the loop goes on.

        While the database is unreachable the loop retries every ``db_retry_seconds`` and
        logs one line when it goes away and one when it is back (no traceback per try).
        """
        log.info("alert dispatcher %s started", self.owner)
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            wait, up = self.idle_seconds, True
            try:
                await self._pump(stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                up = await self.db.ping()
                if up:
                    log.exception("alert dispatcher failed; retrying shortly")
                else:
                    wait = self.db_retry_seconds
                    if down_since is None:
                        down_since = loop.time()
                        log.warning(
                            "database unreachable (%s), retrying every %g s",
                            type(exc).__name__,
                            wait,
                        )
            if up and down_since is not None:
                log.warning("database back after %.0f s", loop.time() - down_since)
                down_since = None
            if self.on_database is not None:
                self.on_database(up)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        log.info("alert dispatcher %s stopped", self.owner)

    async def drain(self) -> int:
        """Send everything due now; return how many rows were sent (for tests and tools)."""
        before = self.sent_count
        await self._pump(None)
        return self.sent_count - before

    async def _pump(self, stop: asyncio.Event | None) -> None:
        """Claim, render and send until nothing is due (or ``stop`` is set), then flush."""
        in_flight: set[asyncio.Task[None]] = set()
        exhausted = False
        try:
            while True:
                stopping = stop is not None and stop.is_set()
                free = self.max_in_flight - len(in_flight)
                if not (stopping or exhausted) and (free >= self.batch_size // 2 or not in_flight):
                    want = min(free, self.batch_size)
                    rows = await claim(self.db, self.owner, self.clock(), self.lease, want)
                    exhausted = len(rows) < want
                    if rows:
                        for item in await self.source.prepare(rows):
                            in_flight.add(asyncio.create_task(self._deliver(item)))
                if self._results:
                    await self._flush()
                if not in_flight:
                    if stopping or exhausted:
                        return
                    continue
                _done, in_flight = await asyncio.wait(
                    in_flight, timeout=0.05, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            if in_flight:  # cancelled: keep what was already sent, give the rest back
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)
            if self._results:
                await asyncio.shield(self._flush())

    async def _deliver(self, item: Prepared) -> None:
        """Send one prepared row (retrying 429s); record the outcome for the next flush."""
        row = item.row
        if item.screen is None:
            self._results.append(_Result(row, "cancelled", item.reason))
            return
        kwargs: dict[str, Any] = {}
        if self.paid_broadcast:
            kwargs["allow_paid_broadcast"] = True
        while True:
            await self.budget.acquire(item.chat_id)
            if self.clock() >= row.lease_until - self.lease_margin:
                self._results.append(_Result(row, "released"))
                return
            if isinstance(self.bot, ExtBot):  # the budget was waited for above: don't count twice
                kwargs["rate_limit_args"] = {OUTBOX: True}
            try:
                await self.bot.send_message(
                    item.chat_id,
                    item.screen.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup(item.screen),
                    **kwargs,
                )
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                log.info("429 from Telegram: pausing sends for %.1f s", seconds)
                self.budget.penalise(seconds)
                continue
            except Forbidden as exc:
                self._results.append(_Result(row, "blocked", str(exc)))
            except BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    self._results.append(_Result(row, "blocked", str(exc)))
                else:  # our message is wrong: retrying will not help
                    self._results.append(_Result(row, "failed", str(exc)))
            except InvalidToken:
                raise
            except (NetworkError, TelegramError) as exc:
                self._results.append(_Result(row, "retry", str(exc) or type(exc).__name__))
            else:
                self._results.append(_Result(row, "sent"))
            return

    async def _flush(self) -> None:
        """Write the recorded outcomes in one transaction."""
        results, self._results = self._results, []
        now = self.clock()
        t = _TABLE
        ours = (t.c.lease_owner == self.owner, t.c.status == "pending")
        sent = [r.row for r in results if r.kind == "sent"]
        try:
            async with self.db.session() as session:
                conn = await session.connection()
                if sent:
                    done = await conn.execute(
                        update(t)
                        .where(t.c.id.in_([r.id for r in sent]), *ours)
                        .values(status="sent", sent_at=now, lease_owner=None, lease_until=None)
                    )
                    if done.rowcount != len(sent):
                        log.warning(
                            "%d sent alerts had lost their lease", len(sent) - done.rowcount
                        )
                    self.sent_count += len(sent)
                for result in results:
                    if result.kind != "sent":
                        await self._record(session, result, now)
                if sent:
                    await self.source.sent(session, sent)
        except BaseException:
            self._results[:0] = results  # try again at the next flush
            raise

    async def _record(self, session: AsyncSession, result: _Result, now: datetime) -> None:
        t = _TABLE
        row = result.row
        ours = (t.c.id == row.id, t.c.lease_owner == self.owner, t.c.status == "pending")
        conn = await session.connection()
        free = {"lease_owner": None, "lease_until": None}
        if result.kind == "released":
            await conn.execute(update(t).where(*ours).values(**free))
        elif result.kind == "cancelled":
            self.expired_count += 1
            await conn.execute(
                update(t).where(*ours).values(status="cancelled", error=result.error, **free)
            )
        elif result.kind == "blocked":
            await self.source.blocked(session, row.merchant_id)
        elif result.kind in ("retry", "failed"):
            attempts = row.attempts + 1
            error = (result.error or "")[:500]
            if result.kind == "failed" or attempts >= self.max_attempts:
                self.failed_count += 1
                log.warning("alert %s failed after %d attempts: %s", row.key, attempts, error)
                values: dict[str, Any] = {"status": "failed", "attempts": attempts}
            else:
                delay = min(self.backoff_cap, self.backoff_base**attempts)
                values = {"attempts": attempts, "due_at": now + timedelta(seconds=delay)}
            await conn.execute(update(t).where(*ours).values(error=error, **values, **free))
