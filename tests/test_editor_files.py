"""A content file an editor saved wrong (bytes that are not UTF-8, a key given twice, an
alias that contains itself, front matter left open or empty, an empty file): `content check`
names the file and the line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.check import check
from bot.content.loader import ContentError, load_content

REPO = Path(__file__).resolve().parent.parent
STEP = Path("guidance") / "what-changed.md"


def load_problems(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_content(tree)
    return [str(p) for p in info.value.problems]


def line_of(path: Path, needle: str) -> int:
    rows = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return next(i for i, row in enumerate(rows, 1) if needle in row)


@pytest.mark.parametrize(
    "name",
    [
        "campaign.yaml",
        "facts.yaml",
        "interview.yaml",
        str(STEP),
        "locales/en/strings.yaml",
        "locales/de/strings.alerts.yaml",
        "locales/de/guidance/what-changed.md",
        "locales/de/translated_from.yaml",
        "locales/en/templates/alerts.html.j2",
    ],
)
def test_a_byte_that_is_not_utf8_is_named_at_its_line(tree: Path, name: str) -> None:
    path = tree / name
    rows = path.read_bytes().split(b"\n")
    rows[3] += b" caf\xe9"  # Latin-1, as an old editor saves it
    path.write_bytes(b"\n".join(rows))
    found = load_problems(tree)
    assert found == [f"{path}:4: not UTF-8 (byte 0xe9): save the file as UTF-8"], found


def test_a_byte_order_mark_is_not_a_problem(tree: Path) -> None:
    # Windows editors start a UTF-8 file with one; the step still has its front matter.
    for name in (str(STEP), "campaign.yaml", "locales/en/templates/alerts.html.j2"):
        path = tree / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    content = load_content(tree)
    assert content.step_text("en", "what-changed").title == "From TikTok Storefront to TikTok Shop"


def test_a_key_given_twice_is_named_at_the_second_with_the_first(tree: Path) -> None:
    campaign = tree / "campaign.yaml"
    text = campaign.read_text(encoding="utf-8")
    first = line_of(campaign, "deadline:")
    campaign.write_text(text + "deadline: 2031-01-01T00:00:00+00:00\n", encoding="utf-8")
    second = len(campaign.read_text(encoding="utf-8").splitlines())
    assert load_problems(tree) == [
        f"{campaign}:{second}: `deadline` is given twice (first on line {first}):"
        " keep one, or the last one would silently win"
    ]


def test_a_key_given_twice_deep_in_a_step_s_front_matter(tree: Path) -> None:
    step = tree / STEP
    text = step.read_text(encoding="utf-8")
    step.write_text(text.replace("minutes: 5\n", "minutes: 5\nminutes: 50\n", 1))
    assert load_problems(tree) == [
        f"{step}:8: `minutes` is given twice (first on line 7):"
        " keep one, or the last one would silently win"
    ]


def test_an_alias_inside_its_own_anchor_is_named(tree: Path) -> None:
    campaign = tree / "campaign.yaml"
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text + "loop: &a [1, *a]\n", encoding="utf-8")
    line = len(campaign.read_text(encoding="utf-8").splitlines())
    found = load_problems(tree)
    assert found == [
        f"{campaign}:{line}: YAML error: the alias *a is inside the anchor &a it repeats"
        " (a loop): write the values out"
    ], found


def test_front_matter_left_open_is_not_called_missing(tree: Path) -> None:
    step = tree / STEP
    text = step.read_text(encoding="utf-8")
    head, _, body = text.partition("\n---\n")
    step.write_text(head + "\n" + body, encoding="utf-8")
    assert load_problems(tree) == [
        f"{step}:1: the front matter is never closed: end it with a line of three dashes (---)"
    ]


def test_empty_front_matter_is_named_not_skipped(tree: Path) -> None:
    step = tree / STEP
    body = step.read_text(encoding="utf-8").partition("\n---\n")[2]
    step.write_text("---\n\n---\n" + body, encoding="utf-8")
    assert load_problems(tree) == [f"{step}:1: the front matter is empty"]


@pytest.mark.parametrize("name", ["campaign.yaml", "interview.yaml", "facts.yaml"])
def test_an_empty_file_is_named(tree: Path, name: str) -> None:
    (tree / name).write_text("# emptied by mistake\n", encoding="utf-8")
    found = load_problems(tree)
    assert f"{tree / name}:1: the file is empty" in found, found
    assert not [p for p in found if ":0:" in p], found


@pytest.mark.slow
def test_an_unclosed_tag_names_the_file_line_it_was_opened_on(small_tree: Path) -> None:
    step = small_tree / STEP
    step.write_text(
        step.read_text(encoding="utf-8") + "\nA <b>bold <i>start</b>\n", encoding="utf-8"
    )
    _, problems = check(small_tree)
    line = line_of(step, "<b>bold")
    assert [str(p) for p in problems] == [
        f"{step}:{line}: Telegram would reject the HTML: </b> closes a tag that is not open"
        f" here (<i> opened on line {line})"
    ]


@pytest.mark.slow
def test_the_cli_prints_problems_not_a_traceback(tree: Path) -> None:
    (tree / "facts.yaml").write_bytes(b"\xff" + (tree / "facts.yaml").read_bytes())
    (tree / "campaign.yaml").write_text("x: &a [*a]\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"CONTENT_DIR": str(tree), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert f"{tree / 'facts.yaml'}:1: not UTF-8 (byte 0xff)" in done.stdout
    assert f"{tree / 'campaign.yaml'}:1: YAML error: the alias *a" in done.stdout


def test_a_tab_in_yaml_is_named_as_a_tab(tree: Path) -> None:
    campaign = tree / "campaign.yaml"
    rows = campaign.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, row in enumerate(rows) if row.startswith("deadline:"))
    rows[at] = "\t" + rows[at]
    campaign.write_text("".join(rows), encoding="utf-8")
    found = load_problems(tree)
    assert found == [
        f"{campaign}:{at + 1}: YAML error: found character that cannot start any token"
        " (a tab: YAML indents with spaces only)"
    ], found


@pytest.mark.parametrize("name", ["What-Changed.MD", "what-changed.markdown", "what-changed.Md"])
def test_a_step_file_not_ending_in_md_is_named_not_skipped(tree: Path, name: str) -> None:
    # Skipped silently, the step vanished and every step requiring it was reported instead.
    step = tree / STEP
    step.rename(step.with_name(name))
    found = load_problems(tree)
    assert found == [
        f"{step.with_name(name)}:0: not read: a guidance step's file is named <id>.md"
        " (lower-case .md)"
    ], found


def test_other_files_beside_the_steps_are_left_alone(tree: Path) -> None:
    (tree / "guidance" / "notes.txt").write_text("editor's notes", encoding="utf-8")
    (tree / "guidance" / ".what-changed.md.swp").write_bytes(b"\x00\x01")
    (tree / "guidance" / "what-changed.md~").write_text("backup", encoding="utf-8")
    load_content(tree)


@pytest.mark.parametrize("folder", ["Deutsch", "DE", "de_DE", "german"])
def test_a_locale_folder_not_named_by_its_language_code_is_named(tree: Path, folder: str) -> None:
    (tree / "locales" / "de").rename(tree / "locales" / folder)
    found = load_problems(tree)
    assert found == [
        f"{tree / 'locales' / folder}:0: not a language code: name a locale's folder by its"
        " code (de, fr, pt-BR)"
    ], found


def test_a_string_is_html_with_or_without_template_code(tree: Path) -> None:
    """A string without template code had its tags escaped (the merchant saw "<b>"), one
    with template code kept them: both are HTML now, and a button label is its text."""
    from bot.content.render import Renderer

    renderer = Renderer(load_content(tree))
    assert renderer.text("en", "typed_notices.delete_tap").startswith(
        "To erase everything, tap <b>Yes, delete everything</b>"
    )
    strings = tree / "locales" / "en" / "strings.yaml"
    text = strings.read_text(encoding="utf-8")
    text = text.replace("  done_many: Done ✓", "  done_many: Done &amp; next ✓", 1)
    strings.write_text(text, encoding="utf-8")
    renderer = Renderer(load_content(tree))
    assert renderer.plain("en", "buttons.done_many") == "Done & next ✓"


@pytest.mark.slow
def test_a_string_telegram_would_reject_is_named_at_its_line(small_tree: Path) -> None:
    strings = small_tree / "locales" / "en" / "strings.yaml"
    text = strings.read_text(encoding="utf-8")
    old = "  first_question: This is the first question,"
    assert old in text
    strings.write_text(text.replace(old, "  first_question: Q&A. This is the first question,"))
    _, problems = check(small_tree)
    line = line_of(strings, "Q&A. This is")
    assert [str(p) for p in problems] == [
        f'{strings}:{line}: Telegram would reject the HTML: Unescaped "&"; use "&amp;"'
    ]


def test_a_flag_s_condition_naming_no_option_fails_at_its_line(tree: Path) -> None:
    step = tree / "guidance" / "what-carries-over.md"
    text = step.read_text(encoding="utf-8")
    old = "    when: {platform: shopify, market: us}\n"
    assert old in text
    step.write_text(text.replace(old, "    when: {platform: shopfy, market: us}\n"))
    line = line_of(step, "platform: shopfy")
    found = load_problems(tree)
    assert len(found) == 1 and found[0].startswith(
        f"{step}:{line}: when: platform='shopfy' is not an option"
    ), found
