"""One asyncio send budget shared by everything the process sends to Telegram.

:class:`RateBudget` enforces two limits at once:

* a global rate: sends are spaced at least ``1 / global_rate`` seconds apart, so any
  1-second window (half-open, as measured by ``clock``) sees at most ``global_rate`` sends and
  there are never bursts;
* a per-chat minimum interval between two sends to the same chat.

Waiters are served first come, first served: per chat in call order, then globally in the
order they became eligible. Each call does O(1) work, and per-chat state is dropped once it no
longer constrains anything.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["FREE_GLOBAL_RATE", "PAID_GLOBAL_RATE", "RateBudget", "make_budget"]

log = logging.getLogger(__name__)

#: Telegram's documented free broadcast limit (messages per second across all chats).
FREE_GLOBAL_RATE = 30.0
#: Paid broadcast ceiling.
PAID_GLOBAL_RATE = 1000.0


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
                now = await self._wait_until(lambda: max(self._next_global, self._paused_until))
                self._next_global = now + self._spacing
                state.last_sent = now
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


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def make_budget(send_rate: float, allow_paid_broadcast: bool) -> RateBudget:
    """The process-wide budget: SEND_RATE, capped at 30/s unless paid broadcast is allowed."""
    cap = PAID_GLOBAL_RATE if allow_paid_broadcast else FREE_GLOBAL_RATE
    if send_rate > cap:
        log.warning("SEND_RATE %.0f is above %.0f msg/s; using %.0f", send_rate, cap, cap)
    return RateBudget(min(send_rate, cap), per_chat_interval=1.0)
