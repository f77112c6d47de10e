"""Merchant lookup: answers, plan progress, scheduled reminders, one audit line per lookup."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.context import BotApp
from bot.storage.db import Database
from bot.storage.models import Outbox
from tests import console_helpers
from tests.chat import Profile, interview
from tests.conftest import NOW
from tests.console_helpers import OPERATOR, ConsoleClient, csrf_of, log_in

settings = console_helpers.settings
client = console_helpers.client
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


async def _ann(app: BotApp, fake: FakeTelegram, db: Database) -> None:
    ann = SimulatedUser(app, fake, user_id=2001, first_name="Ann")
    await interview(ann, Profile("ann", "Shopify", ("United Kingdom", "Germany")))
    await ann.press("▶️ Next step")
    await ann.press("✅ Done")
    async with db.session() as session:
        session.add(Outbox(merchant_id=2001, key="deadline:7d", due_at=NOW + timedelta(days=2)))


async def _token(client: ConsoleClient) -> str:
    async with client.get("/console/lookup") as response:
        assert response.status == 200
        return csrf_of(await response.text())


@BOTH
async def test_a_lookup_shows_answers_plan_and_reminders_and_is_audited_once(
    client: ConsoleClient,
    app: BotApp,
    fake: FakeTelegram,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _ann(app, fake, db)
    await log_in(client, app, fake)
    token = await _token(client)
    caplog.set_level(logging.INFO, "bot.console")
    async with client.post(
        "/console/lookup", data={"merchant_id": "2001", "csrf": token}
    ) as response:
        assert response.status == 200
        page = await response.text()
    assert "Merchant 2001" in page
    assert "shopify" in page and "uk, de" in page  # answers
    assert "Plan: 1 done, 0 skipped of" in page
    assert "deadline:7d" in page  # the scheduled reminder
    lines = [r.getMessage() for r in caplog.records if "lookup" in r.getMessage()]
    assert lines == [f"console: operator {OPERATOR}: lookup merchant=2001 found=yes"]
    assert "2001" not in str(response.url)  # the id was POSTed, not put in the URL


async def test_unknown_and_malformed_ids(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram
) -> None:
    await log_in(client, app, fake)
    token = await _token(client)
    async with client.post("/console/lookup", data={"merchant_id": "99", "csrf": token}) as r:
        assert r.status == 404
        assert "No merchant with Telegram id 99" in await r.text()
    async with client.post("/console/lookup", data={"merchant_id": "x", "csrf": token}) as r:
        assert r.status == 400


async def test_a_lookup_needs_a_session_and_the_csrf_token(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    await _ann(app, fake, db)
    async with client.post(
        "/console/lookup", data={"merchant_id": "2001"}, allow_redirects=False
    ) as response:
        assert response.status == 303
    await log_in(client, app, fake)
    async with client.post("/console/lookup", data={"merchant_id": "2001"}) as response:
        assert response.status == 403
        assert "shopify" not in await response.text()


async def test_every_page_renders_for_an_operator(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram
) -> None:
    await log_in(client, app, fake)
    async with client.get("/console/") as response:
        page = await response.text()
    for url in ("/console/", "/console/funnel", "/console/lookup"):
        assert f'href="{url}"' in page  # in the nav bar
        async with client.get(url) as response:
            assert response.status == 200, url
            assert response.headers["Cache-Control"] == "no-store"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    async with client.get("/console/static/console.css") as response:
        assert response.status == 200
