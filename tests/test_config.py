"""Configuration: names are the interface; bad values are one clear line; secrets stay secret."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from tests.conftest import TOKEN

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_help_lists_the_modes(tmp_path: Path) -> None:
    result = run_cli("--help", env={}, cwd=tmp_path)
    assert result.returncode == 0
    for mode in ("run", "serve", "remind", "demo", "content", "db", "link"):
        assert mode in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TELEGRAM_TOKEN is not set"),
        ({"TELEGRAM_TOKEN": "not-a-token"}, "TELEGRAM_TOKEN is malformed"),
        ({"TELEGRAM_TOKEN": TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "LOG_LEVEL": "loud"}, "LOG_LEVEL is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "ADMIN_IDS": "1,two"}, "ADMIN_IDS is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "DEADLINE": "soon"}, "DEADLINE is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "ALERT_OFFSETS": "7x"}, "ALERT_OFFSETS is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "QUIET_HOURS": "25-8"}, "QUIET_HOURS is invalid"),
        # It started, and its dispatcher died of an OverflowError (a wait of 1e20 s).
        ({"TELEGRAM_TOKEN": TOKEN, "SEND_RATE": "1e-20"}, "SEND_RATE is invalid"),
        ({"TELEGRAM_TOKEN": TOKEN, "SEND_RATE": "nan"}, "finite number"),
        (
            {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": "ftp://x"},
            "TELEGRAM_BASE_URL is invalid",
        ),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_TOKEN", "ADMIN_IDS", "ALERT_OFFSETS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        f"TELEGRAM_TOKEN={TOKEN}\nADMIN_IDS=1, 2,3\nALERT_OFFSETS=7d,12h\n", encoding="utf-8"
    )
    settings = load_settings()
    assert settings.token() == TOKEN
    assert settings.admin_ids == (1, 2, 3)
    assert settings.alert_offsets == (timedelta(days=7), timedelta(hours=12))


def test_token_never_in_repr() -> None:
    settings = Settings.model_validate({"telegram_token": TOKEN, "webhook_secret": "s3cret-value"})
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert "s3cret-value" not in repr(settings)


def test_missing_token_error() -> None:
    settings = Settings.model_validate({})
    with pytest.raises(ConfigError, match="TELEGRAM_TOKEN"):
        settings.token()


def test_logs_scrub_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", "text", [TOKEN, "s3cret-value"])
        logging.getLogger("httpx").warning("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        logging.getLogger("bot").info("secret is s3cret-value")
        try:
            raise RuntimeError(f"boom {TOKEN}")
        except RuntimeError:
            logging.getLogger("bot").exception("failed")
        # httpx request lines at INFO are silenced altogether.
        logging.getLogger("httpx").info("HTTP Request: POST https://x/bot%s/sendMessage", TOKEN)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert TOKEN not in err and "s3cret-value" not in err
    assert "<redacted>" in err
    assert "HTTP Request" not in err


def test_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", "json", [TOKEN])
        logging.getLogger("bot").info("hello %s", TOKEN)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["msg"] == "hello <redacted>" and record["level"] == "INFO"
