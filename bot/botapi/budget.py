"""One asyncio send budget shared by everything the process sends to Telegram.

:class:`RateBudget` enforces two limits at once:

* a global rate: sends are spaced at least ``1 / global_rate`` seconds apart, so any
  1-second window (half-open, as measured by ``clock``) sees at most ``global_rate`` sends and
  there are never bursts;
* a per-chat minimum interval between two sends to the same chat.

On PostgreSQL the global rate is shared by every process on the database
(:class:`SharedBudget`: send slots leased in small batches); on SQLite (one process) it is
this process's own.

Waiters are served first come, first served: per chat in call order, then globally in the
order they became eligible. Each call does O(1) work, and per-chat state is dropped once it no
longer constrains anything.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = [
    "FREE_GLOBAL_RATE",
    "PAID_GLOBAL_RATE",
    "LeaseSlots",
    "RateBudget",
    "SharedBudget",
    "make_budget",
]

log = logging.getLogger(__name__)

#: Telegram's documented free broadcast limit (messages per second across all chats).
FREE_GLOBAL_RATE = 30.0
#: Paid broadcast ceiling.
PAID_GLOBAL_RATE = 1000.0
#: Seconds of sending a :class:`SharedBudget` leases at a time.
LEASE_SECONDS = 0.2
#: How many recent lease round trips estimate the lender's clock (the quickest one wins).
OFFSET_READINGS = 50


class _ChatState:
    """Bookkeeping for one chat: last send, the queue tail and how many calls are waiting."""

    __slots__ = ("last_sent", "pending", "tail")

    def __init__(self) -> None:
        self.last_sent = -math.inf
        self.pending = 0
        self.tail: asyncio.Future[None] | None = None


class RateBudget:
    """Global token spacing plus a per-chat minimum interval, fair under concurrency."""

    def __init__(
        self,
        global_rate: float,
        per_chat_interval: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Create a budget.

        Args:
            global_rate: Maximum sends per second across all chats (> 0).
            per_chat_interval: Minimum seconds between two sends to one chat (>= 0).
            clock: Monotonic clock in seconds (injectable for tests).
            sleep: Coroutine function sleeping for the given seconds (injectable for tests).

        Raises:
            ValueError: For a non-positive rate or a negative interval.
        """
        if not global_rate > 0 or math.isinf(global_rate):
            raise ValueError(f"global_rate must be a positive number, got {global_rate}")
        if not per_chat_interval >= 0 or math.isinf(per_chat_interval):
            raise ValueError(f"per_chat_interval must be >= 0, got {per_chat_interval}")
        self.global_rate = global_rate
        self.per_chat_interval = per_chat_interval
        self._spacing = 1.0 / global_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()  # FIFO: the global queue
        self._next_global = -math.inf
        self._paused_until = -math.inf
        self._chats: dict[int, _ChatState] = {}
        self._expiries: deque[tuple[float, int]] = deque()

    @property
    def tracked_chats(self) -> int:
        """How many chats currently have state (waiting calls or a recent send)."""
        return len(self._chats)

    @property
    def paused_until(self) -> float:
        """Clock reading before which nothing is sent (after :meth:`penalise`)."""
        return self._paused_until

    def penalise(self, seconds: float) -> None:
        """Pause all sending for ``seconds`` from now (e.g. Telegram's 429 ``retry_after``).

        Overlapping penalties do not add up: the pause ends at the latest requested moment.
        """
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def next_global_slot(self) -> float:
        """The earliest clock time at which a waiting sender may send next."""
        return self._next_global

    def consume(self) -> None:
        """Count a send that does not wait its turn (a reply to a merchant who is chatting).

        Replies go out at once; waiting senders (the alert outbox) are pushed back by one
        slot each, so together they stay near the global rate while people come first.
        """
        self._next_global = max(self._next_global, self._clock()) + self._spacing

    async def reply(self) -> None:
        """Count a reply to a merchant: wait out a 429 pause only, then go (see consume)."""
        await self.wait_pause()
        self.consume()

    async def _global_turn(self) -> float:
        """Wait for the next global send slot (under the FIFO lock); return the send time."""
        now = await self._wait_until(lambda: max(self._next_global, self._paused_until))
        self._next_global = now + self._spacing
        return now

    async def wait_pause(self) -> None:
        """Wait out a 429 pause (``penalise``) if one is running."""
        await self._wait_until(lambda: self._paused_until)

    async def acquire(self, chat_id: int) -> None:
        """Wait until one message may be sent to ``chat_id``; the caller then sends it at once.

        Cancelling a waiting call gives its place up without blocking later callers.
        """
        self._forget_expired(self._clock())
        state = self._chats.get(chat_id)
        if state is None:
            state = self._chats[chat_id] = _ChatState()
        previous = state.tail
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.tail = mine
        state.pending += 1
        try:
            if previous is not None and not previous.done():
                await previous
            await self._wait_until(lambda: state.last_sent + self.per_chat_interval)
            async with self._lock:
                state.last_sent = await self._global_turn()
        finally:
            state.pending -= 1
            if previous is None or previous.done():
                _resolve(mine)
            else:  # cancelled while queued: the next caller still waits for our predecessor
                previous.add_done_callback(lambda _: _resolve(mine))
            if state.tail is mine and mine.done():
                state.tail = None
            if not state.pending:
                self._schedule_forget(chat_id, state)

    async def _wait_until(self, moment: Callable[[], float]) -> float:
        """Sleep until ``clock() >= moment()`` (re-evaluated after each sleep); return now."""
        now = self._clock()
        while (wait := moment() - now) > 0:
            await self._sleep(wait)
            now = self._clock()
        return now

    def _schedule_forget(self, chat_id: int, state: _ChatState) -> None:
        """Forget an idle chat now, or remember when its last send stops mattering."""
        expiry = state.last_sent + self.per_chat_interval
        if expiry > self._clock():
            self._expiries.append((expiry, chat_id))
        elif self._chats.get(chat_id) is state:
            del self._chats[chat_id]

    def _forget_expired(self, now: float) -> None:
        """Drop chats whose last send no longer constrains anything (amortised O(1))."""
        while self._expiries and self._expiries[0][0] <= now:
            _, chat_id = self._expiries.popleft()
            state = self._chats.get(chat_id)
            if (
                state is not None
                and not state.pending
                and state.last_sent + self.per_chat_interval <= now
            ):
                del self._chats[chat_id]


#: Leases ``count`` global send slots ``spacing`` apart, none before ``pause`` seconds from now;
#: returns the end of the leased run and the lender's clock (both seconds, its own epoch).
LeaseSlots = Callable[[int, float, float], Awaitable[tuple[float, float]]]


class SharedBudget(RateBudget):
    """A :class:`RateBudget` whose global rate is shared with other processes.

    Global send slots are leased in small batches (about :data:`LEASE_SECONDS` of sending
    each) from a lender every process asks (PostgreSQL: :mod:`bot.storage.send_slots`), so
    the sum over all processes stays at ``global_rate`` while a send rarely waits for the
    database. Slots not used in time are dropped, never sent late. Replies go at once (people
    come first) and take the next leased slot, so waiting senders yield to them; the
    per-chat interval stays per process. A 429 pauses this process and moves the shared
    budget on for the others. If the lender cannot be reached, this process falls back to
    its own spacing (as without sharing) and says so.
    """

    def __init__(
        self,
        global_rate: float,
        per_chat_interval: float = 1.0,
        *,
        lease: LeaseSlots,
        batch: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Create a budget leasing ``batch`` slots at a time (default: LEASE_SECONDS' worth)."""
        super().__init__(global_rate, per_chat_interval, clock=clock, sleep=sleep)
        self._lease = lease
        self.batch = batch or max(1, round(global_rate * LEASE_SECONDS))
        self._slots: deque[float] = deque()
        self._leasing: asyncio.Future[None] | None = None
        self._lender_down = False
        self._offsets: deque[float] = deque(maxlen=OFFSET_READINGS)
        self.leases = 0  # how many times slots were leased (for tests and metrics)
        self.dropped = 0  # slots that passed unused

    def penalise(self, seconds: float) -> None:
        """Pause here and, in the background, for every process sharing the budget."""
        super().penalise(seconds)
        if seconds > 0:
            self._slots.clear()
            task = asyncio.ensure_future(self._share_pause(seconds))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _share_pause(self, seconds: float) -> None:
        try:
            await self._lease(0, self._spacing, seconds)
        except Exception as exc:  # others will meet the 429 themselves
            log.warning("could not share a 429 pause: %s", type(exc).__name__)

    async def reply(self) -> None:
        """Count a reply to a merchant: wait out a 429 pause only, then go, as with one
        process (:meth:`RateBudget.reply`). It takes the next leased slot all the same
        (leasing more when none is left), so the senders that wait their turn, here and in
        the other processes, come after it."""
        await self.wait_pause()
        await self._take_slot()

    async def _global_turn(self) -> float:
        """Wait for a leased slot; one woken too late (a busy loop) is dropped, not used."""
        while True:
            slot = await self._take_slot()
            now = await self._wait_until(functools.partial(self._after_pause, slot))
            if now - slot <= self._spacing or self._paused_until >= slot:
                return now
            self.dropped += 1

    def _after_pause(self, moment: float) -> float:
        return max(moment, self._paused_until)

    async def _take_slot(self) -> float:
        """The earliest leased slot still usable (leasing more when none is left)."""
        while True:
            stale = self._clock() - self._spacing
            while self._slots and self._slots[0] < stale:
                self._slots.popleft()
                self.dropped += 1
            if self._slots:
                return self._slots.popleft()
            leasing = self._leasing
            if leasing is None or leasing.done():
                leasing = self._leasing = asyncio.ensure_future(self._lease_batch())
            await asyncio.shield(leasing)

    async def _lease_batch(self) -> None:
        count = self.batch
        try:
            end, lender_now = await self._lease(count, self._spacing, 0.0)
        except Exception as exc:
            if not self._lender_down:
                log.warning(
                    "shared send budget unreachable (%s): this process paces itself alone",
                    type(exc).__name__,
                )
                self._lender_down = True
            start = max(self._next_global, self._clock())
            self._next_global = start + count * self._spacing
            self._slots.extend(start + i * self._spacing for i in range(count))
            return
        if self._lender_down:
            log.warning("shared send budget reachable again")
            self._lender_down = False
        self.leases += 1
        # The lender's moments on our clock. A reading is late by the round trip (and by any
        # time the loop was busy), so the smallest of the recent ones is the closest.
        self._offsets.append(self._clock() - lender_now)
        offset = min(self._offsets)
        first = end - count * self._spacing + offset
        self._slots.extend(first + i * self._spacing for i in range(count))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def make_budget(
    send_rate: float, allow_paid_broadcast: bool, *, shared: LeaseSlots | None = None
) -> RateBudget:
    """The process-wide budget: SEND_RATE, capped at 30/s unless paid broadcast is allowed.

    With ``shared`` (PostgreSQL), the rate is for all processes together (:class:`SharedBudget`).
    """
    cap = PAID_GLOBAL_RATE if allow_paid_broadcast else FREE_GLOBAL_RATE
    if send_rate > cap:
        log.warning("SEND_RATE %.0f is above %.0f msg/s; using %.0f", send_rate, cap, cap)
    if shared is not None:
        return SharedBudget(min(send_rate, cap), per_chat_interval=1.0, lease=shared)
    return RateBudget(min(send_rate, cap), per_chat_interval=1.0)
