"""Start-up an on-call person can trust: sslmode, database login errors, https, secrets."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.storage.db import Database
from tests.conftest import TOKEN
from tests.pgserver import PostgresServer
from tests.test_modes_processes import env_for, start_bot

PASSWORD = "hunter2-Very-secret"


# --- 1. libpq's sslmode for asyncpg ------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
)
async def test_sslmode_is_translated_for_asyncpg(mode: str) -> None:
    db = Database(f"postgres://u:p@db.example.com:5432/app?sslmode={mode}&application_name=x")
    try:
        assert not db.url.query  # asyncpg's connect() would refuse libpq's names
        assert db.connect_args == {"ssl": mode, "server_settings": {"application_name": "x"}}
    finally:
        await db.dispose()


def test_an_unknown_sslmode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is invalid: sslmode"):
        Database("postgresql://u:p@h/db?sslmode=sometimes")


@pytest.mark.slow
async def test_sslmode_in_url_connects_and_migrates(pg_url: str, tmp_path: Path) -> None:
    # The throwaway server speaks no TLS: disable / allow / prefer connect, require refuses.
    for mode in ("disable", "prefer"):
        proc = await start_bot(
            "db",
            "upgrade",
            env=env_for("http://127.0.0.1:9/bot", f"{pg_url}?sslmode={mode}"),
            cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert "database is up to date" in out.decode()
        assert "Traceback" not in err.decode()


@pytest.mark.slow
async def test_a_server_on_the_same_machine_over_its_unix_socket(
    pg_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """libpq's form for a Unix socket (``?host=<directory>``; README, DATABASE_URL): the
    bot migrates and works over it, and the connection really is the socket (no server
    address), which costs less CPU per statement than TCP on the same machine."""
    from sqlalchemy.engine import make_url

    parsed = make_url(pg_url)
    socket_dir = postgres_server.tmpdir
    url = (
        f"postgresql+asyncpg://{parsed.username}@/{parsed.database}"
        f"?host={socket_dir}&port={parsed.port}"
    )
    assert "127.0.0.1" not in url, url
    proc = await start_bot(
        "db", "upgrade", env=env_for("http://127.0.0.1:9/bot", url), cwd=tmp_path
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "database is up to date" in out.decode()
    db = Database(url)
    try:
        async with db.unit() as unit:
            address = await unit.connection.scalar(text("SELECT inet_server_addr()"))
        assert address is None  # a Unix socket
    finally:
        await db.dispose()


# --- 2. wrong login / missing database: one line, exit 2; unreachable: exit 3 --------------


def _with(url: str, *, user: str | None = None, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if user is not None:
        parsed = parsed.set(username=user, password=PASSWORD)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["db upgrade", "serve", "remind", "run"])
async def test_missing_database_is_one_line_exit_2(pg_url: str, tmp_path: Path, mode: str) -> None:
    url = _with(pg_url, database="no_such_database", user="postgres")
    env = env_for("http://127.0.0.1:9/bot", url, WEBHOOK_SECRET="s3cret")
    proc = await start_bot(*mode.split(), env=env, cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode().strip()
    assert proc.returncode == 2, text
    assert len(text.splitlines()) == 1, text
    assert text.startswith('error: database "no_such_database" does not exist'), text
    assert PASSWORD not in text and "***" in text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["db upgrade", "remind"])
async def test_rejected_login_is_one_line_exit_2(pg_url: str, tmp_path: Path, mode: str) -> None:
    url = _with(pg_url, user="nobody_here")
    proc = await start_bot(*mode.split(), env=env_for("http://127.0.0.1:9/bot", url), cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode().strip()
    assert proc.returncode == 2, text
    assert len(text.splitlines()) == 1, text
    assert "the database refused the login" in text and "nobody_here" in text
    assert PASSWORD not in text


def test_a_wrong_password_is_named() -> None:
    from bot.modes import describe_database_error

    exc = asyncpg.exceptions.InvalidPasswordError('password authentication failed for user "ann"')
    described = describe_database_error(exc)
    assert described is not None
    message, code = described
    assert code == 2
    assert "refused the login" in message and "password authentication failed" in message


@pytest.mark.slow
async def test_unreachable_database_stays_exit_3(tmp_path: Path) -> None:
    from tests.pgserver import free_port

    url = f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db"
    proc = await start_bot(
        "db", "upgrade", env=env_for("http://127.0.0.1:9/bot", url), cwd=tmp_path
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode().strip()
    assert proc.returncode == 3, text
    assert len(text.splitlines()) == 1 and text.startswith("error: cannot reach the database")
    assert PASSWORD not in text


# --- 3. WEBHOOK_URL must be https ----------------------------------------------------------


@pytest.mark.parametrize("url", ["http://bot.example.com/telegram", "bot.example.com", "ftp://x"])
def test_webhook_url_must_be_https(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^WEBHOOK_URL is invalid: must start with https://"):
        load_settings(webhook_url=url, _env_file=None)


def test_https_webhook_url_is_accepted() -> None:
    settings = load_settings(webhook_url="https://bot.example.com/telegram", _env_file=None)
    assert settings.webhook_url == "https://bot.example.com/telegram"


# --- 4. the database password is a secret --------------------------------------------------


def test_database_password_not_in_repr_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_validate(
        {"telegram_token": TOKEN, "database_url": f"postgresql://ann:{PASSWORD}@db/app"}
    )
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert "postgresql://ann:***@db/app" in repr(settings)
    assert PASSWORD in settings.secrets()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", "text", settings.secrets())
        logging.getLogger("bot").warning("connect failed: %s", PASSWORD)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert PASSWORD not in capsys.readouterr().err


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_libpq_parameters_reach_the_server(db_url: str) -> None:
    db = Database(f"{db_url}?application_name=shop-bot&connect_timeout=5&channel_binding=prefer")
    try:
        async with db.engine.connect() as conn:
            name = (
                await conn.execute(text("SELECT current_setting('application_name')"))
            ).scalar()
        assert name == "shop-bot"
    finally:
        await db.dispose()
