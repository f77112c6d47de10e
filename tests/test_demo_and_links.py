"""Demo mode in a terminal, and deep links that pre-fill answers or open a step."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.content.loader import Content
from bot.domain import links
from tests.chat import Profile, interview

REPO = Path(__file__).resolve().parent.parent


def run_bot(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_demo_walks_a_whole_interview_from_piped_input(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "/start",
            "1",  # Shopify
            "UK, Germany",  # typed instead of ticking
            "1",  # Registered company
            "1",  # Based in my markets
            "2",  # 51-500
            "3",  # FBT
            "shop tab, ads",
            "1",  # Not started
            "Ann & Co",
            "2027-03-31",
            "/next",
        ]
    )
    result = run_bot("demo", stdin=script + "\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Which platform runs your online store?" in out
    assert "  [1] Shopify" in out
    assert "**📋 Plan for Ann & Co**" in out  # bold kept readable, HTML escaping undone
    assert "your store runs on Shopify" in out or "Step 1 of" in out
    assert "Step 1 of" in out
    assert "<b>" not in out and "&amp;" not in out
    assert "TELEGRAM_TOKEN" not in result.stderr


@pytest.mark.slow
def test_demo_without_input_exits_cleanly(tmp_path: Path) -> None:
    result = run_bot("demo", "--now", "2023-09-05", stdin="/start\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "closes on **12 September 2023**: 7 days left" in result.stdout


@pytest.mark.slow
def test_demo_deadline_option(tmp_path: Path) -> None:
    result = run_bot(
        "demo", "--now", "2027-01-01", "--deadline", "2027-01-31", stdin="/start\n", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "31 January 2027**: 30 days left" in result.stdout


@pytest.mark.slow
def test_link_command_prints_a_deep_link(tmp_path: Path) -> None:
    result = run_bot(
        "link",
        "--bot-username",
        "migrate_bot",
        "--answer",
        "platform=shopify",
        "--answer",
        "market=uk,de",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip() == "https://t.me/migrate_bot?start=a__platform-shopify__market-uk-de"
    )
    bad = run_bot("link", "--bot-username", "x", "--answer", "platform=myspace", cwd=tmp_path)
    assert bad.returncode == 2 and "platform takes one of" in bad.stderr


def test_payload_round_trip_and_rejections(content: Content) -> None:
    steps = set(content.step_index)
    payload = links.encode(
        answers={"platform": "woocommerce", "market": ["us", "uk"], "origin": "cross_border"}
    )
    assert len(payload) <= 64
    decoded = links.decode(payload, content.interview, steps)
    assert decoded is not None
    assert decoded.answers == {
        "platform": "woocommerce",
        "market": ["us", "uk"],
        "origin": "cross_border",
    }
    assert links.decode("s__what-changed", content.interview, steps) == links.DeepLink(
        step="what-changed"
    )
    for bad in (
        "",
        "a__platform-myspace",
        "a__colour-red",
        "s__nowhere",
        "a__platform-shopify-wix",
        "hello world",
        "x" * 65,
        "a__",
        "a__platform",
    ):
        assert links.decode(bad, content.interview, steps) is None, bad
    with pytest.raises(ValueError, match="64"):
        links.encode(
            answers={
                "platform": "woocommerce",
                "market": list(content.interview.question("market").options),
                "uses": list(content.interview.question("uses").options),
            }
        )


async def test_deep_link_prefills_answers(user: SimulatedUser) -> None:
    replies = await user.send("/start a__platform-shopify__market-uk")
    texts = [m.text or "" for m in replies]
    assert any("From your link I filled in: Shopify, United Kingdom" in t for t in texts), texts
    assert "Is your business a registered company" in texts[-1]


async def test_invalid_deep_link_falls_back(user: SimulatedUser) -> None:
    replies = await user.send("/start a__platform-myspace")
    texts = [m.text or "" for m in replies]
    assert any("That link is not valid any more" in t for t in texts), texts
    assert "Which platform runs your online store?" in texts[-1]


async def test_deep_link_to_a_step(user: SimulatedUser, fake: FakeTelegram) -> None:
    replies = await user.send("/start s__what-changed")
    assert "it opens once your answers are in" in " ".join(m.text or "" for m in replies)
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    replies = await user.send("/start s__what-changed")
    assert "Background (optional): From TikTok Storefront to TikTok Shop" in (
        replies[-1].text or ""
    )
    # Background is optional reading: nothing to mark, Details and Back only (issue 14).
    assert replies[-1].button_labels == ["ℹ️ Details", "« Back to plan"]


@pytest.mark.slow
def test_demo_never_uses_database_url_and_saves_files_and_toasts(tmp_path: Path) -> None:
    configured = tmp_path / "production.db"
    script = "\n".join(["/start", "/export", "/delete", "2"]) + "\n"
    result = run_bot(
        "demo",
        "--files",
        str(tmp_path / "out"),
        stdin=script,
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{configured}"},
    )
    assert result.returncode == 0, result.stderr
    assert not configured.exists()  # the demo's data went to a temporary database
    saved = tmp_path / "out" / "my-data.json"
    assert saved.is_file() and f"saved to {saved}" in result.stdout
    assert "(toast:" in result.stdout or "Nothing was deleted" in result.stdout
    assert "Running upgrade" not in result.stderr  # migration lines are not demo output


@pytest.mark.slow
def test_demo_wait_shows_a_reminder_arriving(tmp_path: Path) -> None:
    script = "\n".join(["/start", "/alerts", "1", ":wait 10d"]) + "\n"
    result = run_bot("demo", "--now", "2023-08-20", stdin=script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after_wait = result.stdout.split(":wait 10d", 1)[1]
    assert "(it is now 2023-08-30" in after_wait
    assert "TikTok Storefront closes" in after_wait, after_wait[-2000:]


def _demo_process(content: Path, cwd: Path) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO),
            "CONTENT_DIR": str(content),
        },
        cwd=cwd,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def _read_until(lines: queue.Queue[str], needle: str, seen: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=90)
        except queue.Empty:
            line = ""
        assert line, "".join(seen)[-3000:]
        seen.append(line)
        if needle in line:
            return


@pytest.mark.slow
def test_demo_reloads_content_an_editor_changed(tmp_path: Path) -> None:
    """An editor previewing in the demo sees an edit after ``:reload``, and a broken edit
    is refused with its file and line while the demo keeps the content it had."""
    content = tmp_path / "content"
    shutil.copytree(REPO / "content", content)
    start = content / "locales" / "en" / "templates" / "start.html.j2"
    process, lines = _demo_process(content, tmp_path)
    assert process.stdin is not None
    seen: list[str] = []
    try:
        process.stdin.write("/start\n")
        process.stdin.flush()
        _read_until(lines, "ask a few short questions", seen)
        edited = start.read_text().replace("ask a few short questions", "ask some quick questions")
        start.write_text(edited)
        process.stdin.write(":reload\n/start\n")
        process.stdin.flush()
        _read_until(lines, "ask some quick questions", seen)
        reload_lines = "".join(seen).split(":reload", 1)[1]
        assert "(content reloaded" in reload_lines
        # A broken file: refused, named with its line; the last good content stays live.
        strings = content / "locales" / "en" / "strings.yaml"
        lines_before = strings.read_text().count("\n")
        strings.write_text(strings.read_text() + "broken: [unclosed\n")
        process.stdin.write(":reload\n/start\n")
        process.stdin.flush()
        process.stdin.close()
        assert process.wait(timeout=120) == 0
        while (line := lines.get(timeout=10)) != "":
            seen.append(line)
    finally:
        process.kill()
    transcript = "".join(seen)
    refused = transcript.rsplit(":reload", 1)[1]
    assert "(content reload refused" in refused, refused[:2000]
    assert f"strings.yaml:{lines_before + 1}" in refused, refused[:2000]
    assert "ask some quick questions" in refused  # still the last good content
