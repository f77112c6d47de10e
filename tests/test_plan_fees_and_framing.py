"""Issue 14, what was left: approved merchants see what TikTok Shop charges in their market,
the fee text is said once, and the 2023 shutdown is not the opener of a plan or greeting
once it lies in the past (it counts down only while a deadline is ahead)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.botapi.fake import SimulatedUser
from tests.chat import Profile, interview
from tests.conftest import Clock

APPROVED = "Approved, not selling yet"


async def step_texts(user: SimulatedUser, *, limit: int = 80) -> list[str]:
    """Every step of the plan in order, whole text, pressing Done/Understood through it."""
    messages = await user.press("▶️ Next step")
    texts: list[str] = []
    for _ in range(limit):
        message = messages[-1]
        text = message.text or ""
        if "very step of your plan is done" in text.splitlines()[0]:
            return texts
        texts.append(text)
        labels = message.button_labels
        messages = await user.press("👍 Understood" if "👍 Understood" in labels else "✅ Done")
    raise AssertionError("the plan did not finish")


@pytest.mark.parametrize(
    ("market", "status", "needles"),
    [
        ("United Kingdom", APPROVED, ("9%", "£0.50")),
        ("United Kingdom", "Not started", ("9%", "£0.50")),
        ("United Kingdom", "Already selling", ("9%", "£0.50")),
        ("Japan", APPROVED, ("7%", "3%")),
        ("Mexico", APPROVED, ("commission-free",)),
    ],
)
async def test_every_status_sees_its_market_fees_once(
    user: SimulatedUser, market: str, status: str, needles: tuple[str, ...]
) -> None:
    await interview(user, Profile(f"fees-{market}-{status}", "Shopify", (market,), status=status))
    texts = await step_texts(user)
    for needle in needles:
        with_it = [t.splitlines()[0] for t in texts if needle in t]
        assert with_it, (needle, [t.splitlines()[0] for t in texts])
    # The commission is explained in its own step, not again in the registration step.
    register = [t for t in texts if "Register for TikTok Shop" in t.splitlines()[0]]
    assert all("commission" not in t for t in register), register


@pytest.mark.slow
async def test_plan_and_greeting_do_not_open_with_a_shutdown_years_ago(
    user: SimulatedUser,
) -> None:
    replies = await interview(user, Profile("framing", "Shopify", ("United Kingdom",)))
    plan = replies[-1].text or ""
    assert "Plan" in plan or "plan" in plan
    user_text = "\n".join(m.text or "" for m in await user.send("/start"))
    assert "\n\n\n" not in user_text and "\n\n\n" not in plan
    for text in (plan, user_text):
        assert "Storefront closed on" not in text, text
        assert "days ago" not in text, text
    assert "Welcome back" in user_text


@pytest.mark.slow
async def test_a_deadline_ahead_is_counted_down(user: SimulatedUser, clock: Clock) -> None:
    clock.now = datetime(2023, 9, 5, 12, 0, tzinfo=UTC)
    greeting = "\n".join(m.text or "" for m in await user.send("/start"))
    assert "TikTok Storefront closes on 12 September 2023: 7 days left" in greeting
    replies = await interview(user, Profile("ahead", "Shopify", ("United Kingdom",)))
    assert "closes on 12 September 2023: 7 days left" in (replies[-1].text or "")
