"""What a typed answer's turn did through an ORM session, against the same by Core (issue 20).

Two of the ten answers of ``bench_turn`` used to make an ORM session: the market answer (the
alerts planned again) and the last one (the go-live date: planned again; the plan's marks; the
latest step link). Each is run here as its own unit of work on one merchant, the way it was
(through the unit's ORM session: the code below, copied from ``main`` at ``e97c8fc``) and the
way it is (``AlertService.replan``, ``Turn.marks``, ``Turn.last_event``: Core statements on the
unit's connection), in alternating blocks in one process; process CPU per unit is compared.
``--alerts on``: the merchant has reminders on (their outbox rows are read; none changes).

    python -m benchmarks.bench_session [--db postgres] [--units 300] [--blocks 5] [--alerts on]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benchmarks.bench_turn import in_process
from bot.alerts import keys
from bot.alerts.keys import Change, Stored
from bot.alerts.service import AlertService, go_live_of
from bot.domain.plan import Mark
from bot.services.core import Turn, marks_of
from bot.storage import merchant_row
from bot.storage.models import Event, Merchant, Outbox, OutboxStatus, StepProgress

MERCHANT = 7
LINKS = ("step_link", "step_link_opened")
ANSWERS = {
    "platform": "shopify",
    "market": ["uk", "de"],
    "entity": "company",
    "origin": "local",
    "catalogue": "small",
    "fulfilment": "own",
    "uses": ["shop_tab", "ads"],
    "shop_status": "not_started",
    "shop_name": "Ann & Co",
    "go_live": "2027-03-31",
}


# --- the way it was (main at e97c8fc), through the unit's ORM session ----------------------


async def orm_replan(service: AlertService, session: AsyncSession, merchant: Merchant) -> None:
    now = service.core.clock()
    settings = service.settings_of(merchant)
    go_live = go_live_of(service.core.effective_answers(merchant))
    plan = keys.planned(settings, service.campaign, go_live, now)
    live = keys.live_targets(service.deadline, go_live, now) if merchant.alerts_on else set()
    result = await session.exec(select(Outbox).where(Outbox.merchant_id == merchant.id))
    rows = {row.key: row for row in result.all()}
    stored = {key: Stored(row.status, row.due_at) for key, row in rows.items()}
    for item in keys.reconcile(plan, stored, settings=settings, live=live, now=now):
        row = rows.get(item.key)
        if item.change is Change.ADD:
            assert item.due_at is not None
            session.add(Outbox(merchant_id=merchant.id, key=item.key, due_at=item.due_at))
        elif item.change is Change.RESCHEDULE and row is not None:
            assert item.due_at is not None
            if row.status != OutboxStatus.PENDING:
                row.status, row.attempts, row.error = OutboxStatus.PENDING, 0, None
                row.unanswered = 0
            row.due_at = item.due_at
        elif row is not None:
            row.status = OutboxStatus.CANCELLED
            row.error = None if merchant.alerts_on else "off"


async def orm_marks(session: AsyncSession, merchant: Merchant) -> dict[str, Mark]:
    rows = await session.exec(select(StepProgress).where(StepProgress.merchant_id == merchant.id))
    return marks_of(rows)


async def orm_last_event(session: AsyncSession, merchant: Merchant) -> Event | None:
    found = await session.exec(
        select(Event)
        .where(Event.merchant_id == merchant.id, col(Event.kind).in_(LINKS))
        .order_by(col(Event.id).desc())
        .limit(1)
    )
    return found.first()


# --- the measurement ------------------------------------------------------------------------


async def run(database: str, units: int, blocks: int, alerts_on: bool) -> None:
    async with in_process(database, "bench_session") as setup:
        content, db = setup.content, setup.db
        service = setup.app.bot_data.alerts
        assert service is not None
        now = datetime.now(UTC)
        async with db.session() as session:
            session.add(
                Merchant(
                    id=MERCHANT,
                    chat_id=MERCHANT,
                    first_seen=now,
                    last_seen=now,
                    answers=ANSWERS,
                    alerts_on=alerts_on,
                    timezone="Europe/London",
                )
            )

        async def loaded(unit: Any) -> merchant_row.StoredMerchant:
            stored = await merchant_row.load(unit, MERCHANT, lock_key=MERCHANT)
            assert stored is not None
            return stored

        async with db.unit() as unit:  # the rows planned once (alerts on): later runs read them
            stored = await loaded(unit)
            await service.replan(
                Turn(unit, stored.merchant, stored=stored, content=content, now=now)
            )

        async def orm(last: bool) -> None:
            async with db.unit() as unit:
                merchant = (await loaded(unit)).merchant
                await orm_replan(service, unit.session, merchant)
                if last:
                    await orm_marks(unit.session, merchant)
                    await orm_last_event(unit.session, merchant)

        async def core(last: bool) -> None:
            async with db.unit() as unit:
                stored = await loaded(unit)
                turn = Turn(unit, stored.merchant, stored=stored, content=content, now=now)
                await service.replan(turn)
                if last:
                    await turn.marks()
                    await turn.last_event(*LINKS)

        async def block(way: Callable[[bool], Awaitable[None]], last: bool) -> float:
            started = time.process_time()
            for _ in range(units):
                await way(last)
            return (time.process_time() - started) / units * 1000

        print(f"database: {database}; reminders {'on' if alerts_on else 'off'}")
        for last in (False, True):
            await block(orm, last)  # warm-up: caches, prepared statements
            await block(core, last)
            was, now_ = [], []
            for _ in range(blocks):
                was.append(await block(orm, last))
                now_.append(await block(core, last))
            before, after = statistics.median(was), statistics.median(now_)
            what = "last answer (re-plan, marks, step link)" if last else "market answer (re-plan)"
            print(
                f"{what}: ms CPU per unit, ORM {' '.join(f'{x:.3f}' for x in was)}"
                f" | Core {' '.join(f'{x:.3f}' for x in now_)}"
                f" | medians {before:.3f} -> {after:.3f} (-{before - after:.3f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--alerts", choices=["on", "off"], default="off")
    args = parser.parse_args()
    asyncio.run(run(args.db, args.units, args.blocks, args.alerts == "on"))


if __name__ == "__main__":
    main()
