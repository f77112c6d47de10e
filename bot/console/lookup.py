"""Merchant lookup for support: one merchant by Telegram id, read-only, audited.

The id is POSTed (with the CSRF token), so it stays out of URLs, browser history and access
logs; each lookup writes exactly one audit line naming the operator and the merchant.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from bot.console.framework import Page, PageContext
from bot.services.core import marks_of
from bot.storage.models import Merchant, Outbox, OutboxStatus, StepProgress

RECENT_REMINDERS = 10


def _shown(value: Any) -> str:
    """An answer as text: lists joined, dates in ISO form."""
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return "" if value is None else str(value)


async def lookup_form(ctx: PageContext) -> web.StreamResponse:
    """The empty form."""
    return ctx.render("lookup.html.j2", title="Merchant lookup", asked=None, found=None)


async def lookup(ctx: PageContext) -> web.StreamResponse:
    """POST: the merchant's answers, plan progress and reminders (one audit line)."""
    form = await ctx.form()
    raw = str(form.get("merchant_id", "")).strip()
    try:
        merchant_id = int(raw)
    except ValueError:
        ctx.audit("lookup", merchant="invalid")
        return ctx.render(
            "lookup.html.j2",
            title="Merchant lookup",
            asked=raw,
            found=None,
            problem="A Telegram id is a number.",
            status=400,
        )
    async with ctx.db.session() as session:
        merchant = await session.get(Merchant, merchant_id)
        marks_rows = list(
            await session.exec(
                select(StepProgress).where(col(StepProgress.merchant_id) == merchant_id)
            )
        )
        pending = list(
            await session.exec(
                select(Outbox)
                .where(
                    col(Outbox.merchant_id) == merchant_id,
                    col(Outbox.status) == OutboxStatus.PENDING,
                )
                .order_by(col(Outbox.due_at))
            )
        )
        recent = list(
            await session.exec(
                select(Outbox)
                .where(
                    col(Outbox.merchant_id) == merchant_id,
                    col(Outbox.status) != OutboxStatus.PENDING,
                )
                .order_by(col(Outbox.due_at).desc())
                .limit(RECENT_REMINDERS)
            )
        )
    ctx.audit("lookup", merchant=merchant_id, found="yes" if merchant else "no")
    if merchant is None:
        return ctx.render(
            "lookup.html.j2",
            title="Merchant lookup",
            asked=raw,
            found=None,
            problem=f"No merchant with Telegram id {merchant_id}.",
            status=404,
        )
    return ctx.render(
        "lookup.html.j2",
        title="Merchant lookup",
        asked=raw,
        found=_details(ctx, merchant, marks_rows),
        pending=pending,
        recent=recent,
    )


def _details(ctx: PageContext, merchant: Merchant, marks_rows: list[StepProgress]) -> Any:
    core = ctx.data.core
    content = ctx.content
    effective = core.effective_answers(merchant)
    order = list(content.interview.questions)
    answers = [
        (qid, _shown(merchant.answers[qid]), qid in effective)
        for qid in [*order, *sorted(set(merchant.answers) - set(order))]
        if qid in merchant.answers
    ]
    marks = marks_of(marks_rows)
    at = {row.step_id: row.at for row in marks_rows}
    progress = core.progress_of(effective, marks)
    steps = []
    for step in progress.steps:
        mark = marks.get(step.id)
        title = content.step_text(None, step.id).title
        steps.append((step.id, title, mark.status if mark else "open", at.get(step.id)))
    return {
        "merchant": merchant,
        "answers": answers,
        "steps": steps,
        "done": sum(1 for _, _, status, _ in steps if status == "done"),
        "skipped": sum(1 for _, _, status, _ in steps if status == "skipped"),
    }


PAGES = [
    Page("/lookup", lookup_form, title="Merchant lookup"),
    Page("/lookup", lookup, method="POST", audit=False),
]
