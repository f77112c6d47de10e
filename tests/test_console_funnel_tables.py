"""The funnel's figures from its narrow tables (merchant_funnel, step_opened: kept by
triggers, migration 0015) equal a straightforward count over the merchants, their events and
marks, with every filter, after inserts, updates and erasures, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.console.funnel import Filters, merchant_counts, steps_table
from bot.content.loader import Content
from bot.storage.db import Database
from bot.storage.erase import erase
from bot.storage.models import Event, Merchant, Mode, StepProgress, StepStatus
from tests.conftest import NOW

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
LANGUAGES = [None, "en", "EN-gb", "de", "de-AT", "pt-br", "fr", "deu"]
MARKETS = ["uk", "de", "fr", "us", "es"]


def _ids(listed: str | None) -> list[str]:
    return [item for item in (listed or "").split(",") if item]


def _listed(ids: list[str]) -> str | None:
    return f",{','.join(ids)}," if ids else None


def _random_state(rng: random.Random, questions: list[str]) -> dict[str, Any]:
    """Funnel-relevant merchant columns, at random (not necessarily a consistent story)."""
    reached = questions[: rng.randint(0, len(questions))]
    answered = reached[: rng.randint(max(len(reached) - 1, 0), len(reached))]
    mode = rng.choice([Mode.INTERVIEW, Mode.INTERVIEW, Mode.DONE, Mode.EDIT])
    return {
        "mode": mode,
        "current": rng.choice([None, *questions]) if rng.random() < 0.9 else "old_question",
        "reached": _listed(reached),
        "answered": _listed(answered),
        "platform": rng.choice([None, "shopify", "ecwid", "woocommerce"]),
        "markets": _listed(rng.sample(MARKETS, k=rng.randint(0, 3))),
        "shop_status": rng.choice([None, "not_started", "applied", "selling"]),
        "language_code": rng.choice(LANGUAGES),
        "last_seen": NOW - timedelta(days=rng.uniform(0, 15)),
        "plan_opened_at": rng.choice([None, NOW - timedelta(days=1)]),
        "step_done_at": rng.choice([None, NOW - timedelta(days=2)]),
    }


async def _seed(db: Database, content: Content) -> None:
    """80 merchants inserted, half of them updated (some only in columns the funnel does
    not read, some in one it reads), some seen again, step openings (twice, without a step,
    other kinds), marks, two erased."""
    rng = random.Random(15)
    questions = list(content.interview.questions)
    steps = [*[step.id for step in content.steps][:8], "retired_step"]
    async with db.session() as session:
        for number in range(80):
            # First contacts over five weeks, some on a Monday or Sunday midnight exactly.
            first = NOW - timedelta(days=rng.randint(0, 35), seconds=rng.choice([0, 1, 43_200]))
            session.add(
                Merchant(id=5000 + number, chat_id=5000 + number, first_seen=first,
                         **_random_state(rng, questions))
            )  # fmt: skip
    async with db.session() as session:
        for number in range(0, 80, 2):
            merchant = await session.get(Merchant, 5000 + number)
            assert merchant is not None
            if number % 6 == 0:
                merchant.timezone = "Europe/Berlin"  # nothing the funnel reads
                merchant.nudge_on = True
            elif number % 6 == 2:  # one column the funnel reads, alone
                merchant.language_code = rng.choice(LANGUAGES)
            else:
                for name, value in _random_state(rng, questions).items():
                    setattr(merchant, name, value)
        for _ in range(250):
            merchant_id = 5000 + rng.randrange(80)
            kind = rng.choice(["step_opened"] * 4 + ["plan_opened", "answer"])
            step = rng.choice([*steps, None]) if kind == "step_opened" else None
            session.add(Event(merchant_id=merchant_id, kind=kind, at=NOW, step=step))
        for number in range(80):
            for step in rng.sample(steps, k=rng.randint(0, 3)):
                status = rng.choice([StepStatus.DONE, StepStatus.SKIPPED])
                session.add(StepProgress(merchant_id=5000 + number, step_id=step, status=status,
                                         at=NOW))  # fmt: skip
    async with db.session() as session:
        for number in range(1, 80, 3):  # seen again (idle no longer), or not
            merchant = await session.get(Merchant, 5000 + number)
            assert merchant is not None
            merchant.last_seen = NOW - timedelta(days=rng.choice([0.5, 8, 20]))
        for merchant_id in (5001, 5002):
            await erase(session, merchant_id)


def _expected(
    merchants: list[Merchant], events: list[Event], marks: list[StepProgress], f: Filters
) -> dict[str, Any]:
    """The funnel counted the plain way, in Python."""

    def chosen(m: Merchant) -> bool:
        language = (m.language_code or "").lower()
        return (
            (not f.platform or m.platform == f.platform)
            and (not f.market or f.market in _ids(m.markets))
            and (not f.status or m.shop_status == f.status)
            and (not f.language or language == f.language or language.startswith(f"{f.language}-"))
        )

    kept = {m.id: m for m in merchants if chosen(m)}
    reached: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    idle_before = NOW - timedelta(days=f.idle_days)
    for m in kept.values():
        reached.update(_ids(m.reached))
        answered.update(_ids(m.answered))
        if m.mode == Mode.INTERVIEW and m.current and m.last_seen < idle_before:
            stopped[m.current] += 1
    weeks: dict[str, list[int]] = {}
    for m in kept.values():
        first = m.first_seen.date()
        monday = (first - timedelta(days=first.weekday())).isoformat()
        row = weeks.setdefault(monday, [0, 0, 0, 0])
        row[0] += 1
        row[1] += m.mode != Mode.INTERVIEW
        row[2] += m.plan_opened_at is not None
        row[3] += m.step_done_at is not None
    opened = Counter(
        step
        for merchant_id, step in {
            (e.merchant_id, e.step) for e in events if e.kind == "step_opened" and e.step
        }
        if merchant_id in kept
    )
    done = Counter(p.step_id for p in marks if p.merchant_id in kept and p.status == "done")
    skipped = Counter(p.step_id for p in marks if p.merchant_id in kept and p.status == "skipped")
    steps = {
        step: (opened[step], done[step], skipped[step])
        for step in set(opened) | set(done) | set(skipped)
    }
    return {
        "reached": dict(reached),
        "answered": dict(answered),
        "stopped": dict(stopped),
        "weeks": weeks,
        "steps": steps,
    }


FILTERS = [
    Filters(),
    Filters(idle_days=0),
    Filters(idle_days=7),
    Filters(market="uk"),
    Filters(market="de", idle_days=1),
    Filters(platform="shopify"),
    Filters(status="not_started"),
    Filters(language="de"),
    Filters(language="en", idle_days=10),
    Filters(language="pt-br"),
    Filters(market="fr", platform="ecwid", status="selling", language="en"),
    Filters(platform="woocommerce", language="fr", idle_days=30),
]


@BOTH
async def test_the_funnel_tables_count_what_the_merchants_say(
    db: Database, content: Content
) -> None:
    await _seed(db, content)
    async with db.session() as session:
        merchants = list(await session.exec(select(Merchant)))
        events = list(await session.exec(select(Event)))
        marks = list(await session.exec(select(StepProgress)))
    assert len(merchants) == 78 and not any(e.merchant_id in (5001, 5002) for e in events)
    for filters in FILTERS:
        expected = _expected(merchants, events, marks, filters)
        async with db.session() as session:
            conn = await session.connection()
            counts = await merchant_counts(conn, filters, NOW)
            steps = await steps_table(conn, content, filters)
        weeks = {
            monday: [c.merchants, c.finished, c.plan_opened, c.step_done]
            for monday, c in counts.weeks.items()
        }
        found = {
            "reached": counts.reached,
            "answered": counts.answered,
            "stopped": counts.stopped,
            "weeks": weeks,
            "steps": {row[0]: tuple(row[1:]) for row in steps.rows if any(row[1:])},
        }
        assert found == expected, filters
    # The filters do narrow: none of these tests is vacuous.
    assert sum(c.merchants for c in counts.weeks.values()) < 78
