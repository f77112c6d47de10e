"""Translation status per locale: missing keys, templates and steps, stale steps, coverage;
and ``--stamp`` to record which English text a translation was made from.

A translated step records ``source:`` (the :func:`~bot.content.loader.source_hash` of the
English title, body and details it was translated from) and ``version:`` (the English
step's version then). When the English text changes, the translation is *stale* (a warning
for translators); when the English ``version`` is raised (a factual change), it is
*outdated* and merchants read the English text with a note until it is translated again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.loader import DEFAULT_LOCALE, Content, Problem, source_hash
from bot.content.values import Text


def leaf_keys(node: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted key of a strings mapping that holds text (or a list of words)."""
    for key, value in node.items():
        here = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaf_keys(value, here + ".")
        else:
            yield here


@dataclass
class LocaleStatus:
    """One locale's translation status."""

    code: str
    missing_keys: list[str] = field(default_factory=list)
    missing_templates: list[str] = field(default_factory=list)
    missing_steps: list[str] = field(default_factory=list)
    outdated_steps: list[str] = field(default_factory=list)  # English version raised
    stale_steps: list[str] = field(default_factory=list)  # English text changed
    unstamped_steps: list[str] = field(default_factory=list)  # no `source:` recorded
    english_facts: list[str] = field(default_factory=list)  # facts shown in English
    missing_flags: list[str] = field(default_factory=list)  # steps with flags untranslated
    total: int = 0
    done: int = 0

    @property
    def coverage(self) -> float:
        """Share of keys, templates and steps translated and current (0-100)."""
        return 100.0 * self.done / self.total if self.total else 100.0


def _templates(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.j2")} if folder.is_dir() else set()


def english_facts(content: Content, code: str) -> list[str]:
    """Facts that would show English words in ``code``: untyped text with words and no
    text of that language."""
    found = []
    for path, fact in content.fact_info.items():
        typed = fact.typed
        if typed is None:
            continue
        if typed.english_only or (isinstance(typed, Text) and typed.missing(code)):
            found.append(path)
    return found


def status(content: Content) -> list[LocaleStatus]:
    """The status of every locale but English."""
    english = content.locales[DEFAULT_LOCALE]
    english_keys = sorted(leaf_keys(english.strings))
    english_templates = _templates(english.template_dir)
    rows = []
    for code in content.shipped:
        if code == DEFAULT_LOCALE:
            continue
        locale = content.locales[code]
        row = LocaleStatus(code)
        have = set(leaf_keys(locale.strings))
        row.missing_keys = [k for k in english_keys if k not in have]
        row.missing_templates = sorted(english_templates - _templates(locale.template_dir))
        for step in content.steps:
            state = content.translation_state(code, step.id)
            target = {
                "missing": row.missing_steps,
                "outdated": row.outdated_steps,
                "stale": row.stale_steps,
                "unstamped": row.unstamped_steps,
            }.get(state)
            if target is not None:
                target.append(step.id)
        row.english_facts = english_facts(content, code)
        row.missing_flags = [
            step.id
            for step in content.steps
            if step.flags
            and step.id in locale.steps
            and len(locale.flags.get(step.id, ())) != len(step.flags)
        ]
        row.total = (
            len(english_keys)
            + len(english_templates)
            + len(content.steps)
            + sum(1 for step in content.steps if step.flags)
        )
        not_done = (
            len(row.missing_keys)
            + len(row.missing_templates)
            + len(row.missing_steps)
            + len(row.outdated_steps)
            + len(row.stale_steps)
            + len(row.missing_flags)
        )
        row.done = row.total - not_done
        rows.append(row)
    return rows


def warnings(content: Content) -> list[Problem]:
    """``content check`` warnings (never failures): stale translations, English facts."""
    found: list[Problem] = []
    for row in status(content):
        folder = content.root / "locales" / row.code / "guidance"
        for step_id in row.outdated_steps:
            found.append(
                Problem(
                    folder / f"{step_id}.md",
                    1,
                    f"warning: translation of {step_id!r} is of an older version than the"
                    " English one: merchants read the English text until it is updated",
                )
            )
        for step_id in row.stale_steps:
            found.append(
                Problem(
                    folder / f"{step_id}.md",
                    1,
                    f"warning: the English text of {step_id!r} changed since it was"
                    " translated: review the translation, then run"
                    f" `content translations --stamp {row.code} --force {step_id}`",
                )
            )
        for path in row.english_facts:
            fact = content.fact_info[path]
            found.append(
                Problem(
                    content.root / "facts.yaml",
                    fact.line,
                    f"warning: {path} ({fact.value!r}) shows English text in {row.code}:"
                    " write it as a typed value or give it a text per language"
                    " ({value: {en: ..., " + row.code + ": ...}})",
                )
            )
    return found


_SOURCE_LINE = re.compile(r"^source:.*\n", re.MULTILINE)
_VERSION_LINE = re.compile(r"^(version:.*\n)", re.MULTILINE)


def _after_version(line: str) -> Callable[[re.Match[str]], str]:
    def add(found: re.Match[str]) -> str:
        return found.group(1) + line

    return add


def stamp(content: Content, code: str, force: tuple[str, ...] = ()) -> list[Path]:
    """Record the current English ``source`` hash in every translated step of ``code``
    that has none (and in the ``force``d ones, after a review). Returns the files changed."""
    locale = content.locales.get(code)
    if locale is None or code == DEFAULT_LOCALE:
        raise ValueError(f"no translated locale {code!r} (have: {', '.join(content.shipped)})")
    english = content.locales[DEFAULT_LOCALE]
    changed = []
    for step_id, text in sorted(locale.steps.items()):
        _, source = locale.sources.get(step_id, (0, None))
        if source is not None and step_id not in force:
            continue
        raw = text.path.read_text(encoding="utf-8")
        head, sep, rest = raw.partition("\n---")
        head = _SOURCE_LINE.sub("", head + "\n")
        line = f"source: {source_hash(english.steps[step_id])}\n"
        if step_id in force:  # reviewed against the current English: its version too
            version = content.step_index[step_id].version
            head = re.sub(r"^version:.*$", f"version: {version}", head, flags=re.MULTILINE)
        head = _VERSION_LINE.sub(_after_version(line), head, count=1)
        head = head.rstrip("\n")
        text.path.write_text(head + sep + rest, encoding="utf-8")
        changed.append(text.path)
    return changed


def report(rows: list[LocaleStatus]) -> tuple[list[str], int]:
    """``content translations``: lines per locale, and exit 1 if anything is missing/stale."""
    lines: list[str] = []
    bad = 0
    for row in rows:
        lines.append(
            f"{row.code}: {row.coverage:.0f}% ({row.done}/{row.total});"
            f" missing: {len(row.missing_keys)} keys, {len(row.missing_templates)} templates,"
            f" {len(row.missing_steps)} steps; stale: {len(row.stale_steps)};"
            f" outdated: {len(row.outdated_steps)}; unstamped: {len(row.unstamped_steps)};"
            f" facts in English: {len(row.english_facts)};"
            f" flags untranslated: {len(row.missing_flags)}"
        )
        for title, items in (
            ("missing keys", row.missing_keys),
            ("missing templates", row.missing_templates),
            ("missing steps", row.missing_steps),
            ("steps whose flags are not translated (front matter `flags:`)", row.missing_flags),
            ("outdated steps (English version raised: merchants see English)", row.outdated_steps),
            ("stale steps (English text changed since translated)", row.stale_steps),
            ("unstamped steps (run --stamp after translating)", row.unstamped_steps),
            ("facts shown in English", row.english_facts),
        ):
            if items:
                lines.append(f"  {title}:")
                lines.extend(f"    {item}" for item in items)
        if row.missing_keys or row.missing_templates or row.missing_steps or row.missing_flags:
            bad += 1
        if row.stale_steps or row.outdated_steps:
            bad += 1
    if not rows:
        lines.append("no translated locales")
    return lines, 1 if bad else 0
