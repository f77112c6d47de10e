"""One send budget for the process: replies count in it, 429 pauses everything."""

from __future__ import annotations

import time

import pytest

from bot.botapi.budget import RateBudget
from bot.botapi.fake import FakeTelegram, SimulatedUser
from tests.conftest import AppFactory


@pytest.mark.slow
async def test_reply_meeting_a_429_waits_and_is_delivered(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=1)
    started = time.monotonic()
    replies = await user.send("/help")
    assert time.monotonic() - started >= 0.9  # waited retry_after
    assert "How I can help" in (replies[-1].text or "")


async def test_replies_are_counted_in_the_shared_budget(
    make_app: AppFactory, fake: FakeTelegram
) -> None:
    app = make_app()
    async with app:
        budget: RateBudget = app.bot.rate_limiter.budget
        before = budget.next_global_slot
        await SimulatedUser(app, fake, user_id=3).send("/help")
        # The reply took a slot: an alert waiting for the budget now comes after it.
        assert budget.next_global_slot > before
        assert budget.next_global_slot >= time.monotonic()
