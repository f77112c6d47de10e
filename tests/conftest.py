"""Shared fixtures: settings, a fresh database per test, the fake Bot API, the real Application."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

# PTB 22 warns unless retry_after is a timedelta; opt in (the bot sets this at start too).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.content.check import load_checked
from bot.content.loader import Content
from bot.context import BotApp
from bot.storage.db import Database

pytest_plugins = ["tests.pgserver"]

TOKEN = "123456789:AAHfakeTokenForTestsOnly_0123456789ab"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


class Clock:
    """A settable clock for tests."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session", autouse=True)
def content() -> Content:
    """The shipped content, fully checked once per session (as every start-up does).

    The pass is remembered by content and code hash (bot.content.check), so the bot
    processes the tests start load it in a second instead of walking it again.
    """
    return load_checked(REPO / "content")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of the shipped content to change or break."""
    target = tmp_path / "content"
    shutil.copytree(REPO / "content", target)
    return target


@pytest.fixture
def small_tree(tree: Path) -> Path:
    """The shipped tree with one general step only: full checks over it take milliseconds."""
    for path in [*(tree / "guidance").glob("*.md"), *(tree / "locales").glob("*/guidance/*.md")]:
        if path.stem != "what-changed":  # translations of removed steps would be unknown steps
            path.unlink()
    return tree


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite+aiosqlite:///{tmp_path}/bot.db"


def make_settings(db_url: str, **extra: object) -> Settings:
    """Settings from explicit values only (no .env, no stray environment)."""
    values: dict[str, object] = {
        "telegram_token": TOKEN,
        "database_url": db_url,
        "content_dir": REPO / "content",
    }
    values.update(extra)
    return Settings.model_validate(values)  # validators run; no environment is read


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram(token=TOKEN)


AppFactory = Callable[[], BotApp]


@pytest.fixture
def make_app(
    settings: Settings, fake: FakeTelegram, db: Database, content: Content, clock: Clock
) -> AppFactory:
    """Build another Application on the same database (a restart, or a second instance)."""

    def factory() -> BotApp:
        return build_application(
            settings,
            request=FakeRequest(fake),
            get_updates_request=FakeRequest(fake),
            content=content,
            db=db,
            clock=clock,
        )

    return factory


@pytest.fixture
async def app(make_app: AppFactory) -> AsyncIterator[BotApp]:
    application = make_app()
    async with application:
        yield application


@pytest.fixture
def user(app: BotApp, fake: FakeTelegram) -> SimulatedUser:
    return SimulatedUser(app, fake, user_id=1001, first_name="Ann")
