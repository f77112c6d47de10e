"""Shared helpers for the console tests: a console client and logging in through /console."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
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
