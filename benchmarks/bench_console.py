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
from pathlib import Path
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


async def timed(client: TestClient[Any, Any], url: str, form: dict[str, str] | None) -> float:
    """Milliseconds for one request (GET, or POST of ``form``), checked to succeed."""
    started = time.perf_counter()
    if form is None:
        async with client.get(url) as response:
            await response.read()
    else:
        async with client.post(url, data=form) as response:
            await response.read()
    assert response.status == 200, (url, response.status)
    return (time.perf_counter() - started) * 1000


def postgres_cpu(dbname: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving ``dbname`` (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if dbname.encode() not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def measure(
    url: str, rounds: int, merchants: int, dbname: str
) -> list[tuple[str, list[float]]]:
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
            ("funnel, status", "/console/funnel?status=not_started", None),
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
        print(
            f"{'page':<30} {'cold median':>11} {'cold max':>9} {'DB CPU':>7} {'app CPU':>8}"
            f" {'warm median':>12}   (ms; cold: never computed before)"
        )
        for name, path, form in requests:
            cold, db_cpu, app_cpu, warm = [], [], [], []
            for round_ in range(rounds + 1):
                # A fresh idle_days each round: the funnel's 30 s reuse never kicks in.
                url = path
                if "/funnel" in path:
                    url += ("&" if "?" in path else "?") + f"idle_days={20 + round_}"
                cpu_db, cpu_app = postgres_cpu(dbname), time.process_time()
                elapsed = await timed(client, url, form)
                cpu_db, cpu_app = postgres_cpu(dbname) - cpu_db, time.process_time() - cpu_app
                if round_:  # the first request warms the pool and the database's caches
                    cold.append(elapsed)
                    db_cpu.append(cpu_db * 1000)
                    app_cpu.append(cpu_app * 1000)
            for _ in range(rounds):
                warm.append(await timed(client, url, form))  # the last URL again
            results.append((name, cold))
            print(
                f"{name:<30} {statistics.median(cold):>11.0f} {max(cold):>9.0f}"
                f" {statistics.median(db_cpu):>7.0f} {statistics.median(app_cpu):>8.0f}"
                f" {statistics.median(warm):>12.0f}",
                flush=True,
            )
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
        await measure(url, args.rounds, args.merchants, name)


if __name__ == "__main__":
    asyncio.run(main())
