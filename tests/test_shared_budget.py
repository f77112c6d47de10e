"""One send budget for every process on one PostgreSQL database (issue 13, item 12)."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.botapi.budget import RateBudget, SharedBudget, make_budget
from bot.botapi.fake import FakeTelegram, serve
from bot.storage.db import Database
from bot.storage.models import Outbox
from bot.storage.send_slots import lease_slots
from tests.conftest import TOKEN
from tests.outbox_seed import seed_due_alerts
from tests.test_budget import FakeTime
from tests.test_modes_processes import env_for, start_bot

ALERTS = 150


async def sent(db: Database) -> int:
    async with db.session() as session:
        result = await session.exec(select(func.count()).where(col(Outbox.status) == "sent"))
        return int(result.one())


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_three_workers_share_one_budget_and_get_no_429(db_url: str, tmp_path: Path) -> None:
    """Three `remind` processes at SEND_RATE=25 each send 150 due reminders to a fake that
    enforces Telegram's 30 msg/s and 1 msg/s per chat: zero 429s (per-process budgets
    would send up to 75/s)."""
    now = datetime.now(UTC)
    deadline = now + timedelta(days=10)
    db = Database(db_url)
    await db.upgrade()
    await seed_due_alerts(db, ALERTS, now - timedelta(minutes=1), deadline=deadline)
    fake = FakeTelegram(token=TOKEN)
    fake.rate_limit(global_per_second=30, per_chat_per_second=1)
    procs = []
    async with await serve(fake) as server:
        env = env_for(server.base_url, db_url, SEND_RATE="25", DEADLINE=deadline.isoformat())
        try:
            for name in ("a", "b", "c"):
                (tmp_path / name).mkdir()
                procs.append(await start_bot("remind", env=env, cwd=tmp_path / name))
            counts: list[int] = []

            async def poll() -> None:
                while True:
                    counts.append(await sent(db))
                    if counts[-1] >= ALERTS:
                        return
                    await asyncio.sleep(0.2)

            await asyncio.wait_for(poll(), 120)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            logs = [(await asyncio.wait_for(proc.communicate(), 30))[1].decode() for proc in procs]
            await db.dispose()
    assert [proc.returncode for proc in procs] == [0, 0, 0], logs
    senders = [log for log in logs if "alert dispatcher" in log]
    assert len(senders) == 3
    assert fake.rate_limited_count == 0, fake.rate_limited_by_chat
    assert len(fake.calls_to("sendMessage")) == ALERTS


class Lender:
    """The shared row, in memory: next free moment, on the test's clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.next_slot = 0.0
        self.leased: list[float] = []
        self.clock = clock

    async def __call__(self, count: int, spacing: float, pause: float) -> tuple[float, float]:
        now = self.clock()
        self.next_slot = max(self.next_slot, now + pause) + count * spacing
        self.leased += [self.next_slot - (count - i) * spacing for i in range(count)]
        return self.next_slot, now


async def test_two_budgets_share_one_rate_leasing_slots_in_batches() -> None:
    lender = Lender()
    a = SharedBudget(500, per_chat_interval=0, lease=lender, batch=10)
    b = SharedBudget(500, per_chat_interval=0, lease=lender, batch=10)
    await asyncio.gather(*(budget.acquire(i) for i in range(30) for budget in (a, b)))
    await asyncio.gather(*(a.reply() for _ in range(5)))
    # Every send took a slot of its own from the one lender, leased ten at a time.
    assert a.leases + b.leases == len(lender.leased) // 10
    assert a.leases + b.leases <= 7 + a.dropped // 10 + b.dropped // 10 + 1
    gaps = [y - x for x, y in itertools.pairwise(sorted(lender.leased))]
    assert min(gaps) >= 1 / 500 - 1e-9


async def test_a_429_moves_the_shared_budget_on_for_everybody() -> None:
    lender = Lender()
    a = SharedBudget(100, lease=lender, batch=5)
    a.penalise(30)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert lender.next_slot >= time.monotonic() + 29


async def test_an_unreachable_lender_falls_back_to_the_process_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def down(_count: int, _spacing: float, _pause: float) -> tuple[float, float]:
        raise OSError("connection refused")

    budget = SharedBudget(500, per_chat_interval=0, lease=down, batch=5)
    await asyncio.gather(*(budget.acquire(i) for i in range(12)))
    assert budget.leases == 0
    assert sum("paces itself alone" in r.getMessage() for r in caplog.records) == 1


def test_sqlite_keeps_the_in_process_budget() -> None:
    assert type(make_budget(25, False)) is RateBudget
    assert isinstance(make_budget(25, False, shared=Lender()), SharedBudget)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_leases_from_postgres_never_overlap(db: Database) -> None:
    ends = await asyncio.gather(*(lease_slots(db, 5, 0.04, 0.0) for _ in range(8)))
    firsts = sorted(end - 5 * 0.04 for end, _ in ends)
    gaps = [y - x for x, y in itertools.pairwise(firsts)]
    assert min(gaps) >= 5 * 0.04 - 1e-6
    paused, now = await lease_slots(db, 0, 0.04, 60.0)
    assert paused >= now + 60 - 1e-3


async def test_replies_go_at_once_and_take_the_slots_waiting_senders_would() -> None:
    """People come first on PostgreSQL as with one process (RateBudget.reply): a reply to a
    merchant waits out a 429 pause only, not for its slot's moment (at SEND_RATE=25 a burst
    of fifty replies across the instances waited up to two seconds). It still takes a leased
    slot, so the senders that wait their turn (the outbox, here and in the other processes)
    come after it."""
    fake = FakeTime()
    fake.now = 1000.0
    lender = Lender(fake.clock)
    budget = SharedBudget(
        10, per_chat_interval=0, lease=lender, batch=5, clock=fake.clock, sleep=fake.sleep
    )
    await fake.run(*(budget.reply() for _ in range(5)))
    assert fake.sleeps == 0 and fake.now == 1000.0
    assert len(lender.leased) == 5  # each reply took a slot of the shared budget
    await fake.run(budget.acquire(1))  # the outbox: after the five slots the replies took
    assert fake.now >= 1000 + 5 / 10 - 1e-9
    budget.penalise(3)
    await fake.run(budget.reply())  # a 429 pause still holds replies back
    assert fake.now >= 1000 + 5 / 10 + 3 - 1e-9
