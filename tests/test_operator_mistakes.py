"""What an operator gets wrong when deploying, and the one line each mistake must produce.

Each case runs the real entry point (``bot.__main__.main``, what ``python -m bot`` calls) in
this process with the environment an operator would set, and asserts on what they read:
one ``error:`` line naming the setting, no traceback, exit code 2.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.botapi.fake import FakeTelegram, serve
from bot.config import Settings, load_settings
from bot.logs import scrub
from bot.storage.db import Database, sole_process
from tests.conftest import TOKEN
from tests.pgserver import free_port
from tests.test_modes_processes import env_for, start_bot, wait_for

SETTINGS = (
    "TELEGRAM_TOKEN",
    "DATABASE_URL",
    "ALERT_OFFSETS",
    "DEADLINE",
    "RETENTION_DAYS",
    "QUIET_HOURS",
    "ADMIN_IDS",
    "LOG_LEVEL",
    "CONTENT_DIR",
    "WEBHOOK_SECRET",
)


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean working directory (no .env) and none of the bot's settings from outside."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    yield monkeypatch
    gc.unfreeze()  # `run` freezes the heap once its content is loaded (bot.modes.settle_heap)


def one_error_line(capsys: pytest.CaptureFixture[str], code: int) -> str:
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        # Offsets so large that a deadline minus them is before year 1: every alert plan
        # failed mid-conversation ("Sorry, something went wrong") instead of at start.
        ("ALERT_OFFSETS", "999999999d", "at most 3650d"),
        ("ALERT_OFFSETS", "30d,99999999h", "at most 3650d"),
        # Retention so long that "now minus it" is before year 1: every pass failed, forever.
        ("RETENTION_DAYS", "9999999", "less than or equal to 36500"),
        # A deadline at the edge of the calendar: every date computed from it overflows.
        ("DEADLINE", "0001-01-01T00:00:00+00:00", "between 2000 and 2100"),
        ("DEADLINE", "9999-12-31T00:00:00+00:00", "between 2000 and 2100"),
        # URLs and paths nothing could reach (they were accepted, and failed later or never).
        ("WEBHOOK_URL", "https://", "has no host"),
        ("WEBHOOK_URL", "https:///telegram", "has no host"),
        ("WEBHOOK_URL", "https://bot.example.com/tele gram", "contains a space"),
        ("WEBHOOK_URL", "https://bot example.com/telegram", "contains a space"),
        ("WEBHOOK_URL", "https://bot.example.com:99999/telegram", "port"),
        ("WEBHOOK_URL", "https://bot.example.com:x/telegram", "port"),
        # setWebhook refuses every other port ("Ports currently supported for webhooks").
        ("WEBHOOK_URL", "https://bot.example.com:8080/telegram", "443, 80, 88 or 8443"),
        ("TELEGRAM_BASE_URL", "http://", "has no host"),
        ("TELEGRAM_BASE_URL", "http://local api:8081/bot", "contains a space"),
        ("PUBLIC_URL", "https://bot .example.com", "contains a space"),
        ("WEBHOOK_PATH", "/tele gram", "contains a space"),
        ("WEBHOOK_PATH", "/telegram?x=1", "a path only"),
    ],
)
def test_a_value_that_cannot_work_stops_the_start_naming_it(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    says: str,
) -> None:
    operator_env.setenv(name, value)
    line = one_error_line(capsys, main(["run"]))
    assert line.startswith(f"error: {name} is invalid: "), line
    assert says in line, line


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALERT_OFFSETS", "-3d"), ("ALERT_OFFSETS", "abc"), ("QUIET_HOURS", "night")],
)
def test_the_setting_is_named_once(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    operator_env.setenv(name, value)
    line = one_error_line(capsys, main(["run"]))
    assert line.startswith(f"error: {name} is invalid: "), line
    assert line.count(name) == 1, line  # not "ALERT_OFFSETS is invalid: ALERT_OFFSETS item"


def _sqlite_paths(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "notes.txt").write_text(
        "TELEGRAM_TOKEN=... these are notes, not a database\n" * 50
    )
    return {
        "not a database": tmp_path / "notes.txt",
        "under a file": tmp_path / "a-file" / "bot.db",
        "a folder": tmp_path,
        "a folder nobody may write": Path("/proc/bot-qa-test.db"),
        "a folder nobody may create": Path("/proc/bot-qa-test/data/bot.db"),
    }


@pytest.mark.parametrize(
    "where",
    [
        "not a database",
        "under a file",
        "a folder",
        "a folder nobody may write",
        "a folder nobody may create",
    ],
)
@pytest.mark.parametrize("mode", [["run"], ["db", "upgrade"], ["db", "current"]])
def test_a_sqlite_file_that_cannot_be_made_is_one_line_naming_database_url(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    where: str,
    mode: list[str],
) -> None:
    path = _sqlite_paths(tmp_path)[where]
    operator_env.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    line = one_error_line(capsys, main(mode))
    assert "DATABASE_URL" in line
    assert str(path) in line


@pytest.mark.parametrize(
    "where", ["not a database", "under a file", "a folder", "a folder nobody may create"]
)
def test_doctor_names_a_sqlite_file_that_cannot_be_made(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    where: str,
) -> None:
    path = _sqlite_paths(tmp_path)[where]
    operator_env.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    operator_env.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:9/bot")  # nothing listens
    code = main(["doctor"])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "Traceback" not in captured.err + captured.out
    fails = [line for line in captured.out.splitlines() if line.startswith("FAIL")]
    assert any("DATABASE_URL" in line and str(path) in line for line in fails), captured.out
    assert "database server" not in captured.out  # a SQLite file has none to start


@pytest.mark.slow
async def test_a_second_process_on_one_sqlite_file_is_refused_and_the_first_goes_on(
    tmp_path: Path,
) -> None:
    """Two processes on one SQLite file used to both start: two pollers fighting over
    getUpdates (a Conflict warning every 2 s in both logs, forever), two alert dispatchers
    each with the whole send budget."""
    fake = FakeTelegram(token=TOKEN)
    db = f"sqlite+aiosqlite:///{tmp_path}/data/bot.db"
    async with await serve(fake) as server:
        env = env_for(server.base_url, db, WEBHOOK_SECRET="s3cret", PORT=str(free_port()))
        first = await start_bot("run", env=env, cwd=tmp_path)
        try:
            fake.push_update(fake.text_update(555, "/start"))
            await wait_for(lambda: len(fake.messages(555)) >= 2, 60)
            for second in ("run", "serve", "remind"):
                other = await start_bot(second, env=env, cwd=tmp_path)
                _, err = await asyncio.wait_for(other.communicate(), 60)
                lines = err.decode().strip().splitlines()
                assert other.returncode == 2, err.decode()
                assert len(lines) == 1, err.decode()
                assert lines[0].startswith(
                    "error: another bot process is using the SQLite database"
                )
                assert f"{tmp_path}/data/bot.db" in lines[0] and "PostgreSQL" in lines[0]
            # The first one never noticed: it still answers.
            fake.push_update(fake.text_update(556, "/start"))
            await wait_for(lambda: len(fake.messages(556)) >= 2, 30)
        finally:
            first.send_signal(signal.SIGTERM)
            _, first_err = await asyncio.wait_for(first.communicate(), 30)
        assert first.returncode == 0, first_err.decode()
        assert "Conflict" not in first_err.decode()
    with sole_process(db):
        pass  # once it has stopped, the file is free again


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # The password every local PostgreSQL tutorial uses: it was scrubbed out of the
        # scheme too ("<redacted>ql+asyncpg://<redacted>:***@...").
        (
            "postgres://postgres:postgres@127.0.0.1:9/shop",
            "cannot reach the database (postgresql+asyncpg://<redacted>:***@127.0.0.1:9/shop)",
        ),
        # A short password that is part of longer words in the message.
        (
            "postgresql://ann:sql@127.0.0.1:9/shop",
            "cannot reach the database (postgresql+asyncpg://ann:***@127.0.0.1:9/shop)",
        ),
    ],
)
def test_a_short_database_password_does_not_garble_the_message(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, shown: str
) -> None:
    operator_env.setenv("DATABASE_URL", url)
    code = main(["db", "upgrade"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.startswith(f"error: {shown}: "), err


def test_a_password_standing_alone_is_still_scrubbed() -> None:
    secrets = ("sql", TOKEN)
    assert scrub("login sql failed for postgresql", secrets) == (
        "login <redacted> failed for postgresql"
    )
    assert scrub(f"GET /bot{TOKEN}/getMe", secrets) == "GET /bot<redacted>/getMe"


@pytest.mark.slow
async def test_a_port_in_use_is_one_line_naming_the_settings(tmp_path: Path) -> None:
    """The line named neither HOST nor PORT, and was followed by warnings of the menu set-up
    being cut off ("could not set the bot's menu/profile ...: Server disconnected")."""
    fake = FakeTelegram(token=TOKEN)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    db = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    try:
        async with await serve(fake) as server:
            for mode, extra, names in (
                ("serve", {"PORT": str(port)}, "(HOST, PORT)"),
                ("remind", {"METRICS_PORT": str(port)}, "(HOST, METRICS_PORT)"),
            ):
                env = env_for(
                    server.base_url,
                    db,
                    LOG_LEVEL="WARNING",
                    WEBHOOK_SECRET="s3cret",
                    HOST="127.0.0.1",
                    **extra,
                )
                proc = await start_bot(mode, env=env, cwd=tmp_path)
                _, err = await asyncio.wait_for(proc.communicate(), 60)
                lines = err.decode().strip().splitlines()
                assert proc.returncode == 2, err.decode()
                assert lines == [line for line in lines if line.startswith("error: ")], lines
                assert len(lines) == 1, lines
                assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{port} {names}: ")
    finally:
        taken.close()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite:///:memory:"])
@pytest.mark.parametrize("mode", ["run", "serve", "remind"])
def test_an_in_memory_database_is_refused_by_a_long_running_mode(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, mode: str
) -> None:
    """It started, and lost every merchant at the first stop."""
    operator_env.setenv("DATABASE_URL", url)
    operator_env.setenv("WEBHOOK_SECRET", "s3cret")
    line = one_error_line(capsys, main([mode]))
    assert line.startswith("error: DATABASE_URL is invalid: an in-memory SQLite database"), line


@pytest.mark.parametrize(
    "name",
    ["LOG_LEVEL", "LOG_FORMAT", "CONTENT_DIR", "SEND_RATE", "PORT", "INBOX_LEASE", "HOST"],
)
def test_a_setting_left_empty_takes_its_default(
    operator_env: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    """`LOG_LEVEL=` in a .env made from .env.example stopped the bot ("Input should be
    'DEBUG', ..."); `CONTENT_DIR=` loaded the working directory as the content tree."""
    (tmp_path / ".env").write_text(f"{name}=\n", encoding="utf-8")
    field = name.lower()
    assert getattr(load_settings(), field) == Settings.model_fields[field].default


def test_quiet_hours_left_empty_still_means_none(operator_env: pytest.MonkeyPatch) -> None:
    operator_env.setenv("QUIET_HOURS", "")
    assert load_settings().quiet_hours is None  # documented: `QUIET_HOURS=` for none


@pytest.mark.parametrize(
    ("segment", "says"),
    [
        # A typo reached nobody, and the dry run said "merchants: 0" as if that were so.
        ("market=gb", "market: 'gb' is not a market id (known: us, uk,"),
        ("platform=shopfy", "platform: 'shopfy' is not a platform id (known: shopify,"),
        ("status=live", "status: 'live' is not a status id (known: "),
        ("lang=fr", "lang: 'fr' is not a language id (known: de, en)"),
        ("stopped=markets:3", "stopped: 'markets' is not a question id (known: platform,"),
    ],
)
def test_a_segment_naming_an_unknown_id_is_refused(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], segment: str, says: str
) -> None:
    operator_env.setenv("LOG_LEVEL", "WARNING")  # not the migration lines of a new database
    code = main(["broadcast", "--segment", segment, "--text", "hi", "--dry-run"])
    line = one_error_line(capsys, code)
    assert line.startswith(f"error: {says}"), line


@pytest.mark.parametrize(
    ("given", "link"),
    [
        ("MyShopBot", "https://t.me/MyShopBot?start=a__platform-shopify"),
        ("@MyShopBot", "https://t.me/MyShopBot?start=a__platform-shopify"),
        ("https://t.me/MyShopBot", "https://t.me/MyShopBot?start=a__platform-shopify"),
        ("t.me/MyShopBot", "https://t.me/MyShopBot?start=a__platform-shopify"),
    ],
)
def test_link_takes_the_bot_username_as_operators_copy_it(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str, link: str
) -> None:
    code = main(["link", "--bot-username", given, "--answer", "platform=shopify"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == link


@pytest.mark.parametrize("given", ["My Shop Bot", "my-shop-bot", "ab"])
def test_link_refuses_what_is_not_a_bot_username(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """It printed https://t.me/My Shop Bot?start=... (a link that opens nothing)."""
    code = main(["link", "--bot-username", given, "--answer", "platform=shopify"])
    line = one_error_line(capsys, code)
    assert line.startswith(f"error: --bot-username {given!r} is not a Telegram bot username"), line


@pytest.mark.slow
async def test_run_says_when_it_takes_the_token_off_a_webhook(tmp_path: Path) -> None:
    """`run` on a laptop with the production token silently deleted production's webhook:
    its `serve` got no update from then on, and nothing said why."""
    fake = FakeTelegram(token=TOKEN)
    fake.webhook = {"url": "https://bot.example.com/telegram", "secret_token": "x"}
    db = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    async with await serve(fake) as server:
        proc = await start_bot(
            "run", env=env_for(server.base_url, db, LOG_LEVEL="WARNING"), cwd=tmp_path
        )
        try:
            fake.push_update(fake.text_update(555, "/start"))
            await wait_for(lambda: len(fake.messages(555)) >= 2, 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    warnings = [line for line in err.decode().splitlines() if "WARNING" in line]
    assert len(warnings) == 1, err.decode()
    assert "https://bot.example.com/telegram" in warnings[0]
    assert "serve" in warnings[0] and "no updates" in warnings[0]


@pytest.mark.parametrize("value", ["-1001234567890", "42,-7", "0"])
def test_admin_ids_must_be_people(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """A group's id (negative, as group chats' ids are) was taken, and nobody could use
    /stats or /console."""
    operator_env.setenv("ADMIN_IDS", value)
    line = one_error_line(capsys, main(["run"]))
    assert line.startswith("error: ADMIN_IDS is invalid: "), line
    assert "a group" in line, line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgres://u:pw@host:abc/db", "the port must be a number from 1 to 65535"),
        ("postgresql+asyncpg://u:pw@127.0.0.1:99999/db", "the port must be a number"),
        ("postgresql+asyncpg://u:pw@[::1/db", "the port must be a number"),
        ("postgresql://u:pw@h/db?application_nam=bot", "unsupported parameter ?application_nam="),
        ("postgresql://u:pw@h/db?connect_timeout=soon", "connect_timeout must be seconds"),
    ],
)
@pytest.mark.parametrize("mode", ["run", "db upgrade"])
def test_a_bad_postgres_url_is_one_line_not_a_traceback(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    said: str,
    mode: str,
) -> None:
    operator_env.setenv("DATABASE_URL", url)
    line = one_error_line(capsys, main(mode.split()))
    assert line.startswith("error: DATABASE_URL is invalid: ") and said in line, line
    assert "pw" not in line


@pytest.mark.parametrize(
    ("query", "connect_args"),
    [
        # What hosted PostgreSQL (Neon, Supabase, ...) hands out, in libpq's words.
        (
            "sslmode=require&channel_binding=require",
            {"ssl": "require"},
        ),
        ("connect_timeout=10", {"timeout": 10.0}),
        ("application_name=shop-bot", {"server_settings": {"application_name": "shop-bot"}}),
    ],
)
def test_libpq_parameters_hosted_postgres_hands_out_are_understood(
    query: str, connect_args: dict[str, object]
) -> None:
    db = Database(f"postgresql://u:pw@db.example.com/shop?{query}")
    assert db.connect_args == connect_args
    assert not db.url.query


def test_a_unix_socket_url_keeps_its_host_and_port() -> None:
    db = Database(
        "postgresql+asyncpg://u@/shop?host=/var/run/postgresql&port=5433&sslmode=disable"
    )
    assert dict(db.url.query) == {"host": "/var/run/postgresql", "port": "5433"}
    assert db.connect_args == {"ssl": "disable"}


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (" https://bot.example.com/telegram ", "https://bot.example.com/telegram"),
        ("https://bot.example.com:8443/telegram", "https://bot.example.com:8443/telegram"),
        ("https://bot.example.com/tele%20gram", "https://bot.example.com/tele%20gram"),
    ],
)
def test_a_webhook_url_telegram_takes_is_kept(given: str, kept: str) -> None:
    assert load_settings(webhook_url=given, _env_file=None).webhook_url == kept


def test_a_local_bot_api_server_takes_any_webhook_port() -> None:
    settings = load_settings(
        telegram_base_url="http://127.0.0.1:8081/bot",
        webhook_url="https://bot.example.com:9443/telegram",
        _env_file=None,
    )
    assert settings.webhook_url == "https://bot.example.com:9443/telegram"


@pytest.mark.parametrize(
    ("mode", "ports", "says"),
    [
        ("serve", {"PORT": "8080", "METRICS_PORT": "8080"}, "PORT and METRICS_PORT are both 8080"),
        ("serve", {"PORT": "9000", "CONSOLE_PORT": "9000"}, "PORT and CONSOLE_PORT are both 9000"),
        ("run", {"METRICS_PORT": "9100", "CONSOLE_PORT": "9100"}, "METRICS_PORT and CONSOLE_PORT"),
    ],
)
def test_two_settings_on_one_port_are_named_before_listening(
    operator_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    ports: dict[str, str],
    says: str,
) -> None:
    """It was "cannot listen on 0.0.0.0:8080 (HOST, METRICS_PORT): address already in use",
    as if another program held the port."""
    operator_env.setenv("WEBHOOK_SECRET", "s3cret")
    for name, port in ports.items():
        operator_env.setenv(name, port)
    line = one_error_line(capsys, main([mode]))
    assert line.startswith(f"error: {says}"), line
    assert "own port" in line, line


def test_run_may_keep_metrics_on_the_port_serve_would_use(
    operator_env: pytest.MonkeyPatch,
) -> None:
    # `run` listens on no PORT: METRICS_PORT=8080 beside the default PORT 8080 is fine.
    operator_env.setenv("METRICS_PORT", "8080")
    settings = load_settings(_env_file=None)
    settings.check_ports("run")


@pytest.mark.parametrize("campaign", ["99999999999999999999", "0", "-5"])
@pytest.mark.parametrize("flag", ["--status", "--cancel"])
def test_a_campaign_number_that_cannot_exist_is_no_campaign(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], flag: str, campaign: str
) -> None:
    operator_env.setenv("LOG_LEVEL", "WARNING")
    line = one_error_line(capsys, main(["broadcast", f"{flag}={campaign}"]))
    assert line == f"error: no campaign {campaign}", line


def test_link_refuses_a_question_answered_twice(
    operator_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It kept the last --answer silently: a link for Germany when the operator meant both."""
    code = main(
        ["link", "--bot-username", "MyShopBot", "--answer", "market=uk", "--answer", "market=de"]
    )
    line = one_error_line(capsys, code)
    assert line == (
        "error: --answer 'market=de': market is already answered by 'market=uk'"
        " (several at once: market=uk,de)"
    ), line
