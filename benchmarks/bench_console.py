"""Console pages at 100,000 merchants on PostgreSQL: each page's response time.

Seeds a throwaway PostgreSQL 15 database (started from the machine's binaries, like the
tests) with ``--merchants`` merchants and their funnel: every merchant reached some
questions (``question_shown``/``answer`` events), about 60 % finished the interview, opened
their plan and some steps, marked some done or skipped; first contacts spread over 26 weeks,
five languages, the content's platforms, markets and TikTok Shop statuses. Then it logs in to
the real console (the real Application, fake Bot API) and times each page over HTTP on
loopback, ``--rounds`` times each after one warm-up request.

    .venv/bin/python -m benchmarks.bench_console                 # 100,000 merchants
    .venv/bin/python -m benchmarks.bench_console --merchants 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")

import asyncpg  # type: ignore[import-untyped]
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.console.framework import Console
from bot.console.pages import PAGES
from bot.content.check import load_checked
from bot.storage.db import Database
from tests.conftest import REPO, TOKEN, Clock
from tests.pgserver import PostgresServer

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OPERATOR = 42
LANGUAGES = ["en"] * 12 + ["de"] * 3 + ["fr"] * 2 + ["es"] * 2 + ["pt-br"]


def seed_rows(content: Any, merchants: int, rng: random.Random) -> tuple[list, list, list]:
    """Rows for merchant, event and step_progress (COPY order of their columns)."""
    questions = list(content.interview.questions)
    options = {qid: q.options for qid, q in content.interview.questions.items()}
    steps = [step.id for step in content.steps]
    merchant_rows, event_rows, progress_rows = [], [], []
    for number in range(merchants):
        merchant_id = 10_000_000 + number
        first = NOW - timedelta(days=rng.uniform(0, 182))
        finished = rng.random() < 0.6
        reached = len(questions) if finished else rng.randint(1, len(questions))
        answers: dict[str, Any] = {}
        shown: list[str] = []
        plan_opened = step_done = None
        at = first
        event_rows.append((merchant_id, "first_contact", at, "{}", None, None, None, None, None))
        for index, qid in enumerate(questions[:reached]):
            cols = _cols(answers)
            event_rows.append((merchant_id, "question_shown", at, "{}", qid, None, *cols))
            shown.append(qid)
            answered = index < reached - 1 or finished
            if not answered:
                break
            if qid == "market":
                answers[qid] = rng.sample(list(options[qid]), k=rng.randint(1, 3))
            elif options.get(qid):
                answers[qid] = rng.choice(options[qid])
            else:
                answers[qid] = "text"
            at += timedelta(seconds=rng.randint(5, 120))
            event_rows.append((merchant_id, "answer", at, "{}", qid, None, *_cols(answers)))
        current = None if finished else questions[reached - 1]
        if finished:
            event_rows.append(
                (merchant_id, "interview_done", at, "{}", None, None, *_cols(answers))
            )
            if rng.random() < 0.8:
                event_rows.append(
                    (merchant_id, "plan_opened", at, "{}", None, None, *_cols(answers))
                )
                for step in rng.sample(steps, k=rng.randint(0, 6)):
                    event_rows.append(
                        (merchant_id, "step_opened", at, "{}", None, step, *_cols(answers))
                    )
                    mark = rng.random()
                    if mark < 0.5:
                        progress_rows.append((merchant_id, step, "done", 1, at))
                        step_done = at
                    elif mark < 0.6:
                        progress_rows.append((merchant_id, step, "skipped", 1, at))
        last = at + timedelta(days=rng.uniform(0, 20))
        merchant_rows.append(
            (
                merchant_id,
                merchant_id,
                rng.choice(LANGUAGES),
                first,
                min(last, NOW),
                False,
                json.dumps(answers),
                json.dumps(questions[: reached - (0 if finished else 1)]),
                current,
                "done" if finished else "interview",
                content.interview.version,
                False,
                False,
                "UTC",
                *_cols(answers),
                f",{','.join(shown)},",
                f",{','.join(answers)}," if answers else None,
                plan_opened,
                step_done,
            )
        )
    return merchant_rows, event_rows, progress_rows


def _cols(answers: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    markets = answers.get("market")
    joined = f",{','.join(markets)}," if markets else None
    return answers.get("platform"), joined, answers.get("shop_status")


async def seed(dsn: str, content: Any, merchants: int) -> tuple[int, int, int]:
    rows = seed_rows(content, merchants, random.Random(19))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "merchant",
            records=rows[0],
            columns=[
                "id", "chat_id", "language_code", "first_seen", "last_seen", "blocked",
                "answers", "path", "current", "mode", "interview_version", "alerts_on",
                "nudge_on", "timezone", "platform", "markets", "shop_status", "reached",
                "answered", "plan_opened_at", "step_done_at",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "event",
            records=rows[1],
            columns=[
                "merchant_id", "kind", "at", "data", "question", "step", "platform",
                "markets", "shop_status",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "step_progress",
            records=rows[2],
            columns=["merchant_id", "step_id", "status", "step_version", "at"],
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return len(rows[0]), len(rows[1]), len(rows[2])


async def measure(url: str, rounds: int, merchants: int) -> list[tuple[str, list[float]]]:
    settings = Settings.model_validate(
        {
            "telegram_token": TOKEN,
            "database_url": url,
            "content_dir": REPO / "content",
            "admin_ids": str(OPERATOR),
            "public_url": "http://bench.example",
        }
    )
    content = load_checked(REPO / "content")
    fake = FakeTelegram(token=TOKEN)
    db = Database(url)
    app = build_application(
        settings,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        content=content,
        db=db,
        clock=Clock(NOW),
    )
    results = []
    async with app, TestClient(TestServer(Console(app, PAGES).standalone())) as client:
        replies = await SimulatedUser(app, fake, user_id=OPERATOR).send("/console")
        link = re.search(r'href="[^"]*\?t=([^"]+)"', replies[-1].raw_text or "")
        assert link
        async with client.post("/console/login", data={"t": link.group(1)}) as response:
            page = await response.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        requests: list[tuple[str, str, dict[str, str] | None]] = [
            ("overview", "/console/", None),
            ("funnel", "/console/funnel", None),
            ("funnel, platform + market", "/console/funnel?platform=shopify&market=uk", None),
            ("funnel, language de", "/console/funnel?language=de", None),
            (
                "funnel, status + idle 14 d",
                "/console/funnel?status=not_started&idle_days=14",
                None,
            ),
            ("CSV questions", "/console/funnel/questions.csv", None),
            ("CSV steps", "/console/funnel/steps.csv", None),
            ("CSV weeks", "/console/funnel/weeks.csv", None),
            ("lookup form", "/console/lookup", None),
            (
                "lookup",
                "/console/lookup",
                {"merchant_id": str(10_000_000 + merchants // 2), "csrf": csrf.group(1)},
            ),
        ]
        for name, path, form in requests:
            times = []
            for round_ in range(rounds + 1):
                started = time.perf_counter()
                if form is None:
                    async with client.get(path) as response:
                        await response.read()
                else:
                    async with client.post(path, data=form) as response:
                        await response.read()
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status == 200, (path, response.status)
                if round_:  # the first request warms caches and the pool
                    times.append(elapsed)
            results.append((name, times))
            print(f"{name:<30} {statistics.median(times):>10.0f} {max(times):>8.0f}", flush=True)
    await db.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    content = load_checked(REPO / "content")
    with PostgresServer() as pg:
        name = pg.unique_name("console")
        url = pg.create_database(name)
        db = Database(url)
        await db.upgrade()
        await db.dispose()
        started = time.perf_counter()
        merchants, events, marks = await seed(pg.dsn(name), content, args.merchants)
        print(
            f"seeded {merchants:,} merchants, {events:,} events, {marks:,} step marks"
            f" in {time.perf_counter() - started:.0f} s"
        )
        print(f"{'page':<30} {'median ms':>10} {'max ms':>8}")
        await measure(url, args.rounds, args.merchants)


if __name__ == "__main__":
    asyncio.run(main())
