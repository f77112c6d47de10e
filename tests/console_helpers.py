"""Shared helpers for the console tests: a console client and logging in through /console."""

from __future__ import annotations

import html
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.console.framework import Console, Page
from bot.console.pages import PAGES
from bot.context import BotApp
from tests.conftest import make_settings

OPERATOR = 42
ConsoleClient = TestClient[Any, Any]


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Operator 42, the console at http://bot.example.test (plain http: the test client)."""
    return make_settings(db_url, admin_ids="42", public_url="http://bot.example.test")


def console_app(app: BotApp, pages: list[Page] | None = None) -> Console:
    """The console of ``app`` with the shipped pages (and any extra ones)."""
    return Console(app, [*PAGES, *(pages or [])])


@pytest.fixture
async def client(app: BotApp) -> AsyncIterator[ConsoleClient]:
    async with TestClient(TestServer(console_app(app).standalone())) as test_client:
        yield test_client


async def login_link(app: BotApp, fake: FakeTelegram, operator: int = OPERATOR) -> str:
    """Send /console as the operator and return the link the bot answered with."""
    replies = await SimulatedUser(app, fake, user_id=operator, first_name="Op").send("/console")
    text = replies[-1].raw_text or ""
    found = re.search(r'href="([^"]+)"', text)
    assert found, text
    return html.unescape(found.group(1))


def path_of(url: str) -> str:
    """The path and query of a link (the test server stands in for PUBLIC_URL)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def token_of(url: str) -> str:
    """The login token inside a link."""
    return urlsplit(url).query.removeprefix("t=")


async def log_in(client: ConsoleClient, app: BotApp, fake: FakeTelegram) -> None:
    """Log in through a fresh one-time link, as an operator's browser would."""
    link = await login_link(app, fake)
    async with client.post(
        "/console/login", data={"t": token_of(link)}, allow_redirects=False
    ) as response:
        assert response.status == 303, await response.text()


def csrf_of(page: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


# --- a real browser (Selenium + Debian's chromium and chromedriver) ----------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
)


def _no_browser(reason: str) -> None:
    message = (
        f"no browser for the console's browser test ({reason}): install Debian's chromium and"
        " chromium-driver (`apt-get install -y chromium chromium-driver`) and selenium"
        " (`pip install -e '.[dev]'`)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium driven by Selenium (skipped without one; fails under CI=true)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _no_browser("selenium is not installed")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            _no_browser(f"{path} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in BROWSER_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
async def live_console(app: BotApp) -> AsyncIterator[str]:
    """The console of ``app`` on a loopback port a browser can open; yields its origin."""
    server = TestServer(console_app(app).standalone(), host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


def screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """Save the browser's page as ``<tmp_path>/screenshots/<name>.png``."""
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), name
    return path
