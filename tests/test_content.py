"""The content tree: the shipped one passes the check; broken files are named with their line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.check import Checker, check, load_checked
from bot.content.loader import Content, ContentError, load_content

REPO = Path(__file__).resolve().parent.parent


def only(problems: list[str], needle: str) -> list[str]:
    return [p for p in problems if needle in p]


def problems_of(root: Path) -> list[str]:
    _, problems = check(root)
    return [str(p) for p in problems]


def write_step(root: Path, step_id: str, front: str, body: str = "Do the thing.") -> Path:
    path = root / "guidance" / f"{step_id}.md"
    path.write_text(f"---\n{front}---\n{body}\n", encoding="utf-8")
    return path


VALID_FRONT = """id: {id}
version: 1
title: A test step
scope: general
minutes: 5
sources:
  - url: https://example.org/source
    title: Example source
    date: undated
checked: 2026-11-27
"""


@pytest.mark.slow
def test_shipped_content_passes_the_full_check() -> None:
    content, problems = check(REPO / "content")
    assert content is not None
    assert problems == []


@pytest.mark.slow
def test_content_check_cli_exit_codes(tree: Path) -> None:
    def check_cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "content", "check"],
            capture_output=True,
            text=True,
            env={"CONTENT_DIR": str(tree), "PATH": ""},
            check=False,
            cwd=REPO,
        )

    ok = check_cli()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "content OK" in ok.stdout
    write_step(tree, "broken", "id: broken\nversion: one\n")
    bad = check_cli()
    assert bad.returncode == 1
    assert f"{tree}/guidance/broken.md:3: version" in bad.stdout


@pytest.mark.slow
def test_bad_front_matter_names_file_and_line(tree: Path) -> None:
    path = write_step(
        tree, "bad-step", VALID_FRONT.format(id="bad-step").replace("minutes: 5", "minutes: soon")
    )
    found = problems_of(tree)
    assert any(p.startswith(f"{path}:6: minutes") for p in found), found


@pytest.mark.slow
def test_yaml_syntax_error_has_its_line(tree: Path) -> None:
    path = write_step(tree, "yaml-step", "id: yaml-step\ntitle: [unclosed\n")
    found = problems_of(tree)
    assert any(p.startswith(f"{path}:") and "YAML error" in p for p in found), found


@pytest.mark.slow
def test_unknown_answer_key_and_value(tree: Path) -> None:
    front = (
        VALID_FRONT.format(id="cond-step")
        + "when:\n  platform: [shopify, myspace]\n  colour: [red]\n"
    )
    path = write_step(tree, "cond-step", front)
    found = problems_of(tree)
    assert any(f"{path}:13:" in p and "'myspace' is not an option" in p for p in found), found
    assert any(f"{path}:14:" in p and "unknown answer key 'colour'" in p for p in found), found


@pytest.mark.slow
def test_dangling_prerequisite_and_cycle(tree: Path) -> None:
    write_step(tree, "step-a", VALID_FRONT.format(id="step-a") + "requires: [step-b]\n")
    write_step(tree, "step-b", VALID_FRONT.format(id="step-b") + "requires: [step-a]\n")
    write_step(tree, "step-c", VALID_FRONT.format(id="step-c") + "requires: [nowhere]\n")
    found = problems_of(tree)
    assert any("prerequisite cycle" in p and "step-a" in p and "step-b" in p for p in found), found
    assert any("step-c.md:12: requires unknown step 'nowhere'" in p for p in found), found


@pytest.mark.slow
def test_missing_sources_are_refused(tree: Path) -> None:
    front = (
        VALID_FRONT.format(id="nosource").split("sources:")[0]
        + "sources: []\nchecked: 2026-11-27\n"
    )
    path = write_step(tree, "nosource", front)
    found = problems_of(tree)
    assert any(p.startswith(f"{path}:") and "sources" in p for p in found), found


def test_template_syntax_error_points_into_the_body(small_tree: Path) -> None:
    tree = small_tree
    path = write_step(
        tree, "tpl", VALID_FRONT.format(id="tpl"), body="First line.\n\n{% if %}broken{% endif %}"
    )
    found = problems_of(tree)
    # Front matter is lines 1-12, the body starts on 13; the error is on its third line.
    assert any(p.startswith(f"{path}:15:") and "template error" in p for p in found), found


@pytest.mark.slow
def test_undefined_variable_is_reported(small_tree: Path) -> None:
    tree = small_tree
    path = write_step(
        tree, "undef", VALID_FRONT.format(id="undef"), body="Fee: {{ facts.no_such_fee.rate }}"
    )
    found = problems_of(tree)
    assert any(str(path) in p and "Undefined" in p for p in found), found


@pytest.mark.slow
def test_html_telegram_would_reject(small_tree: Path) -> None:
    tree = small_tree
    path = write_step(
        tree, "html", VALID_FRONT.format(id="html"), body="<p>Paragraphs are not allowed</p>"
    )
    found = problems_of(tree)
    assert any(str(path) in p and "reject the HTML" in p for p in found), found


@pytest.mark.slow
def test_message_over_4096_characters(small_tree: Path) -> None:
    tree = small_tree
    path = write_step(tree, "huge", VALID_FRONT.format(id="huge"), body="word " * 1000)
    found = problems_of(tree)
    assert any(str(path) in p and "over Telegram's 4096" in p for p in found), found


@pytest.mark.slow
def test_empty_plan_is_reported(small_tree: Path) -> None:
    tree = small_tree
    (tree / "guidance" / "what-changed.md").unlink()
    (tree / "locales" / "de" / "guidance" / "what-changed.md").unlink(missing_ok=True)
    write_step(tree, "only-us", VALID_FRONT.format(id="only-us") + "when:\n  market: [us]\n")
    found = problems_of(tree)
    assert any("empty plan for" in p and "market=['uk']" in p for p in found), found


@pytest.mark.slow
def test_coverage_rule_fails_without_platform_step(tree: Path) -> None:
    for path in (tree / "guidance").glob("*.md"):
        if "scope: platform" in path.read_text(encoding="utf-8"):
            path.unlink()
    try:
        found = problems_of(tree)
    except ContentError as exc:  # a removed step may be required elsewhere
        found = [str(p) for p in exc.problems]
    assert any("platform-specific" in p or "requires unknown step" in p for p in found), found


@pytest.mark.slow
def test_coverage_table_has_every_pair(content: Content) -> None:
    rows = Checker(content).coverage()
    platforms = content.interview.question("platform").options
    markets = content.interview.question("market").options
    assert len(rows) == len(platforms) * len(markets)
    for row in rows:
        # Where no merchant is set up (no TikTok Shop in the country), there is nothing to
        # connect: the plan is the short alternative one (issue 14).
        assert row.setup == (row.market != "elsewhere"), row
        if row.setup:
            assert row.platform_steps, row
        assert row.market_steps, row


@pytest.mark.slow
def test_broken_strings_file(tree: Path) -> None:
    strings = tree / "locales" / "en" / "strings.yaml"
    strings.write_text(
        strings.read_text(encoding="utf-8").replace("      shopify: Shopify\n", "", 1)
    )
    with pytest.raises(ContentError) as info:
        load_content(tree)
    assert any("questions.platform.options.shopify" in str(p) for p in info.value.problems)


def test_yaml_yes_and_no_are_caught_with_their_line(tree: Path) -> None:
    """Bare `no` in YAML is false, not the word: a synonym or label would silently break."""
    strings = tree / "locales" / "en" / "strings.yaml"
    text = strings.read_text(encoding="utf-8")
    text = text.replace("      wix: Wix\n", "      wix: yes\n", 1)
    text = text.replace('[none, "no", no store', "[none, no, no store", 1)
    strings.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    label_line = lines.index("      wix: yes") + 1
    synonym_line = next(i for i, line in enumerate(lines, 1) if "[none, no, no store" in line)
    with pytest.raises(ContentError) as info:
        load_content(tree)
    found = [str(p) for p in info.value.problems]
    assert f"{strings}:{label_line}: questions.platform.options.wix reads as true" in "\n".join(
        found
    )
    assert any(
        f"{strings}:{synonym_line}: questions.platform.synonyms.none.1 reads as false" in p
        and "quotes" in p
        for p in found
    )


def test_every_step_names_sources_and_a_check_date(content: Content) -> None:
    for step in content.steps:
        assert step.sources, step.id
        assert step.checked is not None, step.id
        for source in step.sources:
            assert source.url.startswith("http"), step.id


@pytest.mark.slow
def test_coverage_and_preview_commands() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "content", *args],
            capture_output=True,
            text=True,
            env={"PATH": ""},
            check=False,
            cwd=REPO,
        )

    coverage = cli("coverage")
    assert coverage.returncode == 0, coverage.stderr
    assert "steps per platform x market" in coverage.stdout
    assert "shopify: shopify-connector-other-markets" in coverage.stdout
    preview = cli("preview", "--answer", "platform=shopify", "--answer", "market=uk")
    assert preview.returncode == 0, preview.stderr
    assert "Connect Shopify with the TikTok app" in preview.stdout
    assert "**Sources** (last checked 1 December 2026)" in preview.stdout
    bad = cli("preview", "--answer", "platform=myspace")
    assert bad.returncode != 0 and "platform takes" in bad.stderr


@pytest.mark.slow
def test_a_broken_reminder_template_fails_the_check_at_its_own_line(small_tree: Path) -> None:
    """Reminder screens used to be built only at send time, so the check never saw them."""
    template = small_tree / "locales" / "en" / "templates" / "alert.html.j2"
    source = template.read_text(encoding="utf-8")
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines) if "Your plan:" in line)
    lines[at] = "<b>Your plan, unclosed: " + "x" * 5000
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = problems_of(small_tree)
    html = only(problems, "Telegram would reject the HTML")
    assert html == [f"{template}:{at + 1}: Telegram would reject the HTML: <b> is never closed"]
    too_long = only(problems, "over Telegram's 4096")
    assert too_long and all(p.startswith(f"{template}:") for p in too_long)
    assert not only(problems, "content/locales:1")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["alerts.html.j2", "alert_zone.html.j2", "alert_hour.html.j2", "alert_quiet.html.j2"]
)
def test_every_reminder_settings_template_is_rendered_by_the_check(
    small_tree: Path, name: str
) -> None:
    template = small_tree / "locales" / "en" / "templates" / name
    template.write_text(template.read_text(encoding="utf-8") + "\n{{ no_such_variable }}\n")
    problems = problems_of(small_tree)
    assert any(str(template) in p and "no_such_variable" in p for p in problems), problems


@pytest.mark.slow
def test_start_up_refuses_what_only_the_full_walk_finds(
    small_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step over 4096 characters used to pass start-up (only compile + fixed screens)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_step(small_tree, "huge", VALID_FRONT.format(id="huge"), body="word " * 1000)
    with pytest.raises(ContentError) as refused:
        load_checked(small_tree)
    assert any(str(path) in str(p) and "4096" in str(p) for p in refused.value.problems)
    assert not list((tmp_path / "cache").rglob("content-check-ok-*"))


@pytest.mark.slow
def test_a_passing_check_is_remembered_by_the_trees_hash(
    small_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    walks: list[str] = []

    def passing_walk(self: Checker) -> list[object]:
        walks.append(self.content.hash)
        return []

    monkeypatch.setattr(Checker, "run", passing_walk)
    first = load_checked(small_tree)
    assert walks == [first.hash]
    assert len(list((tmp_path / "cache").rglob("content-check-ok-*"))) == 1
    again = load_checked(small_tree)
    assert again.hash == first.hash and walks == [first.hash]  # remembered: no second walk
    # Any change to any file is a new version: checked again.
    (small_tree / "facts.yaml").write_text(
        (small_tree / "facts.yaml").read_text(encoding="utf-8") + "\n# edited\n"
    )
    changed = load_checked(small_tree)
    assert changed.hash != first.hash and walks == [first.hash, changed.hash]


@pytest.mark.slow
def test_the_content_hash_names_the_tree(tree: Path) -> None:
    one, two = load_content(tree), load_content(REPO / "content")
    assert one.hash == two.hash and len(one.hash) == 12
    step = tree / "guidance" / "what-changed.md"
    step.write_text(step.read_text(encoding="utf-8") + "\nOne more sentence.\n")
    assert load_content(tree).hash != one.hash


def test_conflicts_are_proved_over_every_answer_class(small_tree: Path) -> None:
    """Issue 14: an editor declares what contradicts what; the check finds any plan with
    both (here: a register step shown to a merchant already selling)."""
    register = VALID_FRONT.format(id="register-x") + "tags: [register]\n"
    write_step(small_tree, "register-x", register)
    write_step(
        small_tree,
        "grow-x",
        VALID_FRONT.format(id="grow-x")
        + "when:\n  shop_status: [selling]\nconflicts: [register]\n",
    )
    checker = Checker(load_content(small_tree))
    checker.contradictions()
    found = [str(p) for p in checker.problems]
    assert len(only(found, "conflicts: grow-x and register-x are both in the plan")) == 1, found
    assert "shop_status=selling" in found[0]
    # Pruning the register step for selling merchants (a condition line) settles it.
    write_step(
        small_tree,
        "register-x",
        VALID_FRONT.format(id="register-x")
        + "tags: [register]\nunless:\n  shop_status: [selling]\n",
    )
    checker = Checker(load_content(small_tree))
    checker.contradictions()
    assert checker.problems == []


def test_excludes_and_conflicts_must_name_known_steps_or_tags(tree: Path) -> None:
    write_step(tree, "bad-x", VALID_FRONT.format(id="bad-x") + "excludes: [no-such-thing]\n")
    with pytest.raises(ContentError) as info:
        load_content(tree)
    assert "bad-x.md:12: excludes: 'no-such-thing' is neither a step id nor a tag" in str(
        info.value
    )


@pytest.mark.slow
def test_guidance_names_the_deadline_only_through_the_variable(tree: Path) -> None:
    """Issue 14: --deadline moves every text: the background step agrees with the plan."""
    from datetime import UTC, datetime

    from bot.content.preview import preview

    content = load_content(tree)
    checker = Checker(content, deadline=datetime(2027, 1, 31, tzinfo=UTC))
    shown = preview(
        content,
        checker.views,
        ["platform=shopify", "market=uk", "uses=shop_tab"],
        lang="en",
        now=datetime(2026, 12, 1, tzinfo=UTC),
        deadline=checker.deadline,
    )
    text = "\n".join(s.text for s in shown.screens())
    assert "61 days left" in text
    assert "will be switched off worldwide on 31 January 2027" in text
    assert "12 September 2023" not in text
