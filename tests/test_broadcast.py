"""Operator broadcasts end to end: a segment, a dry run, one message per merchant through the
outbox (the real Application, its dispatcher and the fake Bot API), quiet hours, the
"stop these messages" button, cancel, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.__main__ import main
from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.broadcast.segments import Segment, SegmentError, parse_segment
from bot.broadcast.service import BroadcastError, BroadcastService, campaign_key
from bot.content.check import Checker
from bot.content.loader import load_content
from bot.context import BotApp
from bot.domain.callbacks import Broadcasts, decode, encode
from bot.storage.db import Database
from bot.storage.models import Event, Merchant, Mode, Outbox, OutboxStatus
from tests.conftest import NOW, REPO, AppFactory, Clock

UK_SHOPIFY: dict[str, object] = {
    "platform": "shopify",
    "market": ["uk"],
    "entity": "company",
    "origin": "local",
    "catalogue": "small",
    "fulfilment": "own",
    "uses": ["shop_tab"],
    "shop_status": "not_started",
    "shop_name": "Ann's Teas",
}
JP_ECWID: dict[str, object] = {**UK_SHOPIFY, "platform": "ecwid", "market": ["jp", "de"]}
STOP = "Stop these messages"


async def add(
    db: Database,
    merchant_id: int,
    answers: Mapping[str, object] = UK_SHOPIFY,
    **values: object,
) -> None:
    """A merchant as the bot stores one (done with the interview unless told otherwise)."""
    fields: dict[str, object] = {
        "id": merchant_id,
        "chat_id": merchant_id,
        "first_seen": NOW - timedelta(days=30),
        "last_seen": NOW - timedelta(days=20),
        "answers": dict(answers),
        "path": [],
        "current": None,
        "mode": Mode.DONE,
        "language_code": "en",
        "quiet_hours": "off",
    }
    fields.update(values)
    async with db.session() as session:
        session.add(Merchant(**fields))  # type: ignore[arg-type]


async def population(db: Database) -> None:
    """uk: 1 (en), 2 (de), 6 (reminders off); not uk: 3; uk but blocked: 4; opted out: 5."""
    await add(db, 1)
    await add(db, 2, language_code="de-AT")
    await add(db, 3, JP_ECWID)
    await add(db, 4, blocked=True)
    await add(db, 5, broadcasts_off=True)
    await add(db, 6, alerts_on=False)


def service(app: BotApp) -> BroadcastService:
    found = app.bot_data.broadcasts
    assert found is not None
    return found


async def drain(app: BotApp) -> int:
    dispatcher = app.bot_data.alerts.dispatcher
    assert dispatcher is not None
    return await dispatcher.drain()


def received(fake: FakeTelegram, *chats: int) -> dict[int, int]:
    return {chat: len(fake.messages(chat)) for chat in chats}


def test_segments_parse_and_print_back() -> None:
    text = "market=uk,de platform=shopify lang=de stopped=market:3 plan=not-opened idle=14"
    segment = parse_segment(text)
    assert segment == Segment(
        markets=("de", "uk"),
        platforms=("shopify",),
        languages=("de",),
        stopped_at="market",
        stopped_days=3,
        plan_not_opened=True,
        no_progress_days=14,
    )
    assert parse_segment(segment.text()) == segment
    assert parse_segment("").everyone
    for bad in ("market", "colour=red", "idle=soon", "plan=opened", "market=U K!"):
        with pytest.raises(SegmentError):
            parse_segment(bad)


def test_the_stop_button_is_a_typed_callback() -> None:
    assert decode(encode(Broadcasts("stop"))) == Broadcasts("stop")
    assert decode(encode(Broadcasts("resume"))) == Broadcasts("resume")
    assert decode("1b:everything") is None


async def test_dry_run_counts_languages_previews_and_eta(app: BotApp, db: Database) -> None:
    await population(db)
    broadcasts = service(app)
    message = broadcasts.message(template="check-in")
    dry = await broadcasts.dry_run(parse_segment("market=uk"), message)
    assert dry.total == 3  # 1, 2 and 6: not 3 (Japan), 4 (blocked) or 5 (opted out)
    assert dry.per_language == {"de": 1, "en": 2}
    assert "How is the move to TikTok Shop going, Ann&#39;s Teas?" in dry.previews["en"]
    assert "Next up: <b>" in dry.previews["en"]
    assert "Wie läuft der Umzug zu TikTok Shop" in dry.previews["de"]
    assert dry.eta_seconds == 1 and dry.now_due == 3 and dry.waiting_quiet == 0
    # Nothing was queued or sent by a dry run.
    async with db.session() as session:
        assert (await session.exec(select(Outbox))).all() == []


async def test_free_text_must_be_telegram_html(app: BotApp) -> None:
    broadcasts = service(app)
    assert broadcasts.message(text="<b>Hi</b> there").text == "<b>Hi</b> there"
    for bad in ("<b>Hi", "<script>x</script>", "a & b", "   ", "x" * 5000):
        with pytest.raises(BroadcastError):
            broadcasts.message(text=bad)
    with pytest.raises(BroadcastError, match="no broadcast template"):
        broadcasts.message(template="nope")
    with pytest.raises(BroadcastError):
        broadcasts.message(template="check-in", text="and text")


async def test_exactly_one_message_per_merchant_in_the_segment_across_restarts(
    app: BotApp, db: Database, fake: FakeTelegram, make_app: AppFactory
) -> None:
    await population(db)
    broadcasts = service(app)
    campaign = await broadcasts.create(
        parse_segment("market=uk"), broadcasts.message(template="check-in"), by="test"
    )
    assert await drain(app) == 3
    assert received(fake, 1, 2, 3, 4, 5, 6) == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 1}
    english, german = fake.messages(1)[0], fake.messages(2)[0]
    assert english.text is not None and "How is the move" in english.text
    assert german.text is not None and "Wie läuft" in german.text
    assert english.button_labels == [STOP]
    assert german.button_labels == ["Keine solchen Nachrichten mehr"]
    progress = await broadcasts.progress(campaign)
    assert progress is not None
    assert (progress.total, progress.sent, progress.left, progress.percent) == (3, 3, 0, 100)

    # A restart (a new Application on the same database) sends nothing again.
    again = make_app()
    async with again:
        assert await drain(again) == 0
    assert received(fake, 1, 2, 6) == {1: 1, 2: 1, 6: 1}


async def test_quiet_hours_hold_a_message_until_they_end(
    app: BotApp, db: Database, fake: FakeTelegram, clock: Clock
) -> None:
    await add(db, 11)
    await add(db, 12, quiet_hours="11-14")  # NOW is 12:00 UTC: inside
    broadcasts = service(app)
    dry = await broadcasts.dry_run(Segment(), broadcasts.message(text="Hello"))
    assert (dry.now_due, dry.waiting_quiet) == (1, 1)
    campaign = await broadcasts.create(Segment(), broadcasts.message(text="Hello"), by="test")
    assert await drain(app) == 1
    assert received(fake, 11, 12) == {11: 1, 12: 0}
    progress = await broadcasts.progress(campaign)
    assert progress is not None and (progress.sent, progress.left) == (1, 1)
    clock.now = NOW + timedelta(hours=2, minutes=1)
    assert await drain(app) == 1
    assert received(fake, 11, 12) == {11: 1, 12: 1}


async def test_a_retry_or_a_change_never_lands_inside_quiet_hours(
    app: BotApp, db: Database, fake: FakeTelegram, clock: Clock
) -> None:
    """Quiet hours are the merchant's at send time: a send retried after a 5xx that falls due
    inside them, or quiet hours set after the campaign was queued, wait until they end."""
    await add(db, 13, quiet_hours="12-14")  # NOW is 12:00 UTC: quiet from now on
    await add(db, 14)  # quiet hours off when the campaign is queued
    broadcasts = service(app)
    clock.now = NOW - timedelta(seconds=10)  # queued just before 12:00: both due at once
    await broadcasts.create(Segment(), broadcasts.message(text="Hello"), by="test")
    fake.fail_next("sendMessage", status=502, chat_id=13)
    async with db.session() as session:  # 14 sets quiet hours before the send
        merchant = await session.get(Merchant, 14)
        assert merchant is not None
        merchant.quiet_hours = "11-14"
    assert await drain(app) == 0  # 13: a 502; 14: inside its quiet hours now
    clock.now = NOW + timedelta(minutes=5)  # 13's retry is due: inside its quiet hours
    assert await drain(app) == 0
    assert received(fake, 13, 14) == {13: 0, 14: 0}
    async with db.session() as session:
        rows = (await session.exec(select(Outbox))).all()
    assert {row.merchant_id: row.due_at.replace(tzinfo=None) for row in rows} == {
        13: (NOW + timedelta(hours=2)).replace(tzinfo=None),
        14: (NOW + timedelta(hours=2)).replace(tzinfo=None),
    }
    clock.now = NOW + timedelta(hours=2, minutes=1)
    assert await drain(app) == 2
    assert received(fake, 13, 14) == {13: 1, 14: 1}


async def test_stop_button_opts_out_and_the_next_campaign_honours_it(
    app: BotApp, db: Database, fake: FakeTelegram
) -> None:
    await add(db, 1001)
    await add(db, 21)
    broadcasts = service(app)
    message = broadcasts.message(text="News")
    await broadcasts.create(Segment(), message, by="test")
    await drain(app)
    ann = SimulatedUser(app, fake, user_id=1001)
    replies = await ann.press(STOP)
    answer = ann.last_callback_answer()
    assert answer is not None and answer.text == "Done. No more messages like this."
    assert replies and "no more messages like that one" in (replies[-1].text or "")
    async with db.session() as session:
        merchant = await session.get(Merchant, 1001)
        assert merchant is not None and merchant.broadcasts_off
        assert not merchant.alerts_on  # reminders untouched (they were off)

    dry = await broadcasts.dry_run(Segment(), message)
    assert dry.total == 1
    await broadcasts.create(Segment(), message, by="test")
    await drain(app)
    assert received(fake, 21) == {21: 2}
    assert len([m for m in fake.messages(1001) if m.text == "News"]) == 1

    # The way back in.
    await ann.press("Get these messages again")
    async with db.session() as session:
        merchant = await session.get(Merchant, 1001)
        assert merchant is not None and not merchant.broadcasts_off
    assert (await broadcasts.dry_run(Segment(), message)).total == 2


async def test_opting_out_after_queueing_drops_the_queued_row(
    app: BotApp, db: Database, fake: FakeTelegram, clock: Clock
) -> None:
    await add(db, 31, quiet_hours="11-14")
    broadcasts = service(app)
    campaign = await broadcasts.create(Segment(), broadcasts.message(text="Hi"), by="test")
    async with db.session() as session:
        merchant = await session.get(Merchant, 31)
        assert merchant is not None
        merchant.broadcasts_off = True
    clock.now = NOW + timedelta(hours=3)
    assert await drain(app) == 0
    assert fake.messages(31) == []
    progress = await broadcasts.progress(campaign)
    assert progress is not None and (progress.skipped, progress.left) == (1, 0)


async def test_cancel_stops_the_rest(
    app: BotApp, db: Database, fake: FakeTelegram, clock: Clock
) -> None:
    await add(db, 41)
    await add(db, 42, quiet_hours="11-14")
    await add(db, 43, quiet_hours="11-14")
    broadcasts = service(app)
    campaign = await broadcasts.create(Segment(), broadcasts.message(text="Hi"), by="test")
    assert await drain(app) == 1
    assert await broadcasts.cancel(campaign, by="test") == 2
    clock.now = NOW + timedelta(hours=3)
    assert await drain(app) == 0
    assert received(fake, 41, 42, 43) == {41: 1, 42: 0, 43: 0}
    progress = await broadcasts.progress(campaign)
    assert progress is not None
    assert (progress.status, progress.sent, progress.skipped, progress.left) == (
        "cancelled",
        1,
        2,
        0,
    )


async def test_a_merchant_who_blocked_the_bot_is_skipped_and_marked(
    app: BotApp, db: Database, fake: FakeTelegram
) -> None:
    await add(db, 51)
    await add(db, 52)
    fake.block_chat(52)
    broadcasts = service(app)
    campaign = await broadcasts.create(Segment(), broadcasts.message(text="Hi"), by="test")
    await drain(app)
    assert received(fake, 51) == {51: 1}
    async with db.session() as session:
        merchant = await session.get(Merchant, 52)
        assert merchant is not None and merchant.blocked
    progress = await broadcasts.progress(campaign)
    assert progress is not None and (progress.sent, progress.skipped, progress.left) == (1, 1, 0)
    assert (await broadcasts.dry_run(Segment(), broadcasts.message(text="x"))).total == 1


async def test_segment_filters(app: BotApp, db: Database, clock: Clock) -> None:
    await add(db, 61)  # done, never opened the plan, no progress for 30 days
    await add(db, 62, last_progress=NOW - timedelta(days=2))  # recent progress
    await add(  # stopped at the market question 5 days ago
        db,
        63,
        {"platform": "shopify"},
        mode=Mode.INTERVIEW,
        current="market",
        last_seen=NOW - timedelta(days=5),
    )
    await add(  # stopped there yesterday
        db,
        64,
        {"platform": "shopify"},
        mode=Mode.INTERVIEW,
        current="market",
        last_seen=NOW - timedelta(days=1),
    )
    await add(db, 65, JP_ECWID, language_code="de")
    async with db.session() as session:
        session.add(Event(merchant_id=62, kind="plan_opened", at=NOW - timedelta(days=3)))
        session.add(Event(merchant_id=65, kind="step_opened", at=NOW - timedelta(days=3)))
    broadcasts = service(app)

    async def who(text: str) -> list[int]:
        return [r.id for r in await broadcasts.recipients(parse_segment(text))]

    assert await who("") == [61, 62, 63, 64, 65]
    assert await who("stopped=market:3") == [63]
    assert await who("stopped=market:0") == [63, 64]
    assert await who("plan=not-opened") == [61]
    assert await who("idle=14") == [61, 63, 64, 65]
    assert await who("market=de") == [65]
    assert await who("market=de,uk platform=shopify") == [61, 62]
    assert await who("platform=ecwid,bigcommerce") == [65]
    assert await who("status=not_started lang=de") == [65]
    assert await who("lang=en") == [61, 62, 63, 64]


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_segments_and_sending_on_postgres(
    app: BotApp, db: Database, fake: FakeTelegram
) -> None:
    await population(db)
    broadcasts = service(app)
    assert [r.id for r in await broadcasts.recipients(parse_segment("market=uk"))] == [1, 2, 6]
    assert [r.id for r in await broadcasts.recipients(parse_segment("market=jp,de"))] == [3]
    campaign = await broadcasts.create(
        parse_segment("market=uk"), broadcasts.message(text="Hi"), by="test"
    )
    assert await drain(app) == 3
    assert await drain(app) == 0
    async with db.session() as session:
        rows = (
            await session.exec(select(Outbox).where(Outbox.key == campaign_key(campaign)))
        ).all()
    assert sorted((r.merchant_id, r.status) for r in rows) == [
        (1, OutboxStatus.SENT),
        (2, OutboxStatus.SENT),
        (6, OutboxStatus.SENT),
    ]


def test_cli_dry_run_then_queue_status_and_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CONTENT_DIR", str(REPO / "content"))

    async def seed() -> None:
        database = Database(url)
        await database.upgrade()
        try:
            await population(database)
        finally:
            await database.dispose()

    asyncio.run(seed())
    args = ["broadcast", "--segment", "market=uk", "--template", "check-in"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "merchants: 3 (de 1, en 2)" in out
    assert "--- preview (de) ---" in out and "Wie läuft" in out
    assert "dry run: nothing queued" in out
    assert main(args) == 0
    assert "campaign 1 queued for 3 merchant(s)" in capsys.readouterr().out
    assert main(["broadcast", "--status", "1"]) == 0
    assert "0 sent, 0 failed, 0 skipped, 3 left of 3" in capsys.readouterr().out
    assert main(["broadcast", "--cancel", "1"]) == 0
    assert "campaign 1 cancelled: 3 message(s) not sent" in capsys.readouterr().out
    assert main(["broadcast", "--text", "<b>oops"]) == 2
    assert "not valid Telegram HTML" in capsys.readouterr().err
    assert main(["broadcast", "--segment", "colour=red", "--text", "hi"]) == 2


def test_content_check_renders_every_broadcast_template_in_every_locale(small_tree: Path) -> None:
    folder = small_tree / "locales" / "de" / "templates" / "broadcasts"
    (folder / "check-in.html.j2").write_text("<b>Hallo {{ shop_name }}", encoding="utf-8")
    (small_tree / "locales" / "en" / "templates" / "broadcasts" / "typo.html.j2").write_text(
        "Hi {{ shop_nam }}", encoding="utf-8"
    )
    checker = Checker(load_content(small_tree))
    checker.broadcast_templates()
    found = sorted(f"{p.path.parent.parent.parent.name}/{p.path.name}" for p in checker.problems)
    assert found == ["de/check-in.html.j2", "en/typo.html.j2", "en/typo.html.j2"] or (
        set(found) == {"de/check-in.html.j2", "en/typo.html.j2"}
    ), checker.problems
