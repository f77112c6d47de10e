"""`python -m bot run` as a real process against the fake Bot API over loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.botapi.fake import FakeTelegram, serve
from tests.conftest import TOKEN
from tests.pgserver import free_port

REPO = Path(__file__).resolve().parent.parent


def env_for(base_url: str, db_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PTB_TIMEDELTA": "1",
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": base_url,
        "TELEGRAM_BASE_FILE_URL": base_url.replace("/bot", "/file/bot"),
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "INFO",
        **extra,
    }


def start_bot(*args: str, env: dict[str, str], cwd: Path) -> Any:
    """``python -m bot <args>`` as a process, its output captured."""
    return asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_for(predicate: object, limit: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_run_replies_to_start(db_url: str, tmp_path: Path) -> None:
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        proc = await start_bot("run", env=env_for(server.base_url, db_url), cwd=tmp_path)
        try:
            fake.push_update(fake.text_update(555, "/start", first_name="Ann"))
            await wait_for(lambda: len(fake.messages(555)) >= 2)
            greeting, question = fake.messages(555)[:2]
            assert "Hi Ann!" in (greeting.text or "")
            assert "Which platform runs your online store?" in (question.text or "")
            # The menu of commands was set from content.
            assert fake.calls_to("setMyCommands")
            # A button press travels the same road back.
            fake.push_update(
                fake.callback_update(555, question.message_id, question.buttons[0][0][1] or "")
            )

            def moved_on() -> bool:
                message = fake.message(555, question.message_id)
                return message is not None and "Which markets" in (message.text or "")

            await wait_for(moved_on)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        log = err.decode()
        assert TOKEN not in log
        assert "polling" in log


@pytest.mark.slow
async def test_run_says_when_telegram_is_unreachable(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}/bot"
    db = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    proc = await start_bot("run", env=env_for(base, db, LOG_LEVEL="ERROR"), cwd=tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode().strip()
    assert proc.returncode == 3, text
    assert text.splitlines()[-1].startswith(f"error: cannot reach Telegram at {base}")
    assert "Traceback" not in text and TOKEN not in text
    assert "Unclosed" not in text, "the Bot API transports are closed after a failed start"


@pytest.mark.slow
async def test_run_says_when_the_token_is_rejected(tmp_path: Path) -> None:
    fake = FakeTelegram(token="987654321:" + "B" * 35)  # accepts another token only
    async with await serve(fake) as server:
        db = f"sqlite+aiosqlite:///{tmp_path}/x.db"
        env = env_for(server.base_url, db, LOG_LEVEL="ERROR")
        proc = await start_bot("run", env=env, cwd=tmp_path)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode().strip()
    assert proc.returncode == 2, text
    assert (
        text.splitlines()[-1]
        == f"error: Telegram at {server.base_url} rejected TELEGRAM_TOKEN (unauthorized)"
    )
    assert TOKEN not in text


@pytest.mark.slow
async def test_db_upgrade_command(tmp_path: Path) -> None:
    proc = await start_bot(
        "db",
        "upgrade",
        env=env_for("http://127.0.0.1:9/bot", f"sqlite+aiosqlite:///{tmp_path}/data/x.db"),
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "database is up to date" in out.decode()
    assert (tmp_path / "data" / "x.db").exists()


@pytest.mark.slow
async def test_run_refuses_broken_content_naming_the_file(tmp_path: Path) -> None:
    import shutil

    content = tmp_path / "content"
    shutil.copytree(REPO / "content", content)
    template = content / "locales" / "en" / "templates" / "help.html.j2"
    template.write_text("Hello {% if %}\n", encoding="utf-8")
    proc = await start_bot(
        "run",
        env=env_for(
            "http://127.0.0.1:9/bot",
            f"sqlite+aiosqlite:///{tmp_path}/x.db",
            CONTENT_DIR=str(content),
        ),
        cwd=tmp_path,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert "the content tree is broken" in text
    assert f"{template}:1: template error" in text
    assert "Traceback" not in text


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_remind_worker_sends_due_alerts_and_stops_cleanly(
    db_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.storage.db import Database
    from tests.test_alerts_dispatch import seed

    deadline = datetime.now(UTC) + timedelta(days=30)
    db = Database(db_url)
    await db.upgrade()
    await seed(db, 3, datetime.now(UTC) - timedelta(minutes=1), first_id=700, deadline=deadline)
    await db.dispose()
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        env = env_for(server.base_url, db_url, DEADLINE=deadline.isoformat())
        proc = await start_bot("remind", env=env, cwd=tmp_path)
        try:
            await wait_for(lambda: all(fake.messages(chat) for chat in (700, 701, 702)))
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert not fake.calls_to("getUpdates")  # a worker never polls
    for chat in (700, 701, 702):
        assert len(fake.messages(chat)) == 1
        assert "Stop alerts" in " ".join(fake.messages(chat)[0].button_labels)


@pytest.mark.slow
async def test_run_survives_a_network_blip_while_polling(tmp_path: Path) -> None:
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        db = f"sqlite+aiosqlite:///{tmp_path}/x.db"
        proc = await start_bot("run", env=env_for(server.base_url, db), cwd=tmp_path)
        try:
            await wait_for(lambda: bool(fake.calls_to("getUpdates")))
            # The Bot API (or the network to it) fails a few polls in a row...
            fake.fail_next("getUpdates", status=502, description="Bad Gateway", times=3)
            await wait_for(
                lambda: sum(1 for c in fake.calls_to("getUpdates") if c.status == 502) == 3
            )
            # ...and the bot carries on serving merchants.
            fake.push_update(fake.text_update(556, "/start", first_name="Bea"))
            await wait_for(lambda: len(fake.messages(556)) >= 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    log = err.decode()
    assert "polling" in log and "failed (NetworkError: Bad Gateway); retrying" in log
    for line in log.splitlines():  # one line per event
        assert line[:4].isdigit(), line
