"""Issue 15: the change-answer screens have Cancel, and Cancel keeps the answers as they
were, even after ticks on a several-choice question, a new follow-up question or a restart."""

from __future__ import annotations

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.domain import callbacks
from tests.chat import Profile, interview
from tests.conftest import AppFactory
from tests.test_scenarios import all_plan_pages

CANCEL = "✖️ Cancel"


def toast(user: SimulatedUser) -> str:
    answer = user.last_callback_answer()
    return (answer.text or "") if answer else ""


async def test_cancel_after_ticks_keeps_the_markets_as_they_were(user: SimulatedUser) -> None:
    await interview(user, Profile("c", "Shopify", ("United Kingdom",)))
    plan_before = "\n".join(await all_plan_pages(user))
    await user.send("/profile")
    question = (await user.press("Change: Markets"))[-1]
    assert CANCEL in question.button_labels
    await user.press("☑️ United Kingdom")  # untick
    await user.press("⬜ Germany")  # tick
    replies = await user.press(CANCEL)
    assert "as they were" in toast(user)
    profile = replies[0].text or ""
    assert "United Kingdom" in profile and "Germany" not in profile, profile
    plan_after = "\n".join(await all_plan_pages(user))
    assert "Germany" not in plan_after
    assert plan_after == plan_before
    # The profile is back: Change buttons, no question on screen.
    assert "Change: Markets" in (await user.send("/profile"))[-1].button_labels


async def test_cancel_on_a_one_choice_question_changes_nothing(user: SimulatedUser) -> None:
    await interview(user, Profile("c1", "Shopify", ("United Kingdom",)))
    await user.send("/profile")
    await user.press("Change: Store platform")
    replies = await user.press(CANCEL)
    assert len(replies) == 1, [r.text for r in replies]  # the profile, edited in place
    assert "Shopify" in (replies[0].text or "")
    assert "Change: Store platform" in replies[0].button_labels
    assert "as they were" in toast(user)


async def test_cancel_survives_a_restart_mid_change(
    user: SimulatedUser, make_app: AppFactory, fake: FakeTelegram
) -> None:
    await interview(user, Profile("c2", "Shopify", ("United Kingdom",)))
    await user.send("/profile")
    await user.press("Change: Markets")
    await user.press("⬜ France")
    again = make_app()  # the process restarted: the answers before the change are stored
    async with again:
        after = SimulatedUser(again, fake, user_id=user.user_id, first_name="Ann")
        replies = await after.press(CANCEL)
        profile = replies[0].text or ""
        assert "United Kingdom" in profile and "France" not in profile, profile


async def test_a_cancel_button_outside_a_change_is_stale(user: SimulatedUser) -> None:
    await interview(user, Profile("c3", "Shopify", ("United Kingdom",)))
    plan = user.last_reply()
    assert plan is not None
    before = user.last_text()
    await user.press_data(plan.message_id, callbacks.encode(callbacks.CancelEdit()))
    assert "earlier message" in toast(user)
    assert user.last_text() == before
