"""Facts age visibly: checked and review dates in facts.yaml, `content facts`, warnings,
"last confirmed" in Details, and the content version where operators look."""

from __future__ import annotations

import argparse
import logging
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import build_application
from bot.botapi.fake import FakeRequest, FakeTelegram, SimulatedUser
from bot.config import Settings
from bot.content import cli
from bot.content.facts import FactIndex, review_warnings
from bot.content.loader import Content, ContentError, load_content
from bot.content.render import Renderer
from bot.modes import close, open_app
from tests.chat import Profile, interview
from tests.conftest import NOW, REPO, AppFactory, Clock, make_settings


def _leaves(node: Any, loc: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for key, value in node.items():
        if str(key).startswith("_"):
            continue
        if isinstance(value, dict) and "value" not in value:
            out += _leaves(value, (*loc, str(key)))
        else:
            out.append(".".join((*loc, str(key))))
    return out


def problems_loading(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_content(root)
    return [str(p) for p in info.value.problems]


def test_every_shipped_fact_has_a_checked_date_and_a_review_date(content: Content) -> None:
    raw = yaml.safe_load((REPO / "content" / "facts.yaml").read_text(encoding="utf-8"))
    assert sorted(content.fact_info) == sorted(_leaves(raw))
    for fact in content.fact_info.values():
        assert fact.checked <= fact.review_by
    # Templates still read plain values; the dates stay out of their way.
    assert content.facts["fees"]["uk"]["commission"] == "9%"
    assert "_checked" not in content.facts["fees"]


@pytest.mark.slow
def test_group_settings_are_inherited_and_a_fact_can_override_them(tree: Path) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    text = text.replace(
        '    commission: "9%"\n    commission_from: "2024-09-02"',
        '    commission: {value: "9%", checked: 2026-06-01, review: 30d}\n'
        '    commission_from: "2024-09-02"',
        1,
    )
    facts.write_text(
        text + '\nextra:\n  _checked: 2026-01-01\n  _review_by: 2026-02-01\n  thing: "x"\n',
        encoding="utf-8",
    )
    content = load_content(tree)
    own = content.fact_info["fees.uk.commission"]
    assert (own.value, own.checked, own.review_by) == ("9%", date(2026, 6, 1), date(2026, 7, 1))
    assert content.facts["fees"]["uk"]["commission"] == "9%"
    inherited = content.fact_info["fees.uk.commission_from"]
    assert inherited.review_by - inherited.checked == timedelta(days=90)  # the file's _review
    assert content.fact_info["extra.thing"].review_by == date(2026, 2, 1)


@pytest.mark.slow
def test_a_fact_without_a_checked_date_or_with_a_misspelt_setting_fails(tree: Path) -> None:
    facts = tree / "facts.yaml"
    facts.write_text(
        facts.read_text(encoding="utf-8")
        + '\nnew_group:\n  _chekced: 2026-01-01\n  x: "1"\n  y: "2"\n',
        encoding="utf-8",
    )
    found = problems_loading(tree)
    assert any("unknown setting `_chekced`: did you mean `_checked`?" in p for p in found), found
    assert any(
        "new_group.x: no checked date: add `_checked: YYYY-MM-DD` to its group" in p for p in found
    ), found
    assert not any("new_group.y" in p for p in found), found  # one problem per group


@pytest.mark.slow
def test_content_facts_lists_facts_by_age_with_their_steps_and_those_past_review(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(
        text.replace("us_tax:\n  _checked: 2026-12-01", "us_tax:\n  _checked: 2025-01-01", 1),
        encoding="utf-8",
    )
    settings = make_settings("sqlite+aiosqlite:///:memory:", content_dir=tree)
    args = argparse.Namespace(task="facts", today="2026-12-01")
    assert cli.main(args, settings) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = next(line for line in lines if re.match(r"\d{4}-\d\d-\d\d ", line))
    assert first.startswith("2025-01-01") and " us_tax." in first  # the group's two facts
    assert "(us-tax-forms)" in first  # the step citing it
    assert "2 past review" in out
    assert re.search(r"facts\.yaml:\d+: us_tax\.form_1099k_sent_by", out)
    assert re.search(r"facts\.yaml:\d+: us_tax\.form_1099k_threshold_2024", out)


def test_content_check_warns_on_facts_past_review_without_failing(content: Content) -> None:
    index = FactIndex(content, Renderer(content).env)
    assert review_warnings(content, index, date(2026, 12, 1)) == []
    later = review_warnings(content, index, date(2027, 6, 1))
    assert later and all(str(w).split(": ", 1)[1].startswith("warning: ") for w in later)
    assert any("fees.uk.commission ('9%') was last confirmed 2026-12-01" in str(w) for w in later)


@pytest.mark.slow
def test_content_check_cli_prints_the_warning_and_exits_0(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(text.replace("_review: 90d", "_review: 1d", 1), encoding="utf-8")
    settings = make_settings("sqlite+aiosqlite:///:memory:", content_dir=tree)
    assert cli.main(argparse.Namespace(task="check", today="2027-01-01"), settings) == 0
    out = capsys.readouterr().out
    assert "warning: fees.uk.commission" in out
    assert "content OK" in out


@pytest.fixture
def later_clock() -> Clock:
    return Clock(NOW + timedelta(days=200))  # every 90-day review has run out


@pytest.mark.slow
async def test_details_say_when_an_overdue_fact_was_last_confirmed(
    settings: Settings, fake: FakeTelegram, db: Any, content: Content, later_clock: Clock
) -> None:
    app = build_application(
        settings,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        content=content,
        db=db,
        clock=later_clock,
    )
    async with app:
        user = SimulatedUser(app, fake, user_id=5)
        await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
        seen = []
        messages = await user.press("▶️ Next step")
        for _ in range(40):
            details = (await user.press("ℹ️ Details"))[-1].text or ""
            seen.append(details)
            step = messages[-1]
            messages = await user.press_data(step.message_id, step.buttons[0][0][1] or "")
            if "very step of your plan is done" in (messages[-1].text or ""):
                break
    text = "\n".join(seen)
    assert "Figures due for a re-check" in text
    assert re.search(r"9%[^\n]*: last confirmed 1 December 2026", text), text


async def test_details_before_review_say_nothing_about_age(app: Any, user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    await user.press("▶️ Next step")
    details = (await user.press("ℹ️ Details"))[-1].text or ""
    assert "last confirmed" not in details


async def test_healthz_and_the_start_line_show_the_content_version(
    settings: Settings,
    fake: FakeTelegram,
    content: Content,
    caplog: pytest.LogCaptureFixture,
    make_app: AppFactory,
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.metrics import Metrics
    from bot.web import create_app

    caplog.set_level(logging.INFO, logger="bot.modes")
    app = await open_app(
        settings,
        lambda db: build_application(
            settings,
            request=FakeRequest(fake),
            get_updates_request=FakeRequest(fake),
            content=content,
            db=db,
        ),
    )
    try:
        web_app = create_app(app, secret="s3cret", metrics=Metrics(), sweep_every=None)
        async with (
            TestClient(TestServer(web_app)) as client,
            client.get("/healthz") as response,
        ):
            body = await response.json()
    finally:
        await close(app)
    assert body["content_version"] == content.hash
    assert f"content version {content.hash}: {len(content.steps)} steps" in caplog.text
