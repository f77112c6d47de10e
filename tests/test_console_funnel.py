"""The console's funnel page and CSV export: counts as merchants produce them, filters."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import Connection, text

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.console import framework
from bot.context import BotApp
from bot.services.core import with_id
from bot.storage.db import Database, alembic_config
from bot.storage.models import Merchant
from tests import console_helpers
from tests.chat import Profile, interview
from tests.conftest import NOW, Clock
from tests.console_helpers import ConsoleClient, log_in

settings = console_helpers.settings
client = console_helpers.client
BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


async def _merchants(app: BotApp, fake: FakeTelegram, clock: Clock) -> None:
    """Ann finishes (Shopify, UK) and marks a step done; Bo stops at the market question;
    Cy (German) stops at the platform question; then five days pass."""
    ann = SimulatedUser(app, fake, user_id=2001, first_name="Ann")
    await interview(ann, Profile("ann", "Shopify", ("United Kingdom",)))
    await ann.press("▶️ Next step")
    await ann.press("✅ Done")
    bo = SimulatedUser(app, fake, user_id=2002, first_name="Bo")
    await bo.send("/start")
    await bo.press("Shopify")
    cy = SimulatedUser(app, fake, user_id=2003, first_name="Cy", language_code="de")
    await cy.send("/start")
    clock.now += timedelta(days=5)


def _table(page: str, name: str) -> dict[str, list[str]]:
    """A funnel table of the page as {first cell: the other cells}."""
    found = re.search(rf'<table class="funnel" id="table-{name}">(.*?)</table>', page, re.S)
    assert found, page
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)
        ]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


async def _get(client: ConsoleClient, url: str) -> str:
    async with client.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.text()


@BOTH
async def test_the_funnel_counts_reached_answered_and_stopped(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    await _merchants(app, fake, clock)
    await log_in(client, app, fake)
    page = await _get(client, "/console/funnel")
    questions = _table(page, "questions")
    assert questions["platform"][:2] == ["3", "2"]  # reached by all three, answered by two
    assert questions["market"][:2] == ["2", "1"]
    assert questions["market"][3] == "1"  # Bo stopped there (idle 5 days > 3)
    assert questions["platform"][3] == "1"  # Cy
    steps = _table(page, "steps")
    assert any(cells[:2] == ["1", "1"] for cells in steps.values())  # opened and done
    weeks = _table(page, "weeks")
    (week,) = weeks.values()
    assert week[:3] == ["3", "1", "33%"]  # three merchants, one finished the interview

    # Idle for more than 10 days: nobody stopped yet.
    questions = _table(await _get(client, "/console/funnel?idle_days=10"), "questions")
    assert questions["market"][3] == "0"


@BOTH
async def test_filters_narrow_every_table(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    await _merchants(app, fake, clock)
    await log_in(client, app, fake)
    uk = _table(await _get(client, "/console/funnel?market=uk"), "questions")
    assert uk["platform"][:2] == ["1", "1"]  # Ann only
    shopify = _table(await _get(client, "/console/funnel?platform=shopify"), "questions")
    assert shopify["platform"][:2] == ["2", "2"] and shopify["market"][3] == "1"
    german = await _get(client, "/console/funnel?language=de")
    assert _table(german, "questions")["platform"] == ["1", "0", "0%", "1"]
    assert next(iter(_table(german, "weeks").values()))[:2] == ["1", "0"]
    status = _table(await _get(client, "/console/funnel?status=not_started"), "steps")
    assert any(cells[:2] == ["1", "1"] for cells in status.values())
    # Unknown values are ignored rather than breaking the page.
    page = await _get(client, "/console/funnel?market=narnia&language=%27&idle_days=x")
    assert _table(page, "questions")["platform"][:2] == ["3", "2"]


async def test_each_table_downloads_as_csv_with_the_filters(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    await _merchants(app, fake, clock)
    await log_in(client, app, fake)
    page = await _get(client, "/console/funnel?platform=shopify")
    links = re.findall(r'href="(/console/funnel/\w+\.csv\?[^"]*)"', page)
    assert len(links) == 3 and all("platform=shopify" in link for link in links)
    for link in links:
        async with client.get(link.replace("&amp;", "&")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            assert "attachment" in response.headers["Content-Disposition"]
            rows = list(csv.reader(io.StringIO(await response.text())))
        assert len(rows) >= 2
    async with client.get("/console/funnel/questions.csv?platform=shopify") as response:
        rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:3] == ["question", "reached", "answered"]
    assert rows[1][:3] == ["platform", "2", "2"]
    async with client.get("/console/funnel/secrets.csv") as response:
        assert response.status == 404


async def test_funnel_and_csv_need_a_session(client: ConsoleClient) -> None:
    for url in ("/console/funnel", "/console/funnel/questions.csv"):
        async with client.get(url, allow_redirects=False) as response:
            assert response.status == 303


async def test_merchants_keep_their_filter_columns(
    app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    ann = SimulatedUser(app, fake, user_id=2001, first_name="Ann")
    await interview(ann, Profile("ann", "Shopify", ("United Kingdom", "Germany")))
    async with db.session() as session:
        merchant = await session.get(Merchant, 2001)
    assert merchant is not None
    assert (merchant.platform, merchant.markets, merchant.shop_status) == (
        "shopify",
        ",uk,de,",
        "not_started",
    )


@BOTH
async def test_the_migration_fills_the_filter_columns_of_existing_merchants(
    db_url: str,
) -> None:
    def to_0008(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0008")

    database = Database(db_url)
    at = NOW.replace(tzinfo=None) if "sqlite" in db_url else NOW
    try:
        async with database.engine.connect() as conn:
            await conn.run_sync(to_0008)
            await conn.execute(
                text(
                    "INSERT INTO merchant (id, chat_id, first_seen, last_seen, blocked, answers,"
                    " path, mode, interview_version, alerts_on, nudge_on, timezone)"
                    " VALUES (7, 7, :t, :t, false, :a, '[]', 'done', 1, false, false, 'UTC')"
                ),
                {
                    "t": at,
                    "a": json.dumps({"platform": "ecwid", "market": ["fr"], "x": 1}),
                },
            )
            for kind, question in (
                ("question_shown", "platform"),
                ("answer", "platform"),
                ("question_shown", "market"),
                ("question_shown", "market"),
                ("plan_opened", None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO event (merchant_id, kind, at, data, question)"
                        " VALUES (7, :k, :t, '{}', :q)"
                    ),
                    {"k": kind, "q": question, "t": at},
                )
            await conn.commit()
        await database.upgrade()
        async with database.session() as session:
            merchant = await session.get(Merchant, 7)
        assert merchant is not None
        assert (merchant.platform, merchant.markets, merchant.shop_status) == (
            "ecwid",
            ",fr,",
            None,
        )
        assert (merchant.reached, merchant.answered) == (",platform,market,", ",platform,")
        assert merchant.plan_opened_at == NOW and merchant.step_done_at is None
    finally:
        await database.dispose()


def test_id_lists_hold_each_id_once() -> None:
    assert with_id(None, "a") == ",a,"
    assert with_id(",a,", "b") == ",a,b,"
    assert with_id(",a,b,", "a") == ",a,b,"
    assert with_id(",shop_status,", "shop") == ",shop_status,shop,"


async def test_figures_are_reused_for_30_seconds(
    client: ConsoleClient,
    app: BotApp,
    fake: FakeTelegram,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _merchants(app, fake, clock)
    await log_in(client, app, fake)
    assert _table(await _get(client, "/console/funnel"), "questions")["platform"][0] == "3"
    await SimulatedUser(app, fake, user_id=2004, first_name="Di").send("/start")
    page = await _get(client, "/console/funnel")
    assert _table(page, "questions")["platform"][0] == "3" and "s ago" in page
    later = time.monotonic() + 31
    monkeypatch.setattr(framework, "time", SimpleNamespace(monotonic=lambda: later))
    page = await _get(client, "/console/funnel")
    assert _table(page, "questions")["platform"][0] == "4" and "as of now" in page
