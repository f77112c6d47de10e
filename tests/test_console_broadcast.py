"""The console's Broadcast pages: segment picker, message, dry run, send (CSRF), progress
(page and JSON), cancel; refusals without a session or a CSRF token."""

from __future__ import annotations

import logging
import re

import pytest

from bot.botapi.fake import FakeTelegram
from bot.broadcast.segments import parse_segment
from bot.context import BotApp
from bot.storage.db import Database
from tests import console_helpers
from tests.console_helpers import OPERATOR, ConsoleClient, csrf_of, log_in
from tests.test_broadcast import drain, population, received

settings = console_helpers.settings
client = console_helpers.client

UK_TEMPLATE = {"market": "uk", "kind": "template", "template": "check-in", "stopped_days": "3"}


async def _token(client: ConsoleClient) -> str:
    async with client.get("/console/broadcast") as response:
        assert response.status == 200
        return csrf_of(await response.text())


async def test_pages_need_a_session(client: ConsoleClient) -> None:
    for path in ("/console/broadcast", "/console/broadcast/1"):
        async with client.get(path, allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/console/login"
    async with client.get("/console/broadcast/1/progress.json") as response:
        assert response.status == 401
    async with client.post(
        "/console/broadcast/send", data={"segment": "", "text": "hi"}, allow_redirects=False
    ) as response:
        assert response.status == 303


async def test_the_picker_offers_the_filters_and_templates(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram
) -> None:
    await log_in(client, app, fake)
    async with client.get("/console/broadcast") as response:
        page = await response.text()
    assert response.status == 200
    assert '<select name="market" multiple' in page and '<option value="uk"' in page
    assert '<select name="platform" multiple' in page and '<option value="shopify"' in page
    assert '<select name="shop_status" multiple' in page
    assert '<select name="lang" multiple' in page and '<option value="de"' in page
    assert '<select name="stopped">' in page and '<option value="market"' in page
    assert 'name="plan_not_opened"' in page and 'name="idle"' in page
    assert '<option value="check-in"' in page and '<textarea name="text"' in page
    assert 'href="/console/broadcast"' in page  # in the nav bar


async def test_dry_run_then_send_then_progress_and_exactly_one_message_each(
    client: ConsoleClient,
    app: BotApp,
    fake: FakeTelegram,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await population(db)
    await log_in(client, app, fake)
    token = await _token(client)
    async with client.post(
        "/console/broadcast/dry-run", data={**UK_TEMPLATE, "csrf": token}
    ) as response:
        page = await response.text()
    assert response.status == 200, page
    assert "<strong>3</strong> merchant(s) would get it." in page
    assert '<td>de</td><td class="n">1</td>' in page and '<td>en</td><td class="n">2</td>' in page
    assert 'id="preview-de"' in page and "Wie läuft" in page and "How is the move" in page
    assert "in about 1 s" in page
    assert received(fake, 1, 2, 6) == {1: 0, 2: 0, 6: 0}  # a dry run sends nothing

    # Send: the dry run's own form (hidden segment and message, CSRF token).
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert fields["segment"] == "market=uk" and fields["template"] == "check-in"
    caplog.set_level(logging.INFO, "bot.console")
    async with client.post(
        "/console/broadcast/send", data=fields, allow_redirects=False
    ) as response:
        assert response.status == 303
        location = response.headers["Location"]
    assert location == "/console/broadcast/1"
    assert f"operator {OPERATOR}: broadcast queued campaign=1" in caplog.text

    async with client.get(location) as response:
        page = await response.text()
    assert '<meta http-equiv="refresh" content="2">' in page and 'id="cancel"' in page
    async with client.get(location + "/progress.json") as response:
        assert (await response.json())["left"] == 3

    assert await drain(app) == 3
    assert received(fake, 1, 2, 3, 4, 5, 6) == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 1}
    async with client.get(location + "/progress.json") as response:
        progress = await response.json()
    assert {k: progress[k] for k in ("sent", "failed", "left", "percent", "finished")} == {
        "sent": 3,
        "failed": 0,
        "left": 0,
        "percent": 100,
        "finished": True,
    }
    async with client.get(location) as response:
        page = await response.text()
    assert "http-equiv" not in page and "100 %" in page and 'id="cancel"' not in page
    async with client.get("/console/broadcast") as response:
        assert 'href="/console/broadcast/1"' in await response.text()


async def test_problems_are_shown_on_the_form(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram
) -> None:
    await log_in(client, app, fake)
    token = await _token(client)
    form = {"csrf": token, "kind": "text", "text": "<b>unclosed", "idle": "soon"}
    async with client.post("/console/broadcast/dry-run", data=form) as response:
        page = await response.text()
    assert response.status == 400
    assert "Segment: idle: &#39;soon&#39; is not a number of days" in page
    assert "Message: not valid Telegram HTML" in page
    assert "&lt;b&gt;unclosed</textarea>" in page  # what was typed is kept


async def test_send_and_cancel_refuse_without_csrf(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    await population(db)
    await log_in(client, app, fake)
    for path in ("/console/broadcast/dry-run", "/console/broadcast/send"):
        async with client.post(path, data={"segment": "", "text": "Hi"}) as response:
            assert response.status == 403
    broadcasts = app.bot_data.broadcasts
    assert broadcasts is not None
    assert await broadcasts.campaigns() == []
    campaign = await broadcasts.create(parse_segment(""), broadcasts.message(text="Hi"), by="test")
    async with client.post(f"/console/broadcast/{campaign}/cancel", data={}) as response:
        assert response.status == 403
    token = await _token(client)
    async with client.post(
        f"/console/broadcast/{campaign}/cancel", data={"csrf": token}, allow_redirects=False
    ) as response:
        assert response.status == 303
    assert await drain(app) == 0
    async with client.get(f"/console/broadcast/{campaign}/progress.json") as response:
        progress = await response.json()
    assert progress["status"] == "cancelled" and progress["total"] >= 4
    assert (progress["sent"], progress["skipped"], progress["left"]) == (0, progress["total"], 0)
    async with client.get("/console/broadcast/999") as response:
        assert response.status == 404
    async with client.get("/console/broadcast/999/progress.json") as response:
        assert response.status == 404


async def test_lookup_shows_whether_a_merchant_stopped_broadcasts(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, db: Database
) -> None:
    await population(db)
    await log_in(client, app, fake)
    token = await _token(client)
    for merchant_id, shown in ((5, "stopped (pressed “Stop these messages”)"), (1, "on")):
        async with client.post(
            "/console/lookup", data={"csrf": token, "merchant_id": str(merchant_id)}
        ) as response:
            page = await response.text()
        assert f"<tr><th>Broadcasts</th><td>{shown}</td></tr>" in page
