"""Issue 14, point 4: funnel events recorded as they happen, queryable by market, platform
and status (columns, not only the JSON blob)."""

from __future__ import annotations

from sqlmodel import col, select

from bot.botapi.fake import SimulatedUser
from bot.storage.db import Database
from bot.storage.models import Event
from tests.chat import Profile, interview


async def test_funnel_events_carry_market_platform_and_status(
    user: SimulatedUser, db: Database
) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom", "Germany")))
    await user.press("▶️ Next step")
    await user.press("✅ Done")
    await user.send("/plan")
    async with db.session() as session:
        rows = list(
            await session.exec(
                select(Event).where(col(Event.merchant_id) == user.user_id).order_by(col(Event.id))
            )
        )
    kinds = [row.kind for row in rows]
    for kind in ("question_shown", "answer", "plan_opened", "step_opened", "step_done"):
        assert kind in kinds, kinds
    shown = {row.question for row in rows if row.kind == "question_shown"}
    assert {"platform", "market", "shop_status"} <= shown
    answered = [row for row in rows if row.kind == "answer"]
    assert answered[0].question == "platform"
    last = rows[-1]
    assert last.kind == "plan_opened"
    assert last.platform == "shopify"
    assert last.shop_status == "not_started"
    assert last.markets == ",uk,de,"
    opened = next(row for row in rows if row.kind == "step_opened")
    assert opened.step

    # Operators can filter by column, e.g. UK merchants who opened their plan.
    async with db.session() as session:
        uk = await session.exec(
            select(Event.id).where(
                col(Event.kind) == "plan_opened", col(Event.markets).contains(",uk,")
            )
        )
        assert list(uk)
