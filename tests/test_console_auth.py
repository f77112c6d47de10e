"""The console's access: /console links, one-time POST login, sessions, CSRF, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.console.auth import Signer, signing_key
from bot.console.auth import login_link as login_link_of
from bot.console.framework import Page, PageContext
from bot.content.loader import Content
from bot.context import BotApp
from bot.modes import console_server, serve_until
from tests import console_helpers
from tests.conftest import TOKEN, AppFactory, Clock, make_settings
from tests.console_helpers import (
    OPERATOR,
    ConsoleClient,
    console_app,
    csrf_of,
    log_in,
    login_link,
    path_of,
    token_of,
)

settings = console_helpers.settings  # operator 42, PUBLIC_URL http://bot.example.test
client = console_helpers.client  # a test client on the console of ``app``

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


async def test_an_operator_gets_a_one_time_link_without_a_preview(
    app: BotApp, fake: FakeTelegram
) -> None:
    link = await login_link(app, fake)
    assert link.startswith("http://bot.example.test/console/login?t=")
    call = fake.calls_to("sendMessage")[-1]
    assert json.loads(call.params["link_preview_options"])["is_disabled"] is True


async def test_others_get_no_link(app: BotApp, fake: FakeTelegram) -> None:
    replies = await SimulatedUser(app, fake, user_id=1001, first_name="Ann").send("/console")
    assert all("/console/login" not in (m.raw_text or "") for m in replies)


async def test_without_an_address_the_operator_is_told_what_to_set(
    make_app: AppFactory, fake: FakeTelegram, db_url: str
) -> None:
    app = make_app()
    app.bot_data.settings = make_settings(db_url, admin_ids="42")
    async with app:
        replies = await SimulatedUser(app, fake, user_id=OPERATOR).send("/console")
    assert "PUBLIC_URL" in (replies[-1].raw_text or "")


async def test_opening_the_link_only_shows_a_button(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram
) -> None:
    link = await login_link(app, fake)
    for _ in range(2):  # a link-preview fetcher, then the operator
        async with client.get(path_of(link)) as response:
            assert response.status == 200
            page = await response.text()
            assert "Set-Cookie" not in response.headers
            assert response.headers["Referrer-Policy"] == "no-referrer"
        assert 'method="post"' in page and 'id="login"' in page
    async with client.get("/console/", allow_redirects=False) as response:
        assert response.status == 303


@BOTH
async def test_the_button_logs_in_once(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.console")
    link = await login_link(app, fake)
    token = token_of(link)
    async with client.post("/console/login", data={"t": token}, allow_redirects=False) as r:
        assert r.status == 303
        assert r.headers["Location"] == "/console/"  # nothing secret in the URL after login
        cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here
    async with client.get("/console/") as response:
        assert response.status == 200
        assert f"operator {OPERATOR}" in await response.text()
    assert f"operator {OPERATOR} logged in" in caplog.text
    # The same link again (another browser, a replay): refused.
    client.session.cookie_jar.clear()
    async with client.get(path_of(link)) as response:
        assert response.status == 403
        assert 'id="login"' not in await response.text()
    async with client.post("/console/login", data={"t": token}) as response:
        assert response.status == 403
        assert "used before" in await response.text()


@BOTH
async def test_a_used_link_is_refused_by_another_instance(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, make_app: AppFactory
) -> None:
    token = token_of(await login_link(app, fake))
    async with client.post("/console/login", data={"t": token}, allow_redirects=False) as r:
        assert r.status == 303
    other = make_app()  # a second instance on the same database
    server = TestServer(console_app(other).standalone())
    async with (
        other,
        TestClient(server) as second,
        second.post("/console/login", data={"t": token}) as response,
    ):
        assert response.status == 403


async def test_an_expired_link_is_refused(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    link = await login_link(app, fake)
    clock.now += timedelta(minutes=11)
    async with client.get(path_of(link)) as response:
        assert response.status == 403
        assert "expired" in await response.text()
    async with client.post("/console/login", data={"t": token_of(link)}) as response:
        assert response.status == 403
    async with client.get("/console/", allow_redirects=False) as response:
        assert response.status == 303


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "42.9999999999.abc.def", "1.9999999999.abcd.0", "42.x.y.z"],
)
async def test_a_forged_link_is_refused(client: ConsoleClient, token: str) -> None:
    async with client.post("/console/login", data={"t": token}) as response:
        assert response.status == 403


async def test_a_link_for_someone_not_an_operator_is_refused(
    client: ConsoleClient, app: BotApp, clock: Clock
) -> None:
    token = Signer(signing_key(app.bot_data.settings)).link_token(7, clock())
    async with client.post("/console/login", data={"t": token}) as response:
        assert response.status == 403


async def test_sessions_expire(
    client: ConsoleClient, app: BotApp, fake: FakeTelegram, clock: Clock
) -> None:
    await log_in(client, app, fake)
    clock.now += timedelta(hours=13)
    async with client.get("/console/", allow_redirects=False) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/console/login"


async def test_a_forged_session_cookie_is_refused(client: ConsoleClient, app: BotApp) -> None:
    other_key = Signer(b"not the key")
    forged = other_key.session(OPERATOR, app.bot_data.core.clock())
    client.session.cookie_jar.update_cookies({"console_session": forged})
    async with client.get("/console/", allow_redirects=False) as response:
        assert response.status == 303


async def test_the_cookie_is_secure_when_the_console_is_https(
    make_app: AppFactory, fake: FakeTelegram, db_url: str
) -> None:
    app = make_app()
    app.bot_data.settings = make_settings(
        db_url, admin_ids="42", public_url="https://bot.example.com/"
    )
    async with app, TestClient(TestServer(console_app(app).standalone())) as https_client:
        link = await login_link(app, fake)
        assert link.startswith("https://bot.example.com/console/login?t=")
        async with https_client.post(
            "/console/login", data={"t": token_of(link)}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert "Secure" in response.headers["Set-Cookie"]


async def _ping(ctx: PageContext) -> web.StreamResponse:
    return web.json_response({"operator": ctx.operator_id})


async def _act(ctx: PageContext) -> web.StreamResponse:
    form = await ctx.form()
    ctx.audit("acted", what=form.get("what"))
    return ctx.render("message.html.j2", title="Done", message="done")


EXTRA = [
    Page("/api/ping", _ping, api=True),
    Page("/act", _act, method="POST"),
]


@pytest.fixture
async def extra_client(app: BotApp) -> ConsoleClient:
    test_client = TestClient(TestServer(console_app(app, EXTRA).standalone()))
    await test_client.start_server()
    return test_client


async def test_pages_redirect_and_apis_answer_401_without_a_session(
    extra_client: ConsoleClient,
) -> None:
    async with extra_client as client:
        async with client.get("/console/api/ping") as response:
            assert response.status == 401
        async with client.get("/console/", allow_redirects=False) as response:
            assert response.status == 303
        async with client.post("/console/act", data={"what": "x"}, allow_redirects=False) as r:
            assert r.status == 303
        for bare in ("/", "/console"):
            async with client.get(bare, allow_redirects=False) as response:
                assert response.headers["Location"] == "/console/"
        async with client.get("/console/login") as response:
            assert "Send /console" in await response.text()


async def test_every_post_needs_the_sessions_csrf_token(
    extra_client: ConsoleClient, app: BotApp, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.console")
    async with extra_client as client:
        await log_in(client, app, fake)
        async with client.get("/console/api/ping") as response:
            assert await response.json() == {"operator": OPERATOR}
        async with client.get("/console/") as response:
            token = csrf_of(await response.text())  # the logout form carries it
        for data in ({"what": "x"}, {"what": "x", "csrf": "wrong"}):
            async with client.post("/console/act", data=data) as response:
                assert response.status == 403
        assert "acted" not in caplog.text
        async with client.post("/console/act", data={"what": "x", "csrf": token}) as response:
            assert response.status == 200
        async with client.post(
            "/console/act", data={"what": "y"}, headers={"X-CSRF-Token": token}
        ) as response:
            assert response.status == 200
        assert f"operator {OPERATOR}: acted what=x" in caplog.text
        assert f"operator {OPERATOR}: POST /console/act" in caplog.text
        # Logging out needs the token too, and ends the session.
        async with client.post("/console/logout", allow_redirects=False) as response:
            assert response.status == 403
        async with client.post(
            "/console/logout", data={"csrf": token}, allow_redirects=False
        ) as response:
            assert response.status == 303
        async with client.get("/console/api/ping") as response:
            assert response.status == 401


async def test_the_signing_key_is_derived_from_the_token_unless_set(db_url: str) -> None:
    derived = signing_key(make_settings(db_url))
    assert TOKEN.encode() not in derived and len(derived) == 32
    own = signing_key(make_settings(db_url, console_secret="k" * 32))
    assert own != derived


# --- where the console is served ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _login_page(port: int) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/console/login") as response,
    ):
        return response.status, await response.text()


async def test_run_serves_the_console_on_console_port(app: BotApp, db_url: str) -> None:
    port = _free_port()
    settings = make_settings(db_url, admin_ids="42", host="127.0.0.1", console_port=port)
    async with console_server(settings, app):
        status, page = await _login_page(port)
    assert status == 200 and "Send /console" in page
    assert login_link_of(settings, OPERATOR, app.bot_data.core.clock()) is not None


@pytest.mark.slow
async def test_serve_serves_the_console_under_console(
    fake: FakeTelegram, db_url: str, content: Content
) -> None:
    port = _free_port()
    settings = make_settings(
        db_url, admin_ids="42", host="127.0.0.1", port=port, webhook_secret="s3cret"
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(
        serve_until(
            settings, content=content, secret="s3cret", request=FakeRequest(fake), stop=stop
        )
    )
    try:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                status, page = await _login_page(port)
                break
            await asyncio.sleep(0.05)
        assert status == 200 and "Send /console" in page
    finally:
        stop.set()
        assert await task == 0


def test_public_url_must_be_an_http_origin(db_url: str) -> None:
    assert make_settings(db_url, public_url="https://x.example/").public_url == "https://x.example"
    for bad in ("ftp://x", "x.example", "https://x.example/?a=1"):
        with pytest.raises(ValidationError):
            make_settings(db_url, public_url=bad)
    with pytest.raises(ValidationError):
        make_settings(db_url, console_secret="short")
    settings = make_settings(db_url, console_secret="s" * 40)
    assert "s" * 40 in settings.secrets() and "s" * 40 not in repr(settings)
