"""The console's Content page: live version, instances, stale facts, the graph, and the
"Reload content everywhere" button (CSRF-checked, reaching every instance)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram
from bot.config import Settings
from bot.content.loader import Content, load_content
from bot.context import BotApp
from bot.storage import instances
from bot.storage.db import Database
from tests import console_helpers
from tests.conftest import Clock
from tests.console_helpers import ConsoleClient, csrf_of, log_in

settings = console_helpers.settings
client = console_helpers.client


async def test_the_page_shows_version_instances_stale_facts_and_graph(
    client: ConsoleClient,
    app: BotApp,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.console.content.to_svg", lambda _dot: None)  # no Graphviz
    live = app.bot_data.live
    assert live is not None
    live.role = "serve"
    await live.start()
    await log_in(client, app, fake)
    async with client.get("/console/content") as response:
        assert response.status == 200
        page = await response.text()
    content = app.bot_data.content
    assert f'<code id="live-hash">{content.hash}</code>' in page
    assert live.instance_id in page and "<td>serve</td>" in page
    assert "Facts past review" in page and "of" in page
    assert '<pre id="graph-dot">digraph content {' in page
    assert "Reload content everywhere" in page


async def test_reload_everywhere_needs_the_csrf_token_and_raises_the_generation(
    client: ConsoleClient,
    app: BotApp,
    fake: FakeTelegram,
    db: Database,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.console.content.to_svg", lambda _dot: None)  # no Graphviz
    await log_in(client, app, fake)
    async with client.get("/console/content") as response:
        token = csrf_of(await response.text())
    async with client.post("/console/content/reload", data={}, allow_redirects=False) as refused:
        assert refused.status in (400, 403)
    assert await instances.reload_generation(db) == 0
    caplog.set_level(logging.INFO, "bot.console")
    async with client.post(
        "/console/content/reload", data={"csrf": token}, allow_redirects=False
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/console/content?reloaded=1"
    assert await instances.reload_generation(db) == 1  # every instance polls this
    assert any(
        "operator 42: content reload requested everywhere generation=1" in r.getMessage()
        for r in caplog.records
    )
    async with client.get("/console/content?reloaded=1") as response:
        assert "Reload requested (generation 1)" in await response.text()


async def test_a_refused_reload_shows_its_problems(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.console.content.to_svg", lambda _dot: None)  # no Graphviz
    live = app.bot_data.live
    assert live is not None
    live.problems = ("content/interview.yaml:3: YAML error: something is off",)
    await log_in(client, app, fake)
    async with client.get("/console/content") as response:
        page = await response.text()
    assert "The last reload on this instance was refused" in page
    assert "content/interview.yaml:3: YAML error: something is off" in page


async def test_the_page_shows_translation_coverage_per_language(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.console.content.to_svg", lambda _dot: None)  # no Graphviz
    await log_in(client, app, fake)
    async with client.get("/console/content") as response:
        page = await response.text()
    assert "<h2>Translations</h2>" in page
    row = re.search(r'<tr id="translation-de"[^>]*>(.*?)</tr>', page, re.S)
    assert row, page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[:2] == ["de", "Deutsch"]
    assert cells[2].startswith("100%")
    assert cells[3] == "0" and cells[4] == "0"  # missing, stale
    assert "python -m bot content translations" in page


def untranslated(tree: Path) -> Content:
    """German without its one step, and an English button label changed since translated."""
    (tree / "locales" / "de" / "guidance" / "what-changed.md").unlink()
    strings = tree / "locales" / "en" / "strings.yaml"
    strings.write_text(
        strings.read_text(encoding="utf-8").replace("  back: « Back\n", "  back: « Go back\n"),
        encoding="utf-8",
    )
    return load_content(tree)


async def test_the_page_lists_missing_and_stale_translations(
    small_tree: Path,
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.console.content.to_svg", lambda _dot: None)  # no Graphviz
    application = build_application(
        settings,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        content=untranslated(small_tree),
        db=db,
        clock=clock,
    )
    console = console_helpers.console_app(application).standalone()
    async with application, TestClient(TestServer(console)) as test_client:
        await log_in(test_client, application, fake)
        async with test_client.get("/console/content") as response:
            page = await response.text()
    row = re.search(r'<tr id="translation-de"[^>]*>(.*?)</tr>', page, re.S)
    assert row, page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert not cells[2].startswith("100%")
    assert cells[3] == "1" and cells[4] == "1"  # one step missing, one key stale
    details = page[page.index('id="translation-details-de"') :]
    assert "Missing steps" in details and "what-changed" in details
    assert "Stale keys" in details and "buttons.back" in details
