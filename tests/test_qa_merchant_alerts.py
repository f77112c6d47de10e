"""A reminder answered by typing (found walking the bot as a merchant): "snooze" typed after
an alert snoozes it, as the button does. Through the real Application and the dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.botapi.fake import SimulatedUser
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
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
