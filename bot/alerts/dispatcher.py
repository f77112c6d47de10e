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
  counted). 5xx, network errors and timeouts: retried with exponential back-off capped at
  ``backoff_cap``, for as long as the reminder is useful (:meth:`AlertSource.useful_until`,
  e.g. until its deadline); the last try is at least ``last_try_before`` ahead of that
  horizon, and a failure after it marks the row ``expired`` with the reason in ``error``.
  A send whose answer never came (:func:`unanswered`: a read timeout or a connection lost
  after the request went out) may have been delivered: Telegram has no idempotency key. It
  is logged with its outbox row and key and sent once more, after ``unanswered_delay`` (so
  it may arrive twice); a second unanswered send makes the row ``unconfirmed`` and it is not
  sent again. A refused connection, a connect timeout or a 5xx is not ambiguous.
  Other 400s: ``failed`` at once (the message itself is wrong). 403 (or "chat not found"):
  the merchant's alerts are switched off and their pending rows cancelled (by the
  :class:`AlertSource`).
* A source may answer "not now" for a claimed row (``Prepared.later``, e.g. the merchant's
  quiet hours began since it was queued): the row is due again then, no attempt counted.
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

import aiohttp
import httpx
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
    TimedOut,
)
from telegram.ext import ExtBot

from bot.botapi.budget import RateBudget
from bot.botapi.markup import markup
from bot.botapi.ratelimiter import OUTBOX
from bot.storage.db import Database
from bot.storage.models import Outbox, OutboxStatus, utcnow
from bot.views.model import Screen

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = [
    "AlertSource",
    "Claimed",
    "Dispatcher",
    "Prepared",
    "Routed",
    "claim",
    "unanswered",
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
    unanswered: int = 0


@dataclass(frozen=True)
class Prepared:
    """A claimed row made ready: the message to send, ``None`` to cancel the row, or
    ``later``: not now (e.g. the merchant's quiet hours), due again then, nothing counted."""

    row: Claimed
    chat_id: int
    screen: Screen | None
    reason: str | None = None
    later: datetime | None = None


class AlertSource(Protocol):
    """What the dispatcher needs from the alert feature (rendering and merchant state)."""

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Render claimed rows at send time (``screen=None`` cancels a row)."""
        ...

    async def blocked(self, session: AsyncSession, merchant_id: int) -> None:
        """The merchant blocked the bot: switch alerts off and cancel pending rows."""
        ...

    def useful_until(self, row: Claimed) -> datetime | None:
        """Until when a row is worth retrying; ``None``: do not retry it."""
        ...

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """Follow-ups after rows were marked sent (e.g. schedule the next nudge)."""
        ...


@dataclass
class Routed:
    """Several features sharing one outbox: rows go to the source their key prefix names
    (``bc:`` to broadcasts), every other row to ``default`` (the reminders).

    A block (403) is the default source's business (it marks the merchant blocked and cancels
    every pending row, whatever its feature).
    """

    default: AlertSource
    by_prefix: dict[str, AlertSource] = field(default_factory=dict)

    def source_of(self, key: str) -> AlertSource:
        """The source that owns rows with this key."""
        for prefix, source in self.by_prefix.items():
            if key.startswith(prefix):
                return source
        return self.default

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Each source renders its own rows."""
        groups: dict[int, tuple[AlertSource, list[Claimed]]] = {}
        for row in rows:
            source = self.source_of(row.key)
            groups.setdefault(id(source), (source, []))[1].append(row)
        out: list[Prepared] = []
        for source, mine in groups.values():
            out.extend(await source.prepare(mine))
        return out

    async def blocked(self, session: AsyncSession, merchant_id: int) -> None:
        """The merchant blocked the bot."""
        await self.default.blocked(session, merchant_id)

    def useful_until(self, row: Claimed) -> datetime | None:
        """As the row's own source says."""
        return self.source_of(row.key).useful_until(row)

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """Each source's follow-ups for its rows."""
        groups: dict[int, tuple[AlertSource, list[Claimed]]] = {}
        for row in rows:
            source = self.source_of(row.key)
            groups.setdefault(id(source), (source, []))[1].append(row)
        for source, mine in groups.values():
            await source.sent(session, mine)


Kind = Literal[
    "sent", "retry", "unanswered", "failed", "blocked", "cancelled", "released", "deferred"
]

# Failures that prove the request never reached Telegram: nothing can have been sent.
_NOT_SENT: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,  # refused, DNS, TLS handshake
    aiohttp.ConnectionTimeoutError,  # no pooled or new connection in time
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures after the request was (maybe) written: Telegram may have acted on it.
_ANSWER_LOST: tuple[type[BaseException], ...] = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientPayloadError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def unanswered(exc: BaseException) -> bool:
    """Whether a failed call may still have been carried out by Telegram (ambiguous).

    A timeout is, unless it happened while connecting; a network error is when the
    connection broke after the request went out. Answers from Telegram (any status code)
    and refused connections are not.
    """
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, _NOT_SENT) for c in causes):
        return False
    if isinstance(exc, TimedOut):
        return True
    return any(isinstance(c, _ANSWER_LOST) for c in causes)


@dataclass
class _Result:
    row: Claimed
    kind: Kind
    error: str | None = None
    later: datetime | None = None  # "deferred": the new due time


async def claim(
    db: Database, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Lease up to ``limit`` due pending rows (oldest first) in one short transaction."""
    t = _TABLE
    until = now + lease
    due = (
        select(t.c.id)
        .where(
            t.c.status == OutboxStatus.PENDING,
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
        .returning(t.c.id, t.c.merchant_id, t.c.key, t.c.due_at, t.c.attempts, t.c.unanswered)
    )
    async with db.session() as session:
        conn = await session.connection()
        result = await conn.execute(stmt)
        rows = result.all()
    claimed = [Claimed(r[0], r[1], r[2], r[3], r[4], until, r[5]) for r in rows]
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
    backoff_base: float = 2.0
    backoff_cap: float = 120.0
    last_try_before: timedelta = timedelta(minutes=1)
    unanswered_delay: timedelta = timedelta(minutes=1)
    max_unanswered: int = 2
    idle_seconds: float = 1.0
    db_retry_seconds: float = 5.0
    # Told after every round whether the database answered (the database-up gauge).
    on_database: Callable[[bool], None] | None = None
    paid_broadcast: bool = False
    sent_count: int = 0
    failed_count: int = 0
    expired_count: int = 0  # given up: no longer useful after transient failures
    unanswered_count: int = 0
    cancelled_count: int = 0  # dropped at send time: no longer applied
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
        if item.later is not None:
            self._results.append(_Result(row, "deferred", item.reason, later=item.later))
            return
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
                kind: Kind = "unanswered" if unanswered(exc) else "retry"
                self._results.append(_Result(row, kind, str(exc) or type(exc).__name__))
            else:
                self._results.append(_Result(row, "sent"))
            return

    async def _flush(self) -> None:
        """Write the recorded outcomes in one transaction."""
        results, self._results = self._results, []
        now = self.clock()
        t = _TABLE
        ours = (t.c.lease_owner == self.owner, t.c.status == OutboxStatus.PENDING)
        sent = [r.row for r in results if r.kind == "sent"]
        try:
            async with self.db.session() as session:
                conn = await session.connection()
                if sent:
                    done = await conn.execute(
                        update(t)
                        .where(t.c.id.in_([r.id for r in sent]), *ours)
                        .values(
                            status=OutboxStatus.SENT,
                            sent_at=now,
                            lease_owner=None,
                            lease_until=None,
                        )
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
        ours = (
            t.c.id == row.id,
            t.c.lease_owner == self.owner,
            t.c.status == OutboxStatus.PENDING,
        )
        conn = await session.connection()
        free = {"lease_owner": None, "lease_until": None}
        if result.kind == "released":
            await conn.execute(update(t).where(*ours).values(**free))
        elif result.kind == "deferred":
            await conn.execute(update(t).where(*ours).values(due_at=result.later, **free))
        elif result.kind == "cancelled":
            self.cancelled_count += 1
            await conn.execute(
                update(t)
                .where(*ours)
                .values(status=OutboxStatus.CANCELLED, error=result.error, **free)
            )
        elif result.kind == "blocked":
            await self.source.blocked(session, row.merchant_id)
        elif result.kind == "failed":
            self.failed_count += 1
            error = (result.error or "")[:500]
            log.warning("alert %s failed: %s", row.key, error)
            await conn.execute(
                update(t)
                .where(*ours)
                .values(status=OutboxStatus.FAILED, attempts=row.attempts + 1, error=error, **free)
            )
        elif result.kind in ("retry", "unanswered"):
            attempts = row.attempts + 1
            error = result.error or ""
            horizon = self.source.useful_until(row)
            values: dict[str, Any] = {"attempts": attempts}
            if result.kind == "retry":
                retry_at = self._retry_at(attempts, now, horizon)
            else:
                self.unanswered_count += 1
                values["unanswered"] = count = row.unanswered + 1
                retry_at = self._retry_at(attempts, now, horizon, self.unanswered_delay)
                again = count < self.max_unanswered and retry_at is not None
                log.warning(
                    "alert outbox row %d (%s): send unanswered (%s), it may have arrived; %s",
                    row.id,
                    row.key,
                    error,
                    "sending it once more" if again else "not sending it again",
                )
                error = f"unanswered: {error}"
                if count >= self.max_unanswered:
                    values["status"] = OutboxStatus.UNCONFIRMED
                    error = f"unconfirmed: {count} sends unanswered; last error: {result.error}"
            if "status" not in values and retry_at is None:
                self.expired_count += 1
                until = f"{horizon:%Y-%m-%d %H:%M} UTC" if horizon else "unknown (key)"
                error = f"expired: useful until {until}; {attempts} attempts; last error: {error}"
                log.warning("alert %s %s", row.key, error)
                values["status"] = OutboxStatus.EXPIRED
            elif "status" not in values:
                values["due_at"] = retry_at
            await conn.execute(update(t).where(*ours).values(error=error[:500], **values, **free))

    def _retry_at(
        self,
        attempts: int,
        now: datetime,
        horizon: datetime | None,
        at_least: timedelta = timedelta(0),
    ) -> datetime | None:
        """When to try again after ``attempts`` transient failures; ``None``: give up."""
        if horizon is None:
            return None
        delay = timedelta(seconds=min(self.backoff_cap, self.backoff_base ** min(attempts, 64)))
        retry_at = min(now + max(delay, at_least), horizon - self.last_try_before)
        return retry_at if retry_at > now else None
