"""Metrics and probes an on-call person can alert on; doctor; --version."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, serve
from bot.config import Settings
from bot.content.loader import Content
from bot.metrics import CountingRequest, Metrics
from bot.storage.db import Database
from bot.storage.models import Outbox
from bot.web import WEBHOOK, create_app, instrument
from tests.conftest import REPO, TOKEN, Clock
from tests.pgserver import free_port
from tests.test_modes_processes import env_for, start_bot, wait_for
from tests.test_web import SECRET, post, sample, scrape


@pytest.fixture
def metrics(content: Content) -> Metrics:
    return Metrics(content_hash=content.hash)


@pytest.fixture
async def client(
    settings: Settings,
    fake: FakeTelegram,
    db: Database,
    content: Content,
    clock: Clock,
    metrics: Metrics,
) -> AsyncIterator[TestClient[Any, Any]]:
    application = build_application(
        settings,
        request=CountingRequest(FakeRequest(fake), metrics.count_429, metrics),
        get_updates_request=FakeRequest(fake),
        content=content,
        db=db,
        clock=clock,
    )
    instrument(application, metrics)
    async with application:
        await application.start()
        app = create_app(
            application, secret=SECRET, metrics=metrics, clock=clock, sweep_every=None
        )
        async with TestClient(TestServer(app)) as test_client:
            yield test_client
        await application.stop()


# --- 8. bot_ metrics ------------------------------------------------------------------------


async def test_metrics_an_operator_can_alert_on(
    client: TestClient[Any, Any], fake: FakeTelegram, db: Database, clock: Clock, content: Content
) -> None:
    await post(client, fake.text_update(4242, "/start"))
    await post(client, b"nope", raw=True)
    async with db.session() as session:
        session.add(Outbox(merchant_id=4242, key="a", due_at=clock.now - timedelta(minutes=5)))
        session.add(Outbox(merchant_id=4242, key="b", due_at=clock.now - timedelta(minutes=1)))
        session.add(Outbox(merchant_id=4242, key="c", due_at=clock.now + timedelta(days=1)))
    text = await scrape(client)
    assert sample(text, "bot_webhook_responses_total", status="200") == 1
    assert sample(text, "bot_webhook_responses_total", status="400") == 1
    assert sample(text, "bot_api_calls_total", method="sendMessage", outcome="ok") >= 1
    assert sample(text, "bot_api_seconds_count", method="sendMessage") >= 1
    assert sample(text, "bot_handler_seconds_count") == 1
    assert sample(text, "bot_database_up") == 1
    assert sample(text, "bot_reminders_due") == 2
    assert sample(text, "bot_reminders_oldest_due_age_seconds") == 300
    for name in ("sent", "failed", "expired", "cancelled"):
        assert sample(text, f"bot_reminders_{name}_total") == 0
    assert sample(text, "bot_telegram_429_total") == 0
    assert sample(text, "process_cpu_seconds_total") >= 0
    from bot import version

    assert sample(text, "bot_build_info", content_hash=content.hash, version=version()) == 1
    assert len(content.hash) == 12
    assert "_created" not in text
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    ours = {n for n in names if not n.startswith(("process_", "python_"))}
    assert all(n.startswith("bot_") for n in ours), sorted(ours)
    label_names = set(re.findall(r'[{,]([a-z_]+)="', re.sub(r"(?m)^#.*$", "", text)))
    allowed = {"kind", "reason", "status", "method", "outcome", "le", "version", "content_hash"}
    python_info = {"implementation", "major", "minor", "patchlevel"}
    assert label_names <= allowed | python_info, label_names  # never a user or chat id


async def test_database_down_shows_in_metrics_and_readyz_not_livez(
    client: TestClient[Any, Any], db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    monkeypatch.setattr(db, "engine", broken)
    try:
        async with client.get("/livez") as response:
            assert response.status == 200
        async with client.get("/readyz") as response:
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"
        assert sample(await scrape(client), "bot_database_up") == 0
    finally:
        await broken.dispose()


async def test_readyz_is_503_once_stopping(client: TestClient[Any, Any]) -> None:
    async with client.get("/readyz") as response:
        assert response.status == 200
    client.app[WEBHOOK].health.stopping = True
    async with client.get("/readyz") as response:
        assert response.status == 503
    async with client.get("/livez") as response:
        assert response.status == 200


# --- 9/10. remind and serve on METRICS_PORT, probes, SIGTERM -------------------------------


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def answers(url: str) -> bool:
    try:
        status, _ = await get(url)
    except aiohttp.ClientError:
        return False
    return status == 200


async def poll(url: str, want: int) -> None:
    for _ in range(600):
        try:
            status, _ = await get(url)
        except aiohttp.ClientError:
            status = 0
        if status == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered {want}")


@pytest.mark.slow
async def test_remind_serves_metrics_and_probes(tmp_path: Path) -> None:
    from tests.test_alerts_dispatch import seed

    db_url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    deadline = datetime.now(UTC) + timedelta(days=30)
    db = Database(db_url)
    await db.upgrade()
    await seed(db, 3, datetime.now(UTC) - timedelta(minutes=1), first_id=700, deadline=deadline)
    await db.dispose()
    port = free_port()
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        env = env_for(
            server.base_url, db_url, DEADLINE=deadline.isoformat(), METRICS_PORT=str(port)
        )
        proc = await start_bot("remind", env=env, cwd=tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_for(lambda: all(fake.messages(chat) for chat in (700, 701, 702)))
            await poll(f"{base}/readyz", 200)
            assert (await get(f"{base}/livez"))[0] == 200
            for _ in range(600):
                text = (await get(f"{base}/metrics"))[1]
                if sample(text, "bot_reminders_sent_total") == 3:
                    break
                await asyncio.sleep(0.05)
            assert sample(text, "bot_reminders_sent_total") == 3
            assert sample(text, "bot_api_calls_total", method="sendMessage", outcome="ok") == 3
            assert sample(text, "bot_database_up") == 1
            assert sample(text, "bot_reminders_due") == 0
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


@pytest.mark.slow
async def test_serve_metrics_on_their_own_port_and_readyz_on_sigterm(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        env = env_for(
            server.base_url,
            f"sqlite+aiosqlite:///{tmp_path}/bot.db",
            WEBHOOK_SECRET=SECRET,
            HOST="127.0.0.1",
            PORT=str(port),
            METRICS_PORT=str(metrics_port),
            SHUTDOWN_GRACE="300",
        )
        proc = await start_bot("serve", env=env, cwd=tmp_path)
        public, private = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
        try:
            await poll(f"{public}/readyz", 200)
            await poll(f"{private}/readyz", 200)
            assert (await get(f"{public}/metrics"))[0] == 404
            status, text = await get(f"{private}/metrics")
            assert status == 200 and "bot_build_info" in text
            proc.send_signal(signal.SIGTERM)
            await poll(f"{public}/readyz", 503)  # not ready, still serving
            assert (await get(f"{public}/livez"))[0] == 200
            assert (await get(f"{private}/readyz"))[0] == 503
        finally:
            proc.send_signal(signal.SIGTERM)  # the second signal ends the grace period
            _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


# --- 11. doctor and --version --------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    from bot import version

    result = subprocess.run(
        [sys.executable, "-m", "bot", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"python -m bot {version()}"


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await start_bot("doctor", env=env, cwd=cwd)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    assert "Traceback" not in err.decode(), err.decode()
    return proc.returncode, out.decode()


@pytest.mark.slow
async def test_doctor_all_good_then_says_what_is_wrong(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    db = Database(db_url)
    await db.upgrade()
    await db.dispose()
    fake = FakeTelegram(token=TOKEN)
    async with await serve(fake) as server:
        code, out = await doctor(env_for(server.base_url, db_url), tmp_path)
        assert code == 0, out
        assert "ok   migrations up to date" in out and "no problems found" in out
        assert "no webhook set (long polling), 0 pending update(s)" in out

        fake.webhook = {
            "url": "https://old.example.com/telegram",
            "last_error_date": 1700000000,
            "last_error_message": "Wrong response from the webhook: 502 Bad Gateway",
        }
        fake.push_update(fake.text_update(5, "/start"))
        env = env_for(
            server.base_url,
            f"sqlite+aiosqlite:///{tmp_path}/fresh.db",
            WEBHOOK_URL="https://bot.example.com/telegram",
            WEBHOOK_SECRET="s3cret",
        )
        code, out = await doctor(env, tmp_path)
    assert code == 1, out
    assert "webhook set to https://old.example.com/telegram, 1 pending update(s)" in out
    assert "FAIL the webhook points at https://old.example.com/telegram" in out
    assert "502 Bad Gateway" in out and "2023-11-14T22:13:20" in out
    assert "warn database is empty" in out and "db upgrade" in out
    assert TOKEN not in out


@pytest.mark.slow
async def test_doctor_names_a_rejected_token(tmp_path: Path) -> None:
    fake = FakeTelegram(token="987654321:" + "B" * 35)
    async with await serve(fake) as server:
        code, out = await doctor(
            env_for(server.base_url, f"sqlite+aiosqlite:///{tmp_path}/bot.db"), tmp_path
        )
    assert code == 1
    assert "FAIL Telegram at" in out and "rejected TELEGRAM_TOKEN" in out and "fix: " in out
