"""The console's Content page: the live version, every instance's version, stale facts,
translation coverage per language, the content graph, and "Reload content everywhere" (a
request every instance polls)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from aiohttp import web

from bot.console.framework import PREFIX, Page, PageContext, redirect
from bot.content.facts import FactIndex
from bot.content.graph import to_dot, to_svg
from bot.content.translations import LocaleStatus, status
from bot.services.live import STALE_AFTER_SECONDS
from bot.storage import instances
from bot.storage.models import Instance

#: How long the drawn graph of one content version is reused (``dot`` takes seconds).
GRAPH_SECONDS = 3600.0


def _age(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def translation_rows(ctx: PageContext) -> list[dict[str, object]]:
    """Per translated language: ``content translations``' status (coverage, missing, stale)
    with the lists behind the counts."""
    rows = []
    row: LocaleStatus
    for row in status(ctx.content):
        missing = {
            "Missing keys": row.missing_keys,
            "Missing templates": row.missing_templates,
            "Missing steps": row.missing_steps,
            "Steps with untranslated flags": row.missing_flags,
        }
        stale = {
            "Outdated steps (merchants read English)": row.outdated_steps,
            "Stale steps": row.stale_steps,
            "Stale keys": row.stale_keys,
            "Stale templates": row.stale_templates,
        }
        other = {
            "Unstamped steps": row.unstamped_steps,
            "Unstamped keys": row.unstamped_keys,
            "Unstamped templates": row.unstamped_templates,
            "Facts shown in English": row.english_facts,
        }
        rows.append(
            {
                "status": row,
                "name": ctx.data.views.native_name(row.code),
                "missing": sum(len(items) for items in missing.values()),
                "stale": sum(len(items) for items in stale.values()),
                "lists": {k: v for k, v in (missing | stale | other).items() if v},
            }
        )
    return rows


async def content_page(ctx: PageContext) -> web.StreamResponse:
    """Versions, instances, stale facts and the graph."""
    content = ctx.content
    now = ctx.now()
    rows: list[Instance] = await instances.list_instances(ctx.db)
    stale_after = timedelta(seconds=STALE_AFTER_SECONDS)
    listed = [
        {
            "row": row,
            "seen": _age(now, row.last_seen),
            "stale": now - row.last_seen > stale_after,
            "behind": row.content_hash != content.hash,
        }
        for row in rows
    ]
    facts = FactIndex(content, ctx.data.renderer.env).uses(now.date())
    overdue = [use for use in facts if use.overdue]

    async def draw() -> tuple[str, str | None]:
        dot = to_dot(content)
        return dot, await asyncio.to_thread(to_svg, dot)

    (dot, svg), _age_s = await ctx.cached(
        f"content-graph:{content.hash}", draw, seconds=GRAPH_SECONDS
    )
    live = ctx.data.live
    return ctx.render(
        "content.html.j2",
        title="Content",
        content=content,
        problems=live.problems if live is not None else (),
        instances=listed,
        overdue=overdue,
        facts=len(facts),
        translations=translation_rows(ctx),
        svg=svg,
        dot=dot,
        reloaded=ctx.request.query.get("reloaded"),
    )


async def reload_everywhere(ctx: PageContext) -> web.StreamResponse:
    """Raise the reload generation: every instance re-reads and checks its content folder."""
    live = ctx.data.live
    if live is None:
        generation = await instances.request_reload(
            ctx.db, by=f"operator {ctx.operator_id}", now=ctx.now()
        )
    else:
        generation = await live.request_everywhere(f"operator {ctx.operator_id}")
    ctx.audit("content reload requested everywhere", generation=generation)
    return redirect(f"{PREFIX}/content?reloaded={generation}")


PAGES = [
    Page("/content", content_page, title="Content"),
    Page("/content/reload", reload_everywhere, method="POST", audit=False),
]
