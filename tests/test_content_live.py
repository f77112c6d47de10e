"""Content reloads without a restart: SIGHUP, a request through the database reaching every
instance, a broken tree keeping the old one, and "your plan changed" once per release."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import modes
from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.content.check import load_checked
from bot.content.loader import load_content
from bot.context import BotApp
from bot.metrics import Metrics
from bot.services.core import UserInfo
from bot.services.live import LiveContent
from bot.storage import instances
from bot.storage.db import Database
from bot.web import Health
from tests.conftest import NOW, Clock, make_settings
from tests.test_plan_changed import UK_SHOPIFY, add_merchant, bump, notices


@pytest.fixture
def settings(db_url: str, small_tree: Path) -> Settings:
    return make_settings(db_url, content_dir=small_tree, deadline=NOW + timedelta(days=60))


def build(settings: Settings, fake: FakeTelegram, db: Database, clock: Clock) -> BotApp:
    """An Application whose reloads only load the tree (the full check is the start's,
    tested once below with the real thing): the interview's every path takes seconds."""
    application = build_application(
        settings,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        content=load_checked(settings.content_dir, settings.deadline),
        db=db,
        clock=clock,
    )
    live_of(application).load = load_content
    return application


@pytest.fixture
async def app(
    settings: Settings, fake: FakeTelegram, db: Database, clock: Clock
) -> AsyncIterator[BotApp]:
    application = build(settings, fake, db, clock)
    async with application:
        assert application.post_init is not None
        await application.post_init(application)  # the release baseline, as every mode does
        yield application


def live_of(app: BotApp) -> LiveContent:
    live = app.bot_data.live
    assert live is not None
    return live


def retitle(tree: Path, title: str) -> None:
    """An editor changes the step's title (a new content hash, same step version)."""
    path = tree / "guidance" / "what-changed.md"
    text = path.read_text(encoding="utf-8")
    old = "title: From TikTok Storefront to TikTok Shop"
    path.write_text(text.replace(old, f"title: {title}", 1), encoding="utf-8")


@pytest.mark.slow
async def test_sighup_reloads_this_process_after_the_full_check(
    app: BotApp, small_tree: Path, settings: Settings
) -> None:
    live = live_of(app)
    live.load = functools.partial(load_checked, deadline=settings.deadline)
    live.poll_seconds = 30.0  # only the signal can wake it in time
    before = app.bot_data.content.hash
    retitle(small_tree, "Storefront has gone, what now")
    metrics = Metrics(content_hash=before)
    health = Health(app.bot_data.db, app.bot_data.content, metrics)
    async with modes.live_content(app, "run", metrics, health):
        await asyncio.sleep(0.05)  # the loop registers this instance first
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(1500):
            rows = await instances.list_instances(app.bot_data.db)
            if app.bot_data.content.hash != before and rows[0].content_hash != before:
                break
            await asyncio.sleep(0.02)
        after = app.bot_data.content.hash
        assert after != before
        assert health.content is app.bot_data.content
        assert app.bot_data.core.content.hash == after
        assert app.bot_data.content.step_text(None, "what-changed").title == (
            "Storefront has gone, what now"
        )
        rows = await instances.list_instances(app.bot_data.db)
        assert [(r.role, r.content_hash, r.problems) for r in rows] == [("run", after, [])]
    # A clean stop removes the row.
    assert await instances.list_instances(app.bot_data.db) == []


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_request_from_another_instance_reaches_this_one(
    app: BotApp,
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
    small_tree: Path,
    user: SimulatedUser,
) -> None:
    other = build(settings, fake, db, clock)  # a second process on the same database
    async with other:
        here, there = live_of(app), live_of(other)
        await here.start()
        await there.start()
        before = here.hash
        retitle(small_tree, "Storefront has gone, what now")
        assert await here.poll() is None  # nothing asked yet: the folder alone changes nothing
        assert here.hash == before
        await there.request_everywhere("operator 42")
        result = await here.poll()
        assert result is not None and result.ok and result.changed
        await there.poll()
        rows = await instances.list_instances(db)
        assert {r.id: r.content_hash for r in rows} == {
            here.instance_id: result.hash,
            there.instance_id: result.hash,
        }
        assert await here.poll() is None  # the same generation is not acted on twice
        # The merchant sees the new title.
        await add_merchant(
            db, user.user_id, {**UK_SHOPIFY, "shop_name": "Ann Shop", "go_live": "2027-01-31"}
        )
        replies = await user.send("/plan")
        assert "Storefront has gone, what now" in "\n".join(m.text or "" for m in replies)


async def test_a_broken_tree_keeps_the_old_one_and_says_why(
    app: BotApp, small_tree: Path, user: SimulatedUser, db: Database
) -> None:
    live = live_of(app)
    await live.start()
    before = live.hash
    interview = small_tree / "interview.yaml"
    interview.write_text("questions: [\n  - id: x\n", encoding="utf-8")
    await live.request_everywhere("operator 42")
    result = await live.poll()
    assert result is not None and not result.ok and not result.changed
    assert result.hash == before == app.bot_data.content.hash
    assert result.problems and str(interview) in result.problems[0]
    (row,) = await instances.list_instances(db)
    assert row.content_hash == before and row.problems == list(result.problems)
    replies = await user.send("/start")  # the old tree still serves
    assert replies and "Sorry" not in (replies[-1].text or "")


async def test_a_turn_keeps_the_release_it_opened_with(app: BotApp, small_tree: Path) -> None:
    core = app.bot_data.core
    old = core.live
    retitle(small_tree, "Storefront has gone, what now")
    async with core.turn(UserInfo(id=7, chat_id=7)):
        reload = asyncio.ensure_future(live_of(app).reload("test"))
        for _ in range(500):  # the swap happens while this update is in the middle
            await asyncio.sleep(0.01)
            if core._live is not old:
                break
        assert core._live is not old
        assert core.live is old and core.content is old.content  # mid-update: unchanged
        assert core.views is old.views
    result = await reload
    assert result.changed
    assert core.live is not old and core.live.content.hash == result.hash


@pytest.mark.slow
async def test_plan_changed_notices_once_after_a_reload(
    app: BotApp,
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
    small_tree: Path,
) -> None:
    await add_merchant(db, 501, UK_SHOPIFY)
    await add_merchant(db, 502, UK_SHOPIFY, alerts_on=False)
    live = live_of(app)
    await live.start()
    bump(small_tree, "what-changed")
    await live.request_everywhere("operator 42")
    result = await live.poll()
    assert result is not None and result.changed
    dispatcher = app.bot_data.alerts.dispatcher
    assert dispatcher is not None
    assert await dispatcher.drain() == 1
    (sent,) = fake.messages(501)
    assert (sent.text or "").startswith("🆕 Your plan changed")
    assert fake.messages(502) == []
    # Another reload of the same tree, and a restart with it: nothing more.
    await live.request_everywhere("operator 42")
    again = await live.poll()
    assert again is not None and again.ok and not again.changed
    restarted = build(settings, fake, db, clock)
    async with restarted:
        assert restarted.post_init is not None
        await restarted.post_init(restarted)
        assert restarted.bot_data.alerts.dispatcher is not None
        assert await restarted.bot_data.alerts.dispatcher.drain() == 0
    assert len(fake.messages(501)) == 1
    assert len(await notices(db)) == 1
