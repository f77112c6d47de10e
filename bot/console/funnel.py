"""The funnel pages: where merchants stop in the interview and the plan, cohorts by week.

Everything is counted in SQL (no merchant row reaches Python):

- **questions**: per interview question, the merchants it was shown to (``question_shown``
  events), who answered it (``answer`` events) and who *stopped there*: still in the
  interview with that question open and not seen for more than N days (merchant columns);
- **steps**: per plan step, the merchants it was opened by (``step_opened`` events) and
  marked done / skipped (``step_progress``, as marked now);
- **weeks**: merchants by week of first contact (Monday, UTC): how many finished the
  interview, opened their plan, marked a step done.

Filters (market, platform, TikTok Shop status, language) select merchants by their answers
as they are now (the ``platform``/``markets``/``shop_status`` merchant columns, kept by every
save) and their Telegram language. Each table downloads as CSV with the same filters.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from bot.console.framework import Page, PageContext
from bot.content.loader import Content
from bot.storage.models import Event, Merchant, Mode, StepProgress, StepStatus

QUESTION_SHOWN, ANSWER, STEP_OPENED, PLAN_OPENED = (
    "question_shown",
    "answer",
    "step_opened",
    "plan_opened",
)
DEFAULT_IDLE_DAYS = 3
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})?$")
TABLES = ("questions", "steps", "weeks")


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
        """Conditions on the merchant table."""
        found: list[ColumnElement[bool]] = []
        if self.platform:
            found.append(col(Merchant.platform) == self.platform)
        if self.market:
            found.append(col(Merchant.markets).like(f"%,{self.market},%"))
        if self.status:
            found.append(col(Merchant.shop_status) == self.status)
        if self.language:
            found.append(
                (func.lower(col(Merchant.language_code)) == self.language)
                | func.lower(col(Merchant.language_code)).like(f"{self.language}-%")
            )
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
    return select(col(Merchant.id)).where(*filters.conditions())


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else ""


async def questions_table(
    conn: AsyncConnection, content: Content, filters: Filters, now: datetime
) -> Table:
    """Per question: reached, answered, stopped there (idle more than N days)."""
    counted = (
        select(col(Event.question), col(Event.kind), func.count(distinct(col(Event.merchant_id))))
        .where(col(Event.kind).in_((QUESTION_SHOWN, ANSWER)), col(Event.question).is_not(None))
        .group_by(col(Event.question), col(Event.kind))
    )
    if filters.conditions():
        counted = counted.where(col(Event.merchant_id).in_(_merchant_ids(filters)))
    counts: dict[tuple[str, str], int] = {
        (str(q), str(k)): int(n) for q, k, n in await conn.execute(counted)
    }
    cutoff = now - timedelta(days=filters.idle_days)
    stopped_query = (
        select(col(Merchant.current), func.count())
        .where(
            col(Merchant.mode) == Mode.INTERVIEW,
            col(Merchant.current).is_not(None),
            col(Merchant.last_seen) < cutoff,
            *filters.conditions(),
        )
        .group_by(col(Merchant.current))
    )
    stopped = {str(q): int(n) for q, n in await conn.execute(stopped_query)}
    order = list(content.interview.questions)
    extra = sorted({q for q, _ in counts} - set(order))  # questions of older content
    rows = []
    for qid in [*order, *extra]:
        reached = counts.get((qid, QUESTION_SHOWN), 0)
        answered = counts.get((qid, ANSWER), 0)
        rows.append((qid, reached, answered, _percent(answered, reached), stopped.get(qid, 0)))
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
    opened_query = (
        select(col(Event.step), func.count(distinct(col(Event.merchant_id))))
        .where(col(Event.kind) == STEP_OPENED, col(Event.step).is_not(None))
        .group_by(col(Event.step))
    )
    marks_query = select(
        col(StepProgress.step_id), col(StepProgress.status), func.count()
    ).group_by(col(StepProgress.step_id), col(StepProgress.status))
    if filters.conditions():
        opened_query = opened_query.where(col(Event.merchant_id).in_(_merchant_ids(filters)))
        marks_query = marks_query.where(col(StepProgress.merchant_id).in_(_merchant_ids(filters)))
    opened = {str(s): int(n) for s, n in await conn.execute(opened_query)}
    marks = {(str(s), str(k)): int(n) for s, k, n in await conn.execute(marks_query)}
    order = [step.id for step in content.steps]
    extra = sorted((set(opened) | {s for s, _ in marks}) - set(order))
    rows = []
    for step_id in [*order, *extra]:
        done = marks.get((step_id, StepStatus.DONE.value), 0)
        skipped = marks.get((step_id, StepStatus.SKIPPED.value), 0)
        rows.append((step_id, opened.get(step_id, 0), done, skipped))
    return Table("steps", ("step", "opened", "done", "skipped"), rows)


def _week(conn: AsyncConnection) -> Any:
    """The Monday (UTC) of a merchant's first contact, as SQL for the session's database."""
    if conn.dialect.name == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("UTC", col(Merchant.first_seen))))
    return func.date(col(Merchant.first_seen), "weekday 0", "-6 days")


async def weeks_table(conn: AsyncConnection, filters: Filters) -> Table:
    """By week of first contact: merchants, finished interview, opened plan, a step done."""
    week = _week(conn).label("week")
    plan_opened = select(col(Event.merchant_id)).where(col(Event.kind) == PLAN_OPENED)
    step_done = select(col(StepProgress.merchant_id)).where(
        col(StepProgress.status) == StepStatus.DONE
    )

    def share(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            week,
            func.count(),
            share(col(Merchant.mode) != Mode.INTERVIEW),
            share(col(Merchant.id).in_(plan_opened)),
            share(col(Merchant.id).in_(step_done)),
        )
        .where(*filters.conditions())
        .group_by(week)
        .order_by(week)
    )
    rows = []
    for monday, merchants, finished, opened, done in await conn.execute(query):
        merchants, finished, opened, done = (
            int(v or 0) for v in (merchants, finished, opened, done)
        )
        rows.append(
            (
                monday.isoformat() if isinstance(monday, date) else str(monday),
                merchants,
                finished,
                _percent(finished, merchants),
                opened,
                done,
                _percent(done, merchants),
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


async def tables(ctx: PageContext, filters: Filters, names: Sequence[str] = TABLES) -> list[Table]:
    """The funnel's tables, computed in one read-only session."""
    found = []
    async with ctx.db.session() as session:
        conn = await session.connection()
        for name in names:
            if name == "questions":
                found.append(await questions_table(conn, ctx.content, filters, ctx.now()))
            elif name == "steps":
                found.append(await steps_table(conn, ctx.content, filters))
            elif name == "weeks":
                found.append(await weeks_table(conn, filters))
    return found


def _choices(content: Content, qid: str) -> tuple[str, ...]:
    question = content.interview.questions.get(qid)
    return question.options if question is not None else ()


async def funnel_page(ctx: PageContext) -> web.StreamResponse:
    """The three tables, the filters form and the CSV links."""
    filters = Filters.parse(ctx.request.query, ctx.content)
    return ctx.render(
        "funnel.html.j2",
        title="Funnel",
        filters=filters,
        tables=await tables(ctx, filters),
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
    (table,) = await tables(ctx, filters, [name])
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
