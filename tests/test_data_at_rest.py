"""Data at rest on SQLite: private file modes, and erased data gone from the file and the WAL."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.storage.db import Database
from bot.storage.erase import prune_inactive
from tests.chat import Profile, interview
from tests.conftest import NOW, AppFactory, Clock

SHOP = "Zanzibar Quokka Emporium"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def set_mode(path: Path, value: int) -> None:
    path.chmod(value)


def stored_bytes(folder: Path) -> dict[str, bytes]:
    """Every file SQLite keeps for the database (main file, WAL, shared memory)."""
    return {
        p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("bot.db")
    }


async def test_database_file_and_new_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "data"
    old_umask = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        db = Database(f"sqlite:///{folder}/bot.db")
        await db.upgrade()
        await db.dispose()
    finally:
        os.umask(old_umask)
    assert mode(folder) == 0o700
    files = stored_bytes(folder)
    assert "bot.db" in files
    for name in files:
        assert mode(folder / name) == 0o600, name


async def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    set_mode(tmp_path, 0o755)
    db = Database(f"sqlite:///{tmp_path}/bot.db")
    await db.upgrade()
    await db.dispose()
    assert mode(tmp_path) == 0o755  # the operator's folder: not ours to change
    assert mode(tmp_path / "bot.db") == 0o600


@pytest.fixture
def db_folder(db_url: str) -> Path:
    return Path(db_url.removeprefix("sqlite+aiosqlite:///")).parent


async def test_delete_leaves_no_trace_in_the_file_or_the_wal(
    user: SimulatedUser, db: Database, db_folder: Path
) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), shop_name=SHOP))
    await user.send("/alerts")
    before = stored_bytes(db_folder)
    assert any(SHOP.encode() in data for data in before.values()), "the test sees the name"
    await user.send("/delete")
    done = (await user.press("Yes, delete everything"))[-1].text or ""
    assert "everything I stored about you is erased" in done
    for name, data in stored_bytes(db_folder).items():
        assert SHOP.encode() not in data, f"the shop name is still in {name}"
    # The bot goes on working on the same file.
    again = (await user.send("/start"))[-1].text or ""
    assert "Which platform" in again


async def test_retention_leaves_no_trace_either(
    make_app: AppFactory, fake: FakeTelegram, db: Database, clock: Clock, db_folder: Path
) -> None:
    app = make_app()
    async with app:
        await interview(
            SimulatedUser(app, fake, user_id=1), Profile("p", "Wix", ("Belgium",), shop_name=SHOP)
        )
    clock.now = NOW + timedelta(days=100)
    assert await prune_inactive(db, older_than=clock.now - timedelta(days=30)) == 1
    for name, data in stored_bytes(db_folder).items():
        assert SHOP.encode() not in data, f"the shop name is still in {name}"
