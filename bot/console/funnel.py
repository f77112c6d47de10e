"""The funnel pages: where merchants stop in the interview and the plan, cohorts by week.

Everything is counted in SQL (no merchant row reaches Python):

- **questions**: per interview question, the merchants it was shown to, who answered it
  (the merchant's ``reached``/``answered`` columns, kept from the ``question_shown`` and
  ``answer`` events as they happen) and who *stopped there*: still in the interview with that
  question open and not seen for more than N days;
- **steps**: per plan step, the merchants it was opened by (``step_opened`` events) and
  marked done / skipped (``step_progress``, as marked now);
- **weeks**: merchants by week of first contact (Monday, UTC): how many finished the
  interview, opened their plan, marked a step done (ever).

All three read narrow tables that database triggers keep in step with the merchant and
event tables (migration 0015): ``merchant_funnel`` (one narrow row per merchant: questions
and weeks in one grouped query, see :func:`merchant_counts`) and ``step_opened`` (one row per
merchant and step opened). That is what keeps a page that was never computed before fast at
100,000 merchants, without a statement more per update.

Filters (market, platform, TikTok Shop status, language) select merchants by their answers
as they are now (the ``platform``/``markets``/``shop_status`` merchant columns, kept by every
save, copied to merchant_funnel) and their Telegram language. Each table downloads as CSV
with the same filters.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from bot.console.framework import Page, PageContext
from bot.content.loader import Content
from bot.storage.models import MerchantFunnel, StepOpened, StepProgress, StepStatus

DEFAULT_IDLE_DAYS = 3
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})?$")
TABLES = ("questions", "steps", "weeks")
OPENED = "opened"  # not a StepStatus: tells step openings from marks in one result


@dataclass(frozen=True)
class Filters:
    """What the operator narrowed the funnel to (None: everyone)."""

    market: str | None = None
    platform: str | None = None
    status: str | None = None
    language: str | None = None
    idle_days: int = DEFAULT_IDLE_DAYS

    @classmethod
    def parse(cls, query: Any, content: Content) -> Filters:
        """From the query string; unknown option ids and malformed values are ignored."""
        questions = content.interview.questions

        def option(name: str, qid: str) -> str | None:
            value = str(query.get(name, "")).strip()
            known = questions[qid].options if qid in questions else ()
            return value if value in known else None

        language = str(query.get("language", "")).strip().lower()
        try:
            idle = int(str(query.get("idle_days", DEFAULT_IDLE_DAYS)))
        except ValueError:
            idle = DEFAULT_IDLE_DAYS
        return cls(
            market=option("market", "market"),
            platform=option("platform", "platform"),
            status=option("status", "shop_status"),
            language=language if LANGUAGE.match(language) else None,
            idle_days=min(max(idle, 0), 3650),
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on the merchant_funnel table (the merchant's columns, copied)."""
        found: list[ColumnElement[bool]] = []
        if self.platform:
            found.append(col(MerchantFunnel.platform) == self.platform)
        if self.market:
            found.append(col(MerchantFunnel.markets).like(f"%,{self.market},%"))
        if self.status:
            found.append(col(MerchantFunnel.shop_status) == self.status)
        if self.language:
            language = col(MerchantFunnel.language)
            found.append((language == self.language) | language.like(f"{self.language}-%"))
        return found

    def query_string(self) -> str:
        """The filters as a query string (for the CSV links)."""
        pairs = [
            (name, value)
            for name, value in (
                ("market", self.market),
                ("platform", self.platform),
                ("status", self.status),
                ("language", self.language),
            )
            if value
        ]
        pairs.append(("idle_days", str(self.idle_days)))
        return "&".join(f"{name}={value}" for name, value in pairs)


@dataclass(frozen=True)
class Table:
    """A table for the page and its CSV."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _merchant_ids(filters: Filters) -> Any:
    return select(col(MerchantFunnel.merchant_id)).where(*filters.conditions())


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else ""


@dataclass
class Cohort:
    """One week of first contact: merchants, and how far they got."""

    merchants: int = 0
    finished: int = 0
    plan_opened: int = 0
    step_done: int = 0


@dataclass
class Counts:
    """What one pass over the merchant table says (the questions and weeks tables)."""

    weeks: dict[str, Cohort]
    reached: dict[str, int]
    answered: dict[str, int]
    stopped: dict[str, int]


def _ids(listed: str | None) -> list[str]:
    return [item for item in (listed or "").split(",") if item]


async def merchant_counts(conn: AsyncConnection, filters: Filters, now: datetime) -> Counts:
    """One grouped query over merchant_funnel (one narrow row per merchant, never events).

    Groups by week of first contact, how far the merchant got, the questions they reached
    and answered (the comma-wrapped lists) and the question open in the interview: few
    distinct groups, since the lists follow the interview's paths, so the database hashes
    a few short values per merchant (the ndistinct statistics of migration 0015 tell
    PostgreSQL so: without them it sorts 100,000 rows) and Python adds the groups up per
    question. Who stopped where is a count within each group: idle for more than N days.
    """
    f = MerchantFunnel
    keys = (
        col(f.week),
        col(f.finished),
        col(f.opened),
        col(f.done),
        col(f.reached),
        col(f.answered),
        col(f.stuck_at),
    )
    idle = col(f.stuck_since) < now - timedelta(days=filters.idle_days)
    grouped = (
        select(*keys, func.count(), func.count().filter(idle))
        .where(*filters.conditions())
        .group_by(*keys)
    )
    counts = Counts(weeks={}, reached={}, answered={}, stopped={})
    rows = await conn.execute(grouped)
    for monday, ended, plan, step, shown, replied, open_at, number, stopped in rows:
        key = monday.isoformat() if isinstance(monday, date) else str(monday)
        cohort = counts.weeks.setdefault(key, Cohort())
        cohort.merchants += number
        cohort.finished += number if ended else 0
        cohort.plan_opened += number if plan else 0
        cohort.step_done += number if step else 0
        for qid in _ids(shown):
            counts.reached[qid] = counts.reached.get(qid, 0) + number
        for qid in _ids(replied):
            counts.answered[qid] = counts.answered.get(qid, 0) + number
        if open_at is not None and stopped:
            counts.stopped[open_at] = counts.stopped.get(open_at, 0) + stopped
    return counts


def questions_table(counts: Counts, content: Content, filters: Filters) -> Table:
    """Per question: reached, answered, stopped there (idle more than N days)."""
    order = list(content.interview.questions)
    extra = sorted((set(counts.reached) | set(counts.stopped)) - set(order))  # older content
    rows = []
    for qid in [*order, *extra]:
        reached, answered = counts.reached.get(qid, 0), counts.answered.get(qid, 0)
        stopped = counts.stopped.get(qid, 0)
        rows.append((qid, reached, answered, _percent(answered, reached), stopped))
    header = (
        "question",
        "reached",
        "answered",
        "answered %",
        f"stopped there (idle > {filters.idle_days} d)",
    )
    return Table("questions", header, rows)


async def steps_table(conn: AsyncConnection, content: Content, filters: Filters) -> Table:
    """Per plan step: merchants who opened it, marked it done, skipped it."""
    # One statement: openings (step_opened holds each merchant and step once, kept by a
    # trigger on event inserts) and marks, grouped, one after the other. Filtered, the
    # chosen merchants are found once (a CTE used twice: both databases compute it once).
    opened_query = select(col(StepOpened.step), literal(OPENED), func.count()).group_by(
        col(StepOpened.step)
    )
    marks_query = select(
        col(StepProgress.step_id), col(StepProgress.status), func.count()
    ).group_by(col(StepProgress.step_id), col(StepProgress.status))
    if filters.conditions():
        chosen = _merchant_ids(filters).cte("chosen")
        opened_query = opened_query.where(col(StepOpened.merchant_id).in_(select(chosen)))
        marks_query = marks_query.where(col(StepProgress.merchant_id).in_(select(chosen)))
    opened: dict[str, int] = {}
    marks: dict[tuple[str, str], int] = {}
    both: Any = union_all(opened_query, marks_query)
    for step, kind, number in await conn.execute(both):
        if kind == OPENED:
            opened[str(step)] = int(number)
        else:
            marks[str(step), str(kind)] = int(number)
    order = [step.id for step in content.steps]
    extra = sorted((set(opened) | {s for s, _ in marks}) - set(order))
    rows = []
    for step_id in [*order, *extra]:
        done = marks.get((step_id, StepStatus.DONE.value), 0)
        skipped = marks.get((step_id, StepStatus.SKIPPED.value), 0)
        rows.append((step_id, opened.get(step_id, 0), done, skipped))
    return Table("steps", ("step", "opened", "done", "skipped"), rows)


def weeks_table(counts: Counts) -> Table:
    """By week of first contact: merchants, finished interview, opened plan, a step done."""
    rows = []
    for monday in sorted(counts.weeks):
        c = counts.weeks[monday]
        rows.append(
            (
                monday,
                c.merchants,
                c.finished,
                _percent(c.finished, c.merchants),
                c.plan_opened,
                c.step_done,
                _percent(c.step_done, c.merchants),
            )
        )
    header = (
        "week of first contact",
        "merchants",
        "finished interview",
        "finished %",
        "opened plan",
        "marked a step done",
        "a step done %",
    )
    return Table("weeks", header, rows)


async def tables(
    ctx: PageContext, filters: Filters, names: Sequence[str] = TABLES
) -> tuple[list[Table], float]:
    """The funnel's tables and their age in seconds: computed in one read-only session, or
    reused when the same tables with the same filters were computed in the last 30 s."""
    key = f"funnel:{','.join(names)}:{filters!r}"
    return await ctx.cached(key, lambda: _tables(ctx, filters, names))


async def _tables(ctx: PageContext, filters: Filters, names: Sequence[str]) -> list[Table]:
    """Compute the tables; on PostgreSQL the merchant pass and the steps run at once, each
    on its own connection (SQLite has one writer and gains nothing)."""
    now = ctx.now()

    async def counted() -> Counts | None:
        if not {"questions", "weeks"} & set(names):
            return None
        async with ctx.db.session() as session:
            return await merchant_counts(await session.connection(), filters, now)

    async def steps() -> Table | None:
        if "steps" not in names:
            return None
        async with ctx.db.session() as session:
            return await steps_table(await session.connection(), ctx.content, filters)

    if ctx.db.is_postgres:
        counts, step_table = await asyncio.gather(counted(), steps())
    else:
        counts, step_table = await counted(), await steps()
    found = []
    for name in names:
        if name == "questions" and counts is not None:
            found.append(questions_table(counts, ctx.content, filters))
        elif name == "steps" and step_table is not None:
            found.append(step_table)
        elif name == "weeks" and counts is not None:
            found.append(weeks_table(counts))
    return found


def _choices(content: Content, qid: str) -> tuple[str, ...]:
    question = content.interview.questions.get(qid)
    return question.options if question is not None else ()


async def funnel_page(ctx: PageContext) -> web.StreamResponse:
    """The three tables, the filters form and the CSV links."""
    filters = Filters.parse(ctx.request.query, ctx.content)
    found, age = await tables(ctx, filters)
    return ctx.render(
        "funnel.html.j2",
        title="Funnel",
        filters=filters,
        tables=found,
        age=round(age),
        reused=age > 0,
        choices={
            "market": _choices(ctx.content, "market"),
            "platform": _choices(ctx.content, "platform"),
            "status": _choices(ctx.content, "shop_status"),
        },
    )


async def funnel_csv(ctx: PageContext) -> web.StreamResponse:
    """One table as CSV, with the page's filters."""
    name = ctx.request.match_info["table"]
    if name not in TABLES:
        raise web.HTTPNotFound()
    filters = Filters.parse(ctx.request.query, ctx.content)
    (table,), _ = await tables(ctx, filters, [name])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    ctx.audit("funnel export", table=name)
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="funnel-{name}.csv"'},
    )


PAGES = [
    Page("/funnel", funnel_page, title="Funnel"),
    Page("/funnel/{table}.csv", funnel_csv),
]
