"""The console's Content page: live version, instances, stale facts, the graph, and the
"Reload content everywhere" button (CSRF-checked, reaching every instance)."""

from __future__ import annotations

import logging

import pytest

from bot.botapi.fake import FakeTelegram
from bot.context import BotApp
from bot.storage import instances
from bot.storage.db import Database
from tests import console_helpers
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
