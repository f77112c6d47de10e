"""Issue 15: a forgiving conversation, through the real Application and the fake Bot API.

Each test here failed before the fix it covers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlmodel import select

from bot.alerts.keys import parse_key
from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.content.loader import Content
from bot.storage.db import Database
from bot.storage.models import Merchant, Outbox, OutboxStatus
from tests.chat import Profile, interview
from tests.conftest import NOW, Clock, make_settings

NEAR_DEADLINE = NOW + timedelta(days=10)  # 2026-12-07 12:00 UTC


async def merchant_of(db: Database, user_id: int = 1001) -> Merchant:
    async with db.session() as session:
        found = await session.get(Merchant, user_id)
        assert found is not None
        return found


async def pending(db: Database, user_id: int = 1001) -> list[Outbox]:
    async with db.session() as session:
        query = select(Outbox).where(
            Outbox.merchant_id == user_id, Outbox.status == OutboxStatus.PENDING
        )
        return sorted((await session.exec(query)).all(), key=lambda row: row.due_at)


# --- 2. bugs new merchants hit -----------------------------------------------------------


async def test_preferred_hour_keeps_the_day_before_go_live_alert(
    user: SimulatedUser, db: Database
) -> None:
    # Go-live 10 days ahead (27 Nov → 7 Dec 2026); the shutdown is long past.
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), go_live="2026-12-07"))
    await user.send("/alerts")
    await user.press("🔔 Turn alerts on")
    await user.press("🕘 Preferred hour")
    await user.press("9:00")
    rows = await pending(db)
    offsets = [parse_key(row.key).offset for row in rows]  # type: ignore[union-attr]
    assert offsets == ["7d", "3d", "1d", "0d"]
    london = ZoneInfo("Europe/London")
    days = [row.due_at.astimezone(london).date().isoformat() for row in rows]
    assert days == ["2026-11-30", "2026-12-04", "2026-12-06", "2026-12-07"]
    assert all(row.due_at.astimezone(london).hour == 9 for row in rows)
    text = user.last_text()
    assert "6 December 2026, 09:00: 1 day before your go-live date" in text
    assert "7 December 2026, 09:00: the day of your go-live date" in text


async def test_step_deep_link_opens_after_the_interview_for_a_new_merchant(
    user: SimulatedUser,
) -> None:
    replies = await user.send("/start s__open-seller-account")
    assert "it opens once your answers are in" in " ".join(m.text or "" for m in replies)
    last = await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    assert (last[-1].text or "").startswith("Step ")
    assert "Apply for a TikTok Shop seller account" in (last[-1].text or "")
    assert "✅ Done" in last[-1].button_labels
    # Only once: changing an answer later does not open it again.
    await user.send("/profile")
    await user.press("Change: Catalogue size")
    replies = await user.press("More than 500 products")
    assert not any((m.text or "").startswith("Step ") for m in replies)


@pytest.fixture
async def near(
    fake: FakeTelegram, db: Database, db_url: str, content: Content, clock: Clock
) -> AsyncIterator[SimulatedUser]:
    """A merchant of a deployment whose shutdown is 10 days ahead."""
    app = build_application(
        make_settings(db_url, deadline=NEAR_DEADLINE),
        request=FakeRequest(fake),
        content=content,
        db=db,
        clock=clock,
    )
    async with app:
        yield SimulatedUser(app, fake, user_id=3001)


async def test_alerts_do_not_offer_a_go_live_date_to_a_selling_merchant(
    user: SimulatedUser,
) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), status="Already selling"))
    text = (await user.send("/alerts"))[-1].text or ""
    assert "go-live date" not in text
    other = SimulatedUser(user.app, user.fake, user_id=1002)
    await interview(other, Profile("p", "Shopify", ("United Kingdom",)))
    text = (await other.send("/alerts"))[-1].text or ""
    assert "Add your go-live date" in text


async def test_alerts_text_reads_well(near: SimulatedUser) -> None:
    text = (await near.send("/alerts"))[-1].text or ""
    assert (
        "I'll message you 30 days, 14 days, 7 days, 3 days and 1 day before TikTok Storefront"
        " closes on 7 December 2026, and on the day itself." in text
    )
    assert "on the day before" not in text


@pytest.mark.parametrize(
    ("go_live", "said"),
    [
        # NOW is 27 November 2026, 12:00 in London; reminders at the preferred hour, 10:00.
        ("2027-03-01", "30 days, 14 days, 7 days, 3 days and 1 day before it, and on the day"),
        ("in 10 days", "I'll message you 7 days, 3 days and 1 day before it, and on the day"),
        ("tomorrow", "I'll message you on the day itself."),
    ],
)
async def test_alerts_name_only_the_go_live_reminders_still_ahead(
    user: SimulatedUser, go_live: str, said: str
) -> None:
    await interview(user, Profile("g", "Shopify", ("United Kingdom",), go_live=go_live))
    text = (await user.send("/alerts"))[-1].text or ""
    assert said in text, text
    assert "on the day it." not in text


async def test_alerts_after_the_go_live_date_say_it_has_passed(
    user: SimulatedUser, clock: Clock
) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), go_live="in 3 days"))
    clock.now += timedelta(days=5)
    text = (await user.send("/alerts"))[-1].text or ""
    assert "I'll message you" not in text, text
    assert "has passed" in text and "/profile" in text, text


@pytest.mark.parametrize("first", ["hello", "Hi there!"])
async def test_a_first_message_starts_the_interview(user: SimulatedUser, first: str) -> None:
    replies = await user.send(first)
    texts = [m.text or "" for m in replies]
    assert not any("buttons on the question above" in t for t in texts), texts
    assert "I help merchants move" in texts[0]
    assert "Which platform runs your online store?" in texts[-1]
    assert "Shopify" in replies[-1].button_labels
    # Now a question is on screen: typed nonsense gets the hint.
    again = (await user.send("hello"))[-1].text or ""
    assert "buttons on the question above" in again


async def test_the_first_message_after_delete_starts_the_interview(user: SimulatedUser) -> None:
    await user.send("/start")
    await user.press("Shopify")
    await user.send("/delete")
    await user.press("Yes, delete everything")
    replies = await user.send("hello")
    assert "Which platform runs your online store?" in (replies[-1].text or "")
    assert not any("buttons on the question above" in (m.text or "") for m in replies)


async def test_skip_is_not_praised_and_finishing_with_skips_reads_well(
    user: SimulatedUser,
) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",), shop_name="Ann & Co"))
    await user.press("▶️ Next step")
    replies = await user.press("⏭ Skip")
    following = replies[-1].text or ""
    assert "Nice work" not in following and "Skipped for now. 0 of" in following
    replies = await user.press("✅ Done")
    assert "Nice work on Ann & Co! 1 of" in (replies[-1].text or "")
    for _ in range(80):
        text = user.last_text()
        if "every step of your plan" in text:
            break
        await user.press("⏭ Skip")
    text = user.last_text()
    assert "Every step done or skipped" not in text and "done or skipped (" not in text
    assert "Ann & Co: you have been through every step of your plan: 1 done," in text
    assert "skipped steps stay in /plan" in text


async def test_finishing_without_skips_does_not_mention_skipped_steps(
    user: SimulatedUser,
) -> None:
    from tests.chat import finish_plan

    await interview(user, Profile("p", "Wix", ("Belgium",)))
    titles = await finish_plan(user)
    text = user.last_text()
    assert f"Every step of your plan is done ({len(titles)} of {len(titles)})" in text
    assert "skipped" not in text.lower()


async def test_uk_returns_read_as_english(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    await user.send("/start s__market-uk")
    text = user.last_text()
    assert "a legal right to cancel within 14 days" in text
    assert "a 14 days" not in text and "a 30 days" not in text


async def test_calendar_without_anything_ahead_says_so(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    replies = await user.send("/calendar")
    assert replies[-1].document is None
    assert "nothing ahead to put in a calendar yet" in (replies[-1].text or "")
    assert "Add your go-live date" in (replies[-1].text or "")


async def test_calendar_alert_events_say_what_they_are(near: SimulatedUser) -> None:
    await interview(near, Profile("p", "Shopify", ("United Kingdom",), go_live="2026-12-20"))
    await near.send("/alerts")
    await near.press("🔔 Turn alerts on")
    document = (await near.send("/calendar"))[-1]
    calendar = Calendar.from_ical(document.document_bytes or b"")
    summaries = [str(e.get("summary")) for e in calendar.walk("VEVENT")]
    assert "Migration reminder" not in summaries
    assert "🔔 Reminder: 7 days before the Storefront shutdown" in summaries
    assert "🔔 Reminder: 1 day before your go-live date" in summaries
    assert "🔔 Reminder: the day of your go-live date" in summaries
    for event in calendar.walk("VEVENT"):
        assert str(event.get("description") or ""), event.get("summary")


# --- 1. typing wherever a screen invites it ------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Lisbon", "Europe/Lisbon"),
        ("america/new_york", "America/New_York"),
        ("GMT+1", "UTC+01:00"),
        ("+5:30", "UTC+05:30"),
    ],
)
async def test_time_zone_typed_on_the_time_zone_screen(
    user: SimulatedUser, db: Database, typed: str, zone: str
) -> None:
    await user.send("/alerts")
    await user.press("🌍 Time zone")
    replies = await user.send(typed)  # no "Type my city" press first
    assert f"Time zone set: {zone}" in (replies[-1].text or "")
    assert (await merchant_of(db)).timezone == zone


@pytest.mark.parametrize("typed", ["localtime", "Factory", "posixrules", "posix/Europe/Paris"])
async def test_the_servers_own_zone_is_no_merchants_time_zone(
    user: SimulatedUser, db: Database, typed: str
) -> None:
    # "localtime" is the host's zone: the merchant's alerts would follow the server.
    await user.send("/alerts")
    await user.press("🌍 Time zone")
    before = (await merchant_of(db)).timezone
    reply = (await user.send(typed))[-1].text or ""
    assert "Time zone set" not in reply, reply
    assert (await merchant_of(db)).timezone == before


async def test_hour_and_quiet_hours_typed_on_their_screens(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/alerts")
    await user.press("🕘 Preferred hour")
    assert "9am" in user.last_text()
    reply = (await user.send("half past nine"))[-1].text or ""
    assert "couldn't read “half past nine” as an hour" in reply
    await user.send("9pm")
    assert (await merchant_of(db)).preferred_hour == 21
    assert "Preferred hour: 21:00" in user.last_text()
    await user.send("/alerts")
    await user.press("🕘 Preferred hour")
    await user.send("07:00")
    assert (await merchant_of(db)).preferred_hour == 7
    await user.press("🌙 Quiet hours")
    await user.send("22-7")
    assert (await merchant_of(db)).quiet_hours == "22-7"
    assert "Quiet hours: 22:00–7:00" in user.last_text()
    # Once saved, typing is no longer read as a setting.
    await user.send("23-6")
    assert (await merchant_of(db)).quiet_hours == "22-7"


async def test_a_picker_left_for_the_interview_hands_typing_on(user: SimulatedUser) -> None:
    await user.send("/start")
    await user.send("/alerts")
    await user.press("🌍 Time zone")
    await user.send("/start")
    replies = await user.send("Shopify")
    assert "Which markets do you sell to?" in (replies[-1].text or "")


async def test_done_skip_next_back_typed_on_a_step(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",)))
    first = (await user.press("▶️ Next step"))[-1].text or ""
    assert first.startswith("Step 1 of")
    reply = (await user.send("done"))[-1].text or ""
    assert reply.startswith("Step 2 of") and "Nice work! 1 of" in reply
    reply = (await user.send("Skip"))[-1].text or ""
    assert reply.startswith("Step 3 of") and "Skipped for now. 1 of" in reply
    plan = (await user.send("back"))[-1].text or ""
    assert "1 of" in plan and "1 skipped" in plan and "Your migration plan" in plan
    nxt = (await user.send("next"))[-1].text or ""
    assert nxt.startswith("Step 3 of")
    # Opening an earlier step from the plan: "done" applies to that one.
    await user.send("/plan")
    await user.press(next(b for b in user.buttons() if b.startswith("⏭ 2.")))
    await user.send("done")
    plan = (await user.send("/plan"))[-1].text or ""
    assert "2 of" in plan and "done" in plan and "skipped" not in plan


async def test_markets_typed_known_and_unknown(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    await user.press("Shopify")
    reply = (await user.send("uk, germany, narnia"))[-1].text or ""
    assert "Which markets do you sell to?" in reply
    assert "Ticked: United Kingdom, Germany" in reply
    assert "I don't know “narnia”" in reply
    await user.press("Done ✓")
    answers = (await merchant_of(db)).answers
    assert answers["market"] == ["uk", "de"]


async def test_typing_in_a_multi_select_adds_to_the_ticks(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/start")
    await user.press("Shopify")
    await user.press("⬜ United Kingdom")
    reply = (await user.send("germany"))[-1].text or ""
    assert "Is your business a registered company" in reply
    assert (await merchant_of(db)).answers["market"] == ["uk", "de"]


async def test_flag_emoji_name_markets(user: SimulatedUser, db: Database) -> None:
    await user.send("/start")
    await user.press("Shopify")
    await user.send("🇬🇧🇩🇪 and 🇫🇷")
    assert (await merchant_of(db)).answers["market"] == ["uk", "de", "fr"]


async def go_live_question(user: SimulatedUser) -> None:
    await user.send("/start")
    for answer in ("Shopify", "UK", "company", "local", "1-50", "own", "ads", "applied"):
        await user.send(answer)
    await user.press("Skip")
    assert "When do you want to be selling" in user.last_text()


async def test_go_live_dates_typed_as_people_write_them(user: SimulatedUser, db: Database) -> None:
    await go_live_question(user)
    reply = (await user.send("01/02/2027"))[-1].text or ""
    assert "01/02/2027: 1 February 2027 or 2 January 2027?" in reply
    assert "go_live" not in (await merchant_of(db)).answers
    reply = (await user.send("99999999999999999999 1 2030"))[-1].text or ""
    assert "could not read that as a date" in reply  # not an apology for an OverflowError
    await user.send("next friday")
    assert (await merchant_of(db)).answers["go_live"] == "2026-12-04"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("tomorrow", "2026-11-28"), ("March 2027", "2027-03-01"), ("15 Jan", "2027-01-15")],
)
async def test_relative_and_named_dates(
    user: SimulatedUser, db: Database, typed: str, stored: str
) -> None:
    await go_live_question(user)
    await user.send(typed)
    assert (await merchant_of(db)).answers["go_live"] == stored


# --- 3. navigation -------------------------------------------------------------------------


async def test_details_keep_done_and_skip(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",)))
    await user.press("▶️ Next step")
    details = (await user.press("ℹ️ Details"))[-1]
    assert details.button_labels[:2] == ["✅ Done", "⏭ Skip"]
    replies = await user.press("✅ Done")
    assert (replies[-1].text or "").startswith("Step 2 of")


async def test_back_to_plan_returns_to_the_steps_page(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    await user.press("Later steps ▶")
    ninth = next(b for b in user.buttons() if b.startswith("▫️ 9."))
    await user.press(ninth)
    plan = (await user.press("« Back to plan"))[-1].text or ""
    assert "page 2 of" in plan and "9. " in plan


async def test_welcome_back_offers_the_next_step(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",)))
    greeting = (await user.send("/start"))[-1]
    assert "Welcome back" in (greeting.text or "")
    assert "▶️ Next step" in greeting.button_labels
    step = (await user.press("▶️ Next step"))[-1].text or ""
    assert step.startswith("Step 1 of")


async def test_question_header_counts_the_likely_path(user: SimulatedUser) -> None:
    first = (await user.send("/start"))[-1].text or ""
    assert first.startswith("Question 1 of 10")
    await user.press("I have no web store")  # skips the Storefront question
    second = user.last_text()
    assert second.startswith("Question 2 of 9")


# --- 4. reminder defaults ------------------------------------------------------------------


async def test_reminder_defaults_make_sense(near: SimulatedUser, db: Database) -> None:
    await interview(near, Profile("p", "Shopify", ("Germany", "United Kingdom")))
    text = (await near.send("/alerts"))[-1].text or ""
    assert "Time zone: Europe/Berlin" in text  # proposed from the first one-zone market
    assert "Preferred hour: 10:00" in text
    assert "Quiet hours: 21:00–8:00" in text
    await near.press("🔔 Turn alerts on")
    berlin = ZoneInfo("Europe/Berlin")
    rows = await pending(db, near.user_id)
    assert rows and all(row.due_at.astimezone(berlin).hour == 10 for row in rows)
    # All changeable: an explicit choice is kept when the markets change.
    await near.press("🌍 Time zone")
    await near.press("Lisbon")
    await near.send("/profile")
    await near.press("Change: Markets")
    await near.press("⬜ France")
    await near.press("Done ✓")
    assert (await merchant_of(db, near.user_id)).timezone == "Europe/Lisbon"


# --- 5. demo and README ----------------------------------------------------------------------


def test_env_example_placeholder_token_is_refused() -> None:
    from bot.config import ConfigError, Settings
    from tests.conftest import REPO

    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    token = next(line.split("=", 1)[1] for line in lines if line.startswith("TELEGRAM_TOKEN="))
    with pytest.raises(ConfigError, match="TELEGRAM_TOKEN is malformed"):
        Settings.model_validate({"telegram_token": token}).token()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "TELEGRAM_TOKEN=<" not in readme  # bash reads "<" as a redirection
    assert re.search(r"whole suite takes about \d+ minutes", readme)  # says how long


@pytest.mark.parametrize("typed", ["all of them", "All!", "everything", "all of the above"])
async def test_all_of_them_typed_ticks_every_use_of_storefront(
    user: SimulatedUser, db: Database, typed: str
) -> None:
    # "all of them" at "what did you use Storefront for": every use, never the
    # "I didn't use Storefront" option, and the interview moves on.
    await interview(user, Profile("all", "Shopify", ("United Kingdom",)))
    await user.send("/profile")
    await user.press("Change: What you used Storefront for")
    await user.press("☑️ Shop tab on my profile")  # untick: start from nothing ticked
    reply = (await user.send(typed))[-1].text or ""
    assert "I didn't catch that" not in reply, reply
    uses = (await merchant_of(db)).answers["uses"]
    assert uses == ["shop_tab", "video_links", "live", "ads"]


async def test_all_typed_where_all_means_nothing_is_not_guessed(user: SimulatedUser) -> None:
    # At the markets question "all" would tick sixteen markets and "a country without
    # TikTok Shop": not a guess the bot makes.
    await user.send("/start")
    await user.press("Shopify")
    reply = (await user.send("all of them"))[-1].text or ""
    assert "Which markets do you sell to?" in reply or "I didn't catch that" in reply, reply
    assert "Ticked" not in reply


@pytest.mark.parametrize(
    "typed",
    [
        "December 9999",
        "late December 9999",
        "mid Dec 9999",
        "9999-12",
        "12/9999",
        "12.9999",
        "Dezember 9999",
        "Q4 9999",
        "end of 9999",
    ],
)
async def test_a_go_live_date_at_the_end_of_the_calendar_is_too_far_not_a_crash(
    user: SimulatedUser, db: Database, typed: str
) -> None:
    await go_live_question(user)
    reply = (await user.send(typed))[-1].text or ""
    assert "Sorry" not in reply and "more than three years away" in reply, reply
    assert "go_live" not in (await merchant_of(db)).answers


@pytest.mark.parametrize("typed", ["2027-13", "2027/13", "13/2027", "13.2027", "2027-00"])
async def test_a_month_past_twelve_is_not_read_as_a_day(
    user: SimulatedUser, db: Database, typed: str
) -> None:
    await go_live_question(user)
    reply = (await user.send(typed))[-1].text or ""
    assert "could not read that as a date" in reply, reply
    assert "go_live" not in (await merchant_of(db)).answers
