"""Issue #18, translation staleness beyond guidance steps: translated strings keys and
templates record which English text they were made from (``locales/<lang>/translated_from.yaml``),
``content translations`` reports the stale ones, ``content check`` warns about them, and
``--stamp`` marks them current."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.content import cli
from bot.content.loader import Content, load_content
from bot.content.translations import status, warnings
from tests.conftest import make_settings


def run(settings_dir: Path, stamp: str | None = None, force: tuple[str, ...] = ()) -> int:
    settings = make_settings("sqlite+aiosqlite:///:memory:", content_dir=settings_dir)
    args = argparse.Namespace(task="translations", stamp=stamp, force=list(force))
    return cli.main(args, settings)


def test_shipped_german_strings_and_templates_are_stamped_and_current(content: Content) -> None:
    (german,) = [row for row in status(content) if row.code == "de"]
    assert german.stale_keys == [] and german.unstamped_keys == []
    assert german.stale_templates == [] and german.unstamped_templates == []
    assert german.coverage == 100.0


def test_a_changed_english_string_or_template_makes_the_translation_stale(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(small_tree) == 0
    capsys.readouterr()
    english = small_tree / "locales" / "en"
    strings = english / "strings.yaml"
    strings.write_text(
        strings.read_text(encoding="utf-8").replace("  back: « Back\n", "  back: « Go back\n"),
        encoding="utf-8",
    )
    template = english / "templates" / "use_buttons.html.j2"
    template.write_text(
        template.read_text(encoding="utf-8").replace("I didn't catch that.", "Sorry?"),
        encoding="utf-8",
    )
    content = load_content(small_tree)
    (german,) = status(content)
    assert german.stale_keys == ["buttons.back"]
    assert german.stale_templates == ["use_buttons.html.j2"]
    assert german.coverage < 100.0
    assert run(small_tree) == 1
    out = capsys.readouterr().out
    assert "stale keys (English text changed since translated):\n    buttons.back" in out
    assert "stale templates (English text changed since translated):\n" in out
    # content check warns at the German file and line that holds the translation.
    found = {str(w) for w in warnings(content)}
    german_strings = small_tree / "locales" / "de" / "strings.yaml"
    line = german_strings.read_text(encoding="utf-8").splitlines().index("  back: « Zurück") + 1
    assert any(
        w.startswith(f"{german_strings}:{line}: warning: the English text of 'buttons.back'")
        and "--stamp de --force buttons.back" in w
        for w in found
    ), found
    german_template = small_tree / "locales" / "de" / "templates" / "use_buttons.html.j2"
    assert any(
        w.startswith(f"{german_template}:1: warning:") and "use_buttons.html.j2" in w
        for w in found
    ), found
    # A plain --stamp does not hide a stale translation; --force after the review does.
    assert run(small_tree, stamp="de") == 0
    assert status(load_content(small_tree))[0].stale_keys == ["buttons.back"]
    assert run(small_tree, stamp="de", force=("buttons.back", "use_buttons.html.j2")) == 0
    (german,) = status(load_content(small_tree))
    assert german.stale_keys == [] and german.stale_templates == []
    capsys.readouterr()
    assert run(small_tree) == 0


def test_a_forced_name_that_matches_nothing_is_an_error(small_tree: Path) -> None:
    with pytest.raises(ConfigError, match=r"--force buttons\.bakc"):
        run(small_tree, stamp="de", force=("buttons.bakc",))


def test_unstamped_strings_and_templates_are_listed_and_stamped(
    small_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sidecar = small_tree / "locales" / "de" / "translated_from.yaml"
    sidecar.unlink()
    (german,) = status(load_content(small_tree))
    assert "buttons.back" in german.unstamped_keys
    assert "use_buttons.html.j2" in german.unstamped_templates
    assert "broadcasts/check-in.html.j2" in german.unstamped_templates
    run(small_tree)
    assert "unstamped keys (run --stamp after translating)" in capsys.readouterr().out
    assert run(small_tree, stamp="de") == 0
    assert f"stamped {sidecar}" in capsys.readouterr().out
    (german,) = status(load_content(small_tree))
    assert german.unstamped_keys == [] and german.unstamped_templates == []


def test_a_broken_sidecar_fails_at_its_line(small_tree: Path) -> None:
    sidecar = small_tree / "locales" / "de" / "translated_from.yaml"
    sidecar.write_text("strings:\n  buttons.back: not-a-hash\n", encoding="utf-8")
    with pytest.raises(Exception) as failed:
        load_content(small_tree)
    assert f"{sidecar}:2:" in str(failed.value)


def test_a_changed_english_flag_makes_the_translated_step_stale(small_tree: Path) -> None:
    assert load_content(small_tree).translation_state("de", "what-changed") == "current"
    english = small_tree / "guidance" / "what-changed.md"
    text = english.read_text(encoding="utf-8")
    flag = load_content(small_tree).step_index["what-changed"].flags[0].text
    assert flag in text
    english.write_text(text.replace(flag, flag + " Sources disagree."), encoding="utf-8")
    content = load_content(small_tree)
    assert content.translation_state("de", "what-changed") == "stale"
    found = [str(w) for w in warnings(content)]
    assert any("'what-changed' changed since it was translated" in w for w in found)
    assert run(small_tree, stamp="de", force=("what-changed",)) == 0
    assert load_content(small_tree).translation_state("de", "what-changed") == "current"


def test_a_source_hash_of_digits_only_is_written_so_yaml_reads_it_back(
    small_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Content, "english_source", lambda self, step_id: "123456789012")
    assert run(small_tree, stamp="de", force=("what-changed",)) == 0
    content = load_content(small_tree)  # not "source: must be text, not 123456789012"
    assert content.locales["de"].sources["what-changed"] == (1, "123456789012")
