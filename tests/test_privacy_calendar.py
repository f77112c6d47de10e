"""Privacy (/privacy, /export, /delete, retention) and /calendar through the real Application."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from sqlmodel import func, select

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.storage.db import Database
from bot.storage.erase import prune_inactive
from bot.storage.models import Event, Merchant, Outbox, StepProgress
from tests.chat import Profile, interview
from tests.conftest import NOW, AppFactory, Clock


async def count(db: Database, table: Any, merchant_id: int) -> int:
    async with db.session() as session:
        column = table.id if table is Merchant else table.merchant_id
        result = await session.exec(
            select(func.count()).select_from(table).where(column == merchant_id)
        )
        return int(result.one())


async def test_privacy_says_what_is_stored(user: SimulatedUser) -> None:
    text = (await user.send("/privacy"))[-1].text or ""
    assert "What I store about you" in text
    assert "until you delete it." in text


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_export_sends_everything_as_json(
    user: SimulatedUser, fake: FakeTelegram, db: Database
) -> None:
    await interview(
        user,
        Profile("p", "Shopify", ("United Kingdom",), shop_name="Ann & Co", go_live="2027-03-31"),
    )
    await user.press("▶️ Next step")
    await user.press("✅ Done")
    replies = await user.send("/export")
    document = replies[-1]
    assert document.document is not None and document.document["file_name"] == "my-data.json"
    data = json.loads(document.document_bytes or b"")
    assert data["merchant"]["id"] == user.user_id
    assert data["merchant"]["answers"]["platform"] == "shopify"
    assert data["merchant"]["answers"]["shop_name"] == "Ann & Co"
    assert [row["status"] for row in data["step_progress"]] == ["done"]
    assert data["event"], "the activity log is part of the export"
    assert "outbox" in data and "exported_at" in data


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_delete_asks_then_erases_everything(user: SimulatedUser, db: Database) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",)))
    await user.press("▶️ Next step")
    await user.press("✅ Done")
    question = (await user.send("/delete"))[-1]
    assert question.button_labels == ["Yes, delete everything", "No, keep it"]
    kept = (await user.press("No, keep it"))[-1].text or ""
    assert "Nothing was deleted" in kept
    assert await count(db, Merchant, user.user_id) == 1
    await user.send("/delete")
    done = (await user.press("Yes, delete everything"))[-1].text or ""
    assert "everything I stored about you is erased" in done
    assert "Step marks: 1" in done
    for table in (Merchant, StepProgress, Outbox, Event):
        assert await count(db, table, user.user_id) == 0, table
    # Coming back starts from scratch.
    again = (await user.send("/start"))[-1].text or ""
    assert "Which platform runs your online store?" in again


async def test_retention_erases_inactive_merchants(
    make_app: AppFactory, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    app = make_app()
    async with app:
        old = SimulatedUser(app, fake, user_id=1)
        await old.send("/start")
        clock.now = NOW + timedelta(days=100)
        recent = SimulatedUser(app, fake, user_id=2)
        await recent.send("/start")
    erased = await prune_inactive(db, older_than=clock.now - timedelta(days=30))
    assert erased == 1
    assert await count(db, Merchant, 1) == 0
    assert await count(db, Event, 1) == 0
    assert await count(db, Merchant, 2) == 1


async def test_calendar_has_deadline_and_go_live(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), go_live="2027-03-31"))
    document = (await user.send("/calendar"))[-1]
    assert document.document is not None
    assert document.document["file_name"].endswith(".ics")
    calendar = Calendar.from_ical(document.document_bytes or b"")
    events = {str(e.get("summary")): e for e in calendar.walk("VEVENT")}
    assert "TikTok Storefront switched off" in events
    assert events["TikTok Storefront switched off"].decoded("dtstart").isoformat() == "2023-09-12"
    assert events["Go live on TikTok Shop"].decoded("dtstart").isoformat() == "2027-03-31"


async def test_stats_for_admins_only(make_app: AppFactory, fake: FakeTelegram, settings) -> None:
    app = make_app()
    app.bot_data.settings = settings.model_copy(update={"admin_ids": (999,)})
    async with app:
        merchant = SimulatedUser(app, fake, user_id=5)
        await interview(merchant, Profile("p", "Shopify", ("United Kingdom",)))
        reply = (await merchant.send("/stats"))[-1].text or ""
        assert "Bot statistics" not in reply and "/help" in reply
        admin = SimulatedUser(app, fake, user_id=999)
        reply = (await admin.send("/stats"))[-1].text or ""
        assert "Bot statistics" in reply
        assert "Merchants: 1" in reply and "Finished the interview: 1" in reply


async def test_admins_hear_about_failures(
    make_app: AppFactory, fake: FakeTelegram, settings
) -> None:
    app = make_app()
    app.bot_data.settings = settings.model_copy(update={"admin_ids": (999,)})

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom with merchant text")

    app.bot_data.interview.help = broken  # type: ignore[method-assign, assignment]
    async with app:
        merchant = SimulatedUser(app, fake, user_id=5)
        await merchant.send("/help")
    notice = fake.last_message(999)
    assert notice is not None and "RuntimeError while handling an update" in (notice.text or "")
    assert "merchant text" not in (notice.text or "")
