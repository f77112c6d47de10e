"""Operators' use cases (Telegram users listed in ADMIN_IDS)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, func, select

from bot.services.core import Core, UserInfo
from bot.storage.models import Merchant, Mode, Outbox, OutboxStatus, StepProgress, StepStatus
from bot.views.model import Outcome


class AdminService:
    """/stats: the funnel at a glance."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def stats(self, user: UserInfo) -> Outcome:
        """The funnel's figures (the adapter checks that the sender is in ADMIN_IDS)."""
        week_ago = self.core.clock() - timedelta(days=7)
        async with self.core.db.session() as session:

            async def count(*where: Any, table: Any = Merchant) -> int:
                query = select(func.count()).select_from(table)
                for condition in where:
                    query = query.where(condition)
                return int((await session.exec(query)).one())

            figures = {
                "merchants": await count(),
                "active_week": await count(col(Merchant.last_seen) >= week_ago),
                "interview_done": await count(col(Merchant.mode) == Mode.DONE),
                "alerts_on": await count(col(Merchant.alerts_on).is_(True)),
                "blocked": await count(col(Merchant.blocked).is_(True)),
                "steps_done": await count(
                    col(StepProgress.status) == StepStatus.DONE, table=StepProgress
                ),
                "alerts_pending": await count(
                    col(Outbox.status) == OutboxStatus.PENDING, table=Outbox
                ),
                "alerts_sent": await count(col(Outbox.status) == OutboxStatus.SENT, table=Outbox),
                "alerts_failed": await count(
                    col(Outbox.status) == OutboxStatus.FAILED, table=Outbox
                ),
            }
        screen = self.core.views.simple(user.language_code, "stats.html.j2", figures=figures)
        return Outcome(send=[screen])
