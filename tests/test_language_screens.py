"""Issue #18: `content check` renders the /language picker in every locale and validates it
like every other screen (HTML, length), with problems at the file and line of the string."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.check import Checker, check
from bot.content.loader import load_content


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def language_problems(tree: Path) -> list[str]:
    checker = Checker(load_content(tree))
    checker.language_screens()
    return [str(p) for p in checker.problems]


def test_the_shipped_language_screens_pass(small_tree: Path) -> None:
    assert language_problems(small_tree) == []


def test_a_broken_language_label_fails_at_its_file_and_line(small_tree: Path) -> None:
    path = small_tree / "locales" / "de" / "strings.language.yaml"
    broken = '  current: "Aktuelle Sprache: <b>{{ name }}."'
    replace(path, '  current: "Aktuelle Sprache: <b>{{ name }}</b>."', broken)
    found = language_problems(small_tree)
    assert any(
        p.startswith(f"{path}:{line_of(path, broken)}: Telegram would reject the HTML")
        for p in found
    ), found


def test_an_overlong_language_label_fails_at_its_file_and_line(small_tree: Path) -> None:
    path = small_tree / "locales" / "de" / "strings.language.yaml"
    long = "  choose: " + "Sprache? " * 500
    replace(path, "  choose: In welcher Sprache", long + " In welcher Sprache")
    found = language_problems(small_tree)
    line = line_of(
        path,
        long + " In welcher Sprache soll ich dir schreiben? Tippe auf eine;"
        " mit /language kannst du sie jederzeit ändern.",
    )
    assert any(p.startswith(f"{path}:{line}:") and "over Telegram's 4096" in p for p in found), (
        found
    )


@pytest.mark.parametrize("name", ["<b>Deutsch</b>", "{{ Deutsch }}", "Deutsch " * 10])
def test_a_broken_language_name_fails_at_its_file_and_line(small_tree: Path, name: str) -> None:
    path = small_tree / "locales" / "de" / "strings.yaml"
    replace(path, "language_name: Deutsch\n", f'language_name: "{name}"\n')
    found = language_problems(small_tree)
    assert any(p.startswith(f"{path}:3: language_name") for p in found), found


@pytest.mark.slow
def test_content_check_runs_the_language_screens(small_tree: Path) -> None:
    path = small_tree / "locales" / "de" / "strings.yaml"
    replace(path, "language_name: Deutsch\n", 'language_name: "<i>Deutsch</i>"\n')
    _, problems = check(small_tree)
    assert any(str(p).startswith(f"{path}:3: language_name") for p in problems), problems
