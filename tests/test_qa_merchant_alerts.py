"""Reminders as a merchant meets them (found walking the bot): "snooze" typed after an alert,
alerts missed while away. Through the real Application and the dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
from tests.chat import Profile, interview
from tests.conftest import NOW, Clock, make_settings
from tests.test_alerts_dispatch import dispatcher_of, first_due
from tests.test_alerts_service import finish_interview, rows, subscribe


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, deadline=NOW + timedelta(days=10))


@pytest.mark.parametrize("typed", ["snooze", "remind me tomorrow", "💤 Snooze a day", "💤"])
async def test_snooze_typed_after_an_alert(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, typed: str
) -> None:
    await user.send("/start")
    await finish_interview(db)
    await subscribe(user)
    # Nothing sent yet: nothing to snooze, and it says so.
    reply = "\n".join(m.text or "" for m in await user.send(typed))
    assert "can't be snoozed" in reply, reply
    clock.now = await first_due(db)
    assert await dispatcher_of(app).drain() == 1
    reply = "\n".join(m.text or "" for m in await user.send(typed))
    assert "I'll remind you again in a day." in reply, reply
    snoozed = [r for r in await rows(db, status="pending") if r.key.startswith("snooze:")]
    assert len(snoozed) == 1 and snoozed[0].due_at == clock.now + timedelta(days=1)


async def test_alerts_missed_while_the_bot_was_away_arrive_once(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock, fake: FakeTelegram
) -> None:
    """Back after days (or the demo's `:wait 4d`): the 7-, 3- and 1-day alerts of the same
    deadline are all due at once; the merchant gets the latest one, not three copies."""
    await user.send("/start")
    await finish_interview(db)
    await subscribe(user)
    clock.now = NOW + timedelta(days=9, hours=1)  # the day before the deadline
    mark = user.mark()
    await dispatcher_of(app).drain()
    texts = [m.text or "" for m in user.replies_since(mark)]
    closing = [t for t in texts if t.startswith("⏰ TikTok Storefront closes")]
    assert len(closing) == 1, texts
    assert "closes in 23 hours" in closing[0], closing
    assert await dispatcher_of(app).drain() == 0  # the others are not sent later either


async def test_go_live_reminders_go_when_the_go_live_question_no_longer_applies(
    user: SimulatedUser, db: Database
) -> None:
    """ "Already selling" takes the go-live date out of the answers that count (the profile
    no longer shows it), but its reminders stayed scheduled, and /alerts listed them."""
    said = Profile(
        "gl", "Shopify", ("United Kingdom",), shop_name="Ann Ltd", go_live="15 March 2027"
    )
    await interview(user, said)
    await user.send("/alerts")
    await user.press("🔔 Turn alerts on")
    assert [r for r in await rows(db, status="pending") if r.key.startswith("golive:")]
    await user.send("/profile")
    await user.press("Change: TikTok Shop status")
    profile = "\n".join(m.text or "" for m in await user.press("Already selling"))
    assert "go-live" not in profile, profile
    screen = "\n".join(m.text or "" for m in await user.send("/alerts"))
    assert "before your go-live date" not in screen, screen
    assert not [r for r in await rows(db, status="pending") if r.key.startswith("golive:")]
    # Back to "Not started": the date counts again, and so do its reminders.
    await user.send("/profile")
    await user.press("Change: TikTok Shop status")
    await user.press("Not started")
    assert [r for r in await rows(db, status="pending") if r.key.startswith("golive:")]


async def test_alerts_during_the_questions_point_at_the_questions_not_the_profile(
    user: SimulatedUser,
) -> None:
    """/alerts before the plan said "Add your go-live date (/profile → ...)", and /profile
    then answered "Let's finish your answers first"; its button said "Back to plan"."""
    await user.send("/start")
    await user.press("Shopify")
    screen = "\n".join(m.text or "" for m in await user.send("/alerts"))
    assert "/profile" not in screen, screen
    assert "I'll ask for your go-live date with the other questions" in screen, screen
    assert "« Back to the questions" in user.buttons()
    assert "« Back to plan" not in user.buttons()
    back = "\n".join(m.text or "" for m in await user.press("« Back to the questions"))
    assert "Which markets do you sell to?" in back, back
