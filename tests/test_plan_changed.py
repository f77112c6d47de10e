""" "Your plan changed": one notice per affected merchant per content release, through the
outbox, end to end across restarts (a new Application on the same database)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.alerts.keys import changed_key, changed_steps, parse_key
from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.config import Settings
from bot.content.loader import Content, load_content
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import ContentRelease, Merchant, Mode, Outbox, OutboxStatus
from tests.conftest import NOW, Clock, make_settings

UK_SHOPIFY: dict[str, object] = {
    "platform": "shopify",
    "market": ["uk"],
    "entity": "company",
    "origin": "local",
    "catalogue": "small",
    "fulfilment": "own",
    "uses": ["shop_tab"],
    "shop_status": "not_started",
}
JAPAN_ECWID: dict[str, object] = {**UK_SHOPIFY, "platform": "ecwid", "market": ["jp"]}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, deadline=NOW + timedelta(days=60))


def bump(tree: Path, step_id: str) -> None:
    """An editor raises a step's version (its meaning changed)."""
    path = tree / "guidance" / f"{step_id}.md"
    text = path.read_text(encoding="utf-8")
    version = int(re.search(r"^version: (\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
    path.write_text(
        text.replace(f"version: {version}\n", f"version: {version + 1}\n", 1), encoding="utf-8"
    )


class Deployment:
    """Starts the bot (a new Application on the same database) with a given content tree."""

    def __init__(self, settings: Settings, fake: FakeTelegram, db: Database, clock: Clock) -> None:
        self.settings, self.fake, self.db, self.clock = settings, fake, db, clock

    def build(self, content: Content, settings: Settings | None = None) -> BotApp:
        return build_application(
            settings or self.settings,
            request=FakeRequest(self.fake),
            get_updates_request=FakeRequest(self.fake),
            content=content,
            db=self.db,
            clock=self.clock,
        )

    async def start(self, content: Content, settings: Settings | None = None) -> int:
        """Start (post_init runs as every mode runs it), send what is due, stop."""
        app = self.build(content, settings)
        async with app:
            assert app.post_init is not None
            await app.post_init(app)
            dispatcher = app.bot_data.alerts.dispatcher
            assert dispatcher is not None
            return await dispatcher.drain()


async def add_merchant(
    db: Database, merchant_id: int, answers: Mapping[str, object], *, alerts_on: bool = True
) -> None:
    async with db.session() as session:
        session.add(
            Merchant(
                id=merchant_id,
                chat_id=merchant_id,
                first_seen=NOW,
                last_seen=NOW,
                answers=dict(answers),
                path=[],
                current=None,
                mode=Mode.DONE,
                alerts_on=alerts_on,
            )
        )


async def notices(db: Database) -> list[Outbox]:
    async with db.session() as session:
        rows = await session.exec(select(Outbox).where(Outbox.key.startswith("changed@")))
        return list(rows.all())


def test_changed_steps_are_new_ones_and_version_increases() -> None:
    assert changed_steps({"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 3, "c": 1, "d": 1}) == (
        "b",
        "d",
    )
    assert changed_steps({"a": 2}, {"a": 1}) == ()  # a rollback is no news
    info = parse_key(changed_key("abc123"))
    assert info is not None and (info.kind, info.target) == ("changed", "abc123")


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_new_release_notifies_each_affected_merchant_once(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    tree: Path,
) -> None:
    deployment = Deployment(settings, fake, db, clock)
    await add_merchant(db, 501, UK_SHOPIFY)  # plan holds shopify-first-party-app
    await add_merchant(db, 502, UK_SHOPIFY, alerts_on=False)  # reminders off
    await add_merchant(db, 503, JAPAN_ECWID)  # another plan
    assert await deployment.start(content) == 0  # the first release is the baseline
    assert await notices(db) == []

    bump(tree, "shopify-first-party-app")
    released = load_content(tree)
    assert released.hash != content.hash
    assert await deployment.start(released) == 1
    sent = fake.messages(501)
    assert len(sent) == 1
    text = sent[0].text or ""
    assert text.startswith("🆕 Your plan changed")
    assert "Connect Shopify with the TikTok app" in text and "(updated)" in text
    assert fake.messages(502) == [] and fake.messages(503) == []
    rows = await notices(db)
    assert [(r.merchant_id, r.key, r.status) for r in rows] == [
        (501, changed_key(released.hash), OutboxStatus.SENT)
    ]

    # Another restart with the same release, and one more instance: nothing new.
    assert await deployment.start(released) == 0
    assert len(fake.messages(501)) == 1
    async with db.session() as session:
        hashes = (await session.exec(select(ContentRelease.hash))).all()
    assert sorted(hashes) == sorted([content.hash, released.hash])


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_instances_starting_together_record_the_release_once(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    tree: Path,
) -> None:
    deployment = Deployment(settings, fake, db, clock)
    await add_merchant(db, 601, UK_SHOPIFY)
    await deployment.start(content)
    bump(tree, "shopify-first-party-app")
    released = load_content(tree)
    apps = [deployment.build(released) for _ in range(4)]
    queued = await asyncio.gather(*(a.bot_data.alerts.content_released() for a in apps))
    assert sorted(queued) == [0, 0, 0, 1]
    assert len(await notices(db)) == 1


@pytest.mark.slow
async def test_a_new_step_that_applies_is_named_as_new_and_quiet_hours_wait(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    tree: Path,
) -> None:
    deployment = Deployment(settings, fake, db, clock)
    await add_merchant(db, 701, UK_SHOPIFY)
    async with db.session() as session:
        merchant = await session.get(Merchant, 701)
        assert merchant is not None
        merchant.quiet_hours = "11-14"  # NOW is 12:00 UTC: inside
    await deployment.start(content)
    step = (tree / "guidance" / "what-changed.md").read_text(encoding="utf-8")
    (tree / "guidance" / "brand-new-step.md").write_text(
        step.replace("id: what-changed", "id: brand-new-step", 1)
        .replace("\ntitle: ", "\ntitle: A brand new step — ", 1)
        .replace("\nrequires: [", "\nrequires: [what-changed, ", 1),
        encoding="utf-8",
    )
    released = load_content(tree)
    assert await deployment.start(released) == 0  # quiet hours: due at 14:00
    (row,) = await notices(db)
    assert row.due_at == NOW.replace(hour=14)
    clock.now = NOW.replace(hour=14, minute=1)
    assert await deployment.start(released) == 1
    text = fake.messages(701)[-1].text or ""
    assert "A brand new step" in text and "(new step)" in text


@pytest.mark.slow
async def test_the_setting_turns_notices_off_but_the_release_is_still_recorded(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    tree: Path,
    db_url: str,
) -> None:
    deployment = Deployment(settings, fake, db, clock)
    off = make_settings(db_url, deadline=settings.deadline, plan_change_notices=False)
    await add_merchant(db, 801, UK_SHOPIFY)
    await deployment.start(content, off)
    bump(tree, "shopify-first-party-app")
    released = load_content(tree)
    assert await deployment.start(released, off) == 0
    assert await notices(db) == []
    # Turning notices on later does not dig up a release already recorded.
    assert await deployment.start(released) == 0


@pytest.mark.slow
async def test_a_merchant_whose_plan_no_longer_holds_the_step_gets_nothing(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    tree: Path,
) -> None:
    deployment = Deployment(settings, fake, db, clock)
    await add_merchant(db, 901, UK_SHOPIFY)
    await deployment.start(content)
    bump(tree, "shopify-first-party-app")
    released = load_content(tree)
    app = deployment.build(released)
    assert await app.bot_data.alerts.content_released() == 1
    async with db.session() as session:  # before it is sent, they moved to Ecwid in Japan
        merchant = await session.get(Merchant, 901)
        assert merchant is not None
        merchant.answers = dict(JAPAN_ECWID)
    assert await deployment.start(released) == 0
    (row,) = await notices(db)
    assert (row.status, row.error) == (OutboxStatus.CANCELLED, "no longer in the plan")
