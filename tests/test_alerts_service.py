"""Alert subscriptions through the real Application: /alerts, buttons, typed zones, blocking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.alerts.keys import parse_key
from bot.alerts.service import AlertService
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Merchant, Mode, Outbox, OutboxStatus
from tests.conftest import NOW, Clock, make_settings

DEADLINE = NOW + timedelta(days=10)  # 2026-12-07 12:00 UTC
FULL_ANSWERS = {
    "platform": "shopify",
    "market": ["uk"],
    "entity": "company",
    "origin": "local",
    "catalogue": "small",
    "fulfilment": "own",
    "uses": ["shop_tab"],
    "shop_status": "not_started",
    "shop_name": "Acme",
    "go_live": "2026-12-20",
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, deadline=DEADLINE)


def service_of(app: BotApp) -> AlertService:
    service = app.bot_data.alerts
    assert service is not None
    return service


async def rows(db: Database, merchant_id: int = 1001, status: str | None = None) -> list[Outbox]:
    async with db.session() as session:
        query = select(Outbox).where(Outbox.merchant_id == merchant_id)
        if status is not None:
            query = query.where(Outbox.status == status)
        return list((await session.exec(query)).all())


async def merchant(db: Database, merchant_id: int = 1001) -> Merchant:
    async with db.session() as session:
        found = await session.get(Merchant, merchant_id)
        assert found is not None
        return found


async def finish_interview(db: Database, answers: dict[str, object] | None = None) -> None:
    async with db.session() as session:
        found = await session.get(Merchant, 1001)
        assert found is not None
        found.answers = dict(answers or FULL_ANSWERS)
        found.path = []
        found.current = None
        found.mode = Mode.DONE


async def subscribe(user: SimulatedUser) -> None:
    await user.send("/alerts")
    await user.press("🔔 Turn alerts on")


async def test_subscribe_shows_schedule_and_plans_rows(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    replies = await user.send("/alerts")
    assert "Deadline alerts: off" in (replies[-1].text or "")
    assert "🔔 Turn alerts on" in replies[-1].button_labels
    assert await rows(db) == []

    await user.press("🔔 Turn alerts on")
    text = user.last_text()
    assert "Deadline alerts: on" in text
    assert "Scheduled" in text
    # 10 days before the deadline: 7d, 3d, 1d and the day itself are still ahead.
    keys = sorted(parse_key(r.key).offset for r in await rows(db, status="pending"))  # type: ignore[union-attr]
    assert keys == ["0d", "1d", "3d", "7d"]
    assert "30 days, 14 days, 7 days, 3 days and 1 day before TikTok Storefront closes on" in text
    assert "and on the day itself" in text and "on the day before" not in text
    assert "🔕 Turn alerts off" in user.buttons()
    assert (await merchant(db)).alerts_on


async def test_replanning_is_idempotent_and_never_touches_sent_rows(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock
) -> None:
    await subscribe(user)
    before = {r.key: (r.id, r.due_at) for r in await rows(db)}
    await user.press("🔕 Turn alerts off")
    await user.press("🔔 Turn alerts on")
    after = {r.key: (r.id, r.due_at) for r in await rows(db, status="pending")}
    assert after == before  # same rows (ids kept), same due times
    # Mark one sent; re-planning must leave it alone.
    async with db.session() as session:
        row = (
            await session.exec(select(Outbox).where(Outbox.key.startswith("deadline:7d")))
        ).one()
        row.status = OutboxStatus.SENT
        sent_due = row.due_at
    await user.press("🕘 Preferred hour")
    await user.press("9:00")
    sent = await rows(db, status="sent")
    assert len(sent) == 1 and sent[0].due_at == sent_due


async def test_preferred_hour_and_button_timezone(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    await subscribe(user)
    await user.press("🌍 Time zone")
    assert "Tokyo" in user.buttons()
    await user.press("Tokyo")
    assert "Asia/Tokyo" in user.last_text()
    assert (await merchant(db)).timezone == "Asia/Tokyo"
    await user.press("🕘 Preferred hour")
    await user.press("9:00")
    tokyo = ZoneInfo("Asia/Tokyo")
    pending = await rows(db, status="pending")
    assert pending
    for row in pending:
        assert row.due_at.astimezone(tokyo).hour == 9, row
    assert "Preferred hour: <b>9:00</b>" in (user.last_reply().raw_text or "")  # type: ignore[union-attr]


async def test_typed_timezone_bad_then_good(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    await subscribe(user)
    await user.press("🌍 Time zone")
    await user.press("⌨️ Type my city or UTC offset")
    assert (await merchant(db)).awaiting == "alerts:tz"
    replies = await user.send("Narnia")
    assert "couldn't find a time zone called “Narnia”" in (replies[-1].text or "")
    assert (await merchant(db)).awaiting == "alerts:tz"  # asked again, still waiting
    replies = await user.send("lisbon")
    assert "Time zone set: Europe/Lisbon" in (replies[-1].text or "")
    found = await merchant(db)
    assert found.timezone == "Europe/Lisbon" and found.awaiting is None
    # The next typed text is not a time zone any more.
    await user.send("UTC+2")
    assert (await merchant(db)).timezone == "Europe/Lisbon"


async def test_typed_utc_offset(app: BotApp, user: SimulatedUser, db: Database) -> None:
    await user.send("/alerts")
    await user.press("🌍 Time zone")
    await user.press("⌨️ Type my city or UTC offset")
    await user.send("UTC+5:30")
    assert (await merchant(db)).timezone == "UTC+05:30"


async def test_quiet_hours_and_unsubscribe(app: BotApp, user: SimulatedUser, db: Database) -> None:
    await subscribe(user)
    await user.press("🌙 Quiet hours")
    await user.press("No quiet hours")
    assert (await merchant(db)).quiet_hours == "off"
    await user.press("🌙 Quiet hours")
    await user.press("21:00–8:00")
    assert (await merchant(db)).quiet_hours == "21-8"
    await user.press("🔕 Turn alerts off")
    assert "Deadline alerts: off" in user.last_text()
    assert await rows(db, status="pending") == []
    assert {r.status for r in await rows(db)} == {"cancelled"}


async def test_past_deadline_says_so_and_golive_alerts_still_work(
    make_app: object, fake: FakeTelegram, db: Database, db_url: str, content: object, clock: Clock
) -> None:
    from bot.app import build_application
    from bot.botapi.fake import FakeRequest

    settings = make_settings(db_url)  # the real deadline: 12 September 2023, long gone
    app = build_application(
        settings,
        request=FakeRequest(fake),
        content=content,  # type: ignore[arg-type]
        db=db,
        clock=clock,
    )
    async with app:
        user = SimulatedUser(app, fake, user_id=1001)
        await user.send("/start")
        await finish_interview(db)
        await subscribe(user)
        text = user.last_text()
        assert "TikTok Storefront closed on 12 September 2023" in text
        assert "no shutdown alerts" in text
        assert "still work.Your" not in text  # each sentence on its own line (trim_blocks)
        assert "still work.\nYour go-live date" in text
        assert "🔔 Reminders:" in text and "Deadline alerts" not in text  # issue 14
        keys = sorted(r.key for r in await rows(db, status="pending"))
        # go-live 2026-12-20 is 23 days away: 14d, 7d, 3d, 1d, 0d.
        assert keys == [f"golive:{o}@20261220" for o in ("0d", "14d", "1d", "3d", "7d")]


async def test_changing_go_live_replans(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock
) -> None:
    await user.send("/start")
    await finish_interview(db)
    await subscribe(user)
    assert any(r.key.startswith("golive:") for r in await rows(db, status="pending"))
    service = service_of(app)
    async with db.session(lock_chat=1001) as session:
        found = await session.get(Merchant, 1001)
        assert found is not None
        found.answers = {**FULL_ANSWERS, "go_live": None}
        await service.replan_on(await session.connection(), found)
    assert not any(r.key.startswith("golive:") for r in await rows(db, status="pending"))


async def test_blocked_update_turns_alerts_off_and_unblock_offers_resume(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    await subscribe(user)
    assert await rows(db, status="pending")
    await user.block_bot()
    found = await merchant(db)
    assert not found.alerts_on and found.blocked
    assert await rows(db, status="pending") == []
    assert {r.error for r in await rows(db)} == {"blocked"}

    replies = await user.unblock_bot()
    assert replies and "Welcome back" in (replies[-1].text or "")
    assert not (await merchant(db)).blocked
    await user.press("🔔 Turn alerts back on")
    assert (await merchant(db)).alerts_on
    assert await rows(db, status="pending")


async def test_alerts_button_on_plan_opens_settings(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    await finish_interview(db)
    await user.send("/plan")
    replies = await user.press("🔔 Alerts")
    assert "Deadline alerts: off" in (replies[-1].text or "")


async def test_forged_alert_argument_changes_nothing(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    replies = await user.send("/alerts")
    await user.press_data(replies[-1].message_id, "1A:hour-99")
    await user.press_data(replies[-1].message_id, "1A:tz-atlantis")
    await user.press_data(replies[-1].message_id, "1A:snooze-999")
    found = await merchant(db)
    assert found.preferred_hour == 10 and found.timezone == "UTC"  # the defaults
    assert await rows(db) == []


async def test_nudge_is_off_by_default_and_can_be_turned_on(
    app: BotApp, user: SimulatedUser, db: Database, clock: Clock
) -> None:
    await subscribe(user)
    assert not any(r.key.startswith("nudge@") for r in await rows(db))
    await user.press("📅 Weekly nudge: turn on")
    nudges = [r for r in await rows(db, status="pending") if r.key.startswith("nudge@")]
    assert len(nudges) == 1
    assert nudges[0].due_at >= datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_replanning_writes_each_change_as_the_rules_say(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    """Re-planning runs Core statements (issue 20): what each change writes, pinned."""
    await subscribe(user)
    planned = {r.key: r for r in await rows(db)}
    await user.press("🔕 Turn alerts off")
    off = await rows(db)
    assert {(r.status, r.error) for r in off} == {("cancelled", "off")}
    # One row failed after tries (a lease left on it); turning alerts on makes it pending
    # again with its tries forgotten, as the other cancelled rows.
    failed_key = sorted(planned)[0]
    async with db.session() as session:
        row = (await session.exec(select(Outbox).where(Outbox.key == failed_key))).one()
        row.status, row.attempts, row.unanswered = OutboxStatus.FAILED, 3, 1
        row.error, row.lease_owner = "timed out", "instance-1"
    await user.press("🔔 Turn alerts on")
    again = {r.key: r for r in await rows(db)}
    assert set(again) == set(planned)
    for key, r in again.items():
        assert (r.id, r.due_at, r.status) == (planned[key].id, planned[key].due_at, "pending")
        assert (r.attempts, r.unanswered, r.error) == (0, 0, None), key
    assert again[failed_key].lease_owner == "instance-1"  # not re-planning's to change
    # A new hour moves the pending rows (same rows, new due times); nothing is added.
    await user.press("🕘 Preferred hour")
    await user.press("9:00")
    moved = {r.key: r for r in await rows(db)}
    assert {k: r.id for k, r in moved.items()} == {k: r.id for k, r in planned.items()}
    assert all(r.due_at != planned[k].due_at and r.due_at.hour == 9 for k, r in moved.items())


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_alerts_turned_on_at_first_contact_are_planned(
    app: BotApp, user: SimulatedUser, db: Database
) -> None:
    """A press from a merchant the bot has not met: the merchant is inserted by the ORM in
    the turn, then re-planning (Core) adds their rows in the same transaction."""
    await user.send("/alerts")
    async with db.session() as session:  # the bot has not met them: no row
        found = await session.get(Merchant, 1001)
        await session.delete(found)
    await user.press("🔔 Turn alerts on")
    assert (await merchant(db)).alerts_on
    keys = sorted(parse_key(r.key).offset for r in await rows(db, status="pending"))  # type: ignore[union-attr]
    assert keys == ["0d", "1d", "3d", "7d"]
