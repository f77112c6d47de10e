"""Tests for bot.botapi.budget.RateBudget, driven by a fake clock and sleep."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest

from bot.botapi.budget import RateBudget

EPS = 1e-9


class FakeTime:
    """Virtual time: ``sleep`` parks the caller; ``run`` jumps to the next wake-up when idle."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), self._seq, future))
        self._seq += 1
        await future

    async def _settle(self) -> None:
        for _ in range(25):
            await asyncio.sleep(0)

    async def run(self, *coros: Awaitable[object]) -> None:
        tasks = [asyncio.ensure_future(c) for c in coros]
        try:
            while True:
                await self._settle()
                if all(t.done() for t in tasks):
                    break
                if not self._timers:
                    raise AssertionError("deadlock: tasks blocked with no timer pending")
                self.now = max(self.now, self._timers[0][0])
                while self._timers and self._timers[0][0] <= self.now:
                    _, _, future = heapq.heappop(self._timers)
                    if not future.done():
                        future.set_result(None)
        finally:
            for task in tasks:
                task.cancel()
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(rate: float, interval: float = 1.0) -> tuple[RateBudget, FakeTime]:
    fake = FakeTime()
    return RateBudget(rate, interval, clock=fake.clock, sleep=fake.sleep), fake


def recorder(
    budget: RateBudget, fake: FakeTime, log: list[tuple[float, int, int]]
) -> Callable[[int, int], Awaitable[None]]:
    async def send(chat_id: int, tag: int) -> None:
        await budget.acquire(chat_id)
        log.append((fake.now, chat_id, tag))

    return send


def assert_global_window(times: list[float], rate: int) -> None:
    times = sorted(times)
    for i in range(len(times) - rate):
        # rate + 1 consecutive sends never fit inside one half-open 1-second window
        assert times[i + rate] - times[i] >= 1.0 - EPS, (i, times[i], times[i + rate])


def assert_per_chat(log: list[tuple[float, int, int]], interval: float) -> None:
    by_chat: dict[int, list[float]] = defaultdict(list)
    for when, chat, _ in log:
        by_chat[chat].append(when)
    for chat, times in by_chat.items():
        for a, b in itertools.pairwise(times):
            assert b - a >= interval - EPS, (chat, a, b)


async def test_never_more_than_rate_in_any_second_and_chats_spaced() -> None:
    budget, fake = make(10)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    rng = random.Random(7)
    await fake.run(*(send(rng.randrange(40), i) for i in range(400)))
    assert len(log) == 400
    assert_global_window([t for t, _, _ in log], 10)
    assert_per_chat(log, 1.0)
    # And it is not needlessly slow: 400 sends at 10/s take at least 39.9 s; a busy chat
    # (18 calls here) queues behind other chats after each of its 1-second gaps, so allow a bit.
    assert 39.9 - EPS <= fake.now <= 39.9 * 1.15


async def test_sliding_window_count_with_arrivals_over_time() -> None:
    budget, fake = make(5, interval=0.5)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)

    async def late(delay: float, chat: int, tag: int) -> None:
        await fake.sleep(delay)
        await send(chat, tag)

    rng = random.Random(1)
    await fake.run(*(late(rng.uniform(0, 20), rng.randrange(8), i) for i in range(150)))
    times = sorted(t for t, _, _ in log)
    for start in times:
        in_window = [t for t in times if start <= t < start + 1.0 - EPS]
        assert len(in_window) <= 5
    assert_per_chat(log, 0.5)


async def test_same_chat_is_spaced_by_interval_even_with_spare_global_budget() -> None:
    budget, fake = make(1000, interval=1.0)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(*(send(42, i) for i in range(5)))
    assert [t for t, _, _ in log] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert [tag for _, _, tag in log] == [0, 1, 2, 3, 4]  # FIFO within a chat


async def test_global_order_is_fifo() -> None:
    budget, fake = make(2)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(*(send(chat, chat) for chat in range(20)))
    assert [tag for _, _, tag in log] == list(range(20))
    assert [t for t, _, _ in log] == pytest.approx([i * 0.5 for i in range(20)])


async def test_blocked_chat_does_not_hold_up_other_chats() -> None:
    budget, fake = make(10, interval=5.0)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(send(1, 0), send(1, 1), send(2, 2), send(3, 3))
    when = {tag: t for t, _, tag in log}
    assert when[0] == 0.0
    assert when[2] == pytest.approx(0.1)
    assert when[3] == pytest.approx(0.2)
    assert when[1] == pytest.approx(5.0)


async def test_penalise_pauses_everything() -> None:
    budget, fake = make(10)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(send(1, 0))
    budget.penalise(7.5)
    assert budget.paused_until == pytest.approx(7.5)
    await fake.run(send(2, 1), send(3, 2))
    assert [t for t, _, _ in log] == pytest.approx([0.0, 7.5, 7.6])


async def test_penalise_while_callers_are_waiting() -> None:
    budget, fake = make(10)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)

    async def hit_429() -> None:
        await fake.sleep(0.55)
        budget.penalise(3.0)

    await fake.run(hit_429(), *(send(chat, chat) for chat in range(20)))
    times = [t for t, _, _ in log]
    assert not [t for t in times if 0.55 < t < 3.55 - EPS]
    assert len([t for t in times if t <= 0.55]) == 6  # 0.0 .. 0.5
    assert times[6] == pytest.approx(3.55)
    assert_global_window(times, 10)
    budget.penalise(0)  # no-op
    budget.penalise(-3)
    assert budget.paused_until == pytest.approx(3.55)


async def test_penalties_do_not_stack() -> None:
    budget, _ = make(10)
    budget.penalise(5)
    budget.penalise(2)
    assert budget.paused_until == 5


@pytest.mark.parametrize(
    ("rate", "chats", "expected_seconds"),
    [
        (30, 1000, 999 / 30),  # global rate is the bottleneck
        (30, 10, 99.0),  # 100 sends per chat, 1 s apart, is the bottleneck
        (25, 400, 999 / 25),
    ],
)
async def test_thousand_concurrent_acquires(
    rate: int, chats: int, expected_seconds: float
) -> None:
    budget, fake = make(rate)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(*(send(i % chats, i) for i in range(1000)))
    assert len(log) == 1000
    assert fake.now == pytest.approx(expected_seconds, abs=0.5)
    assert_global_window([t for t, _, _ in log], rate)
    assert_per_chat(log, 1.0)
    # O(1) per call: each acquire sleeps a bounded number of times.
    assert fake.sleeps <= 2 * 1000


async def test_per_chat_state_is_cleaned_up() -> None:
    budget, fake = make(100)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(*(send(chat, chat) for chat in range(500)))
    assert budget.tracked_chats > 0  # recent sends still constrain their chats
    fake.advance(1.0)
    await fake.run(send(10_000, 0))
    assert budget.tracked_chats == 1
    fake.advance(1.0)
    await fake.run(send(10_001, 0))
    assert budget.tracked_chats == 1


async def test_zero_interval_chats_are_dropped_immediately() -> None:
    budget, fake = make(100, interval=0.0)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)
    await fake.run(*(send(chat, chat) for chat in range(50)))
    assert budget.tracked_chats == 0


async def test_cancelled_waiter_keeps_the_chain_intact() -> None:
    budget, fake = make(100)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)

    async def scenario() -> None:
        first = asyncio.ensure_future(send(7, 0))
        second = asyncio.ensure_future(send(7, 1))
        third = asyncio.ensure_future(send(7, 2))
        await asyncio.sleep(0)
        second.cancel()
        await asyncio.gather(first, third, return_exceptions=True)
        assert second.cancelled()

    await fake.run(scenario())
    assert [(t, tag) for t, _, tag in log] == [(0.0, 0), (pytest.approx(1.0), 2)]
    fake.advance(2)
    await fake.run(send(8, 3))
    assert budget.tracked_chats == 1


async def test_cancelled_while_queued_behind_a_waiting_call() -> None:
    budget, fake = make(100, interval=2.0)
    log: list[tuple[float, int, int]] = []
    send = recorder(budget, fake, log)

    async def scenario() -> None:
        calls = [asyncio.ensure_future(send(5, i)) for i in range(4)]
        for _ in range(3):
            await asyncio.sleep(0)
        calls[2].cancel()  # queued behind call 1, which is itself waiting for call 0
        await asyncio.gather(*calls, return_exceptions=True)

    await fake.run(scenario())
    assert [(t, tag) for t, _, tag in log] == [
        (0.0, 0),
        (pytest.approx(2.0), 1),
        (pytest.approx(4.0), 3),
    ]


@pytest.mark.parametrize(
    ("rate", "interval"), [(0, 1.0), (-1, 1.0), (float("nan"), 1.0), (float("inf"), 1.0), (1, -1)]
)
def test_rejects_bad_settings(rate: float, interval: float) -> None:
    with pytest.raises(ValueError):
        RateBudget(rate, interval)


async def test_real_clock_smoke() -> None:
    budget = RateBudget(200, per_chat_interval=0.02)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(budget.acquire(1) for _ in range(3)), budget.acquire(2))
    assert loop.time() - start >= 0.04 - 0.005
