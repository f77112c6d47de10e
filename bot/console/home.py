"""The console's home page: who is logged in, the content version, two figures."""

from __future__ import annotations

from aiohttp import web
from sqlmodel import col, func, select

from bot.console.framework import Page, PageContext
from bot.storage.models import Merchant, Mode


async def home(ctx: PageContext) -> web.StreamResponse:
    """Overview: merchants and finished interviews."""
    async with ctx.db.session() as session:
        merchants = (await session.exec(select(func.count()).select_from(Merchant))).one()
        done = (
            await session.exec(
                select(func.count()).select_from(Merchant).where(col(Merchant.mode) == Mode.DONE)
            )
        ).one()
    return ctx.render(
        "home.html.j2",
        title="Overview",
        merchants=int(merchants),
        done=int(done),
        content_hash=ctx.content.hash,
    )


PAGES = [Page("/", home, title="Overview")]
