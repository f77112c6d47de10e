"""Translation status per locale: missing keys, templates and steps, stale ones, coverage;
and ``--stamp`` to record which English text a translation was made from.

A translated step records ``source:`` (the :func:`~bot.content.loader.source_hash` of the
English title, body, details and flag texts it was translated from) and ``version:`` (the English
step's version then). When the English text changes, the translation is *stale* (a warning
for translators); when the English ``version`` is raised (a factual change), it is
*outdated* and merchants read the English text with a note until it is translated again.

Translated strings keys and templates record theirs in ``locales/<lang>/translated_from.yaml``
(:data:`~bot.content.loader.TRANSLATED_FROM`): the :func:`~bot.content.loader.value_hash` of
the English value per dotted key and of the English file per template. The strings files
and templates stay exactly what translation platforms read and write.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.loader import (
    DEFAULT_LOCALE,
    TRANSLATED_FROM,
    Content,
    Locale,
    Problem,
    value_hash,
)
from bot.content.values import Text

#: Mappings whose keys are words of their language ("christmas: 12-25", "weihnachten:
#: 12-24"): translated as one whole, not key by key.
WORD_MAPS = frozenset({"typed_dates.days"})


def leaf_keys(node: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every dotted key of a strings mapping that holds text (or a list of words)."""
    for key, value in node.items():
        here = f"{prefix}{key}"
        if isinstance(value, Mapping) and here not in WORD_MAPS:
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
    stale_keys: list[str] = field(default_factory=list)  # English value changed
    unstamped_keys: list[str] = field(default_factory=list)  # not in translated_from.yaml
    stale_templates: list[str] = field(default_factory=list)
    unstamped_templates: list[str] = field(default_factory=list)
    total: int = 0
    done: int = 0

    @property
    def coverage(self) -> float:
        """Share of keys, templates and steps translated and current (0-100)."""
        return 100.0 * self.done / self.total if self.total else 100.0

    @property
    def percent(self) -> str:
        """Coverage for reading, rounded down: 100% only when nothing is left to do."""
        return f"{math.floor(self.coverage)}%"


def _templates(folder: Path) -> set[str]:
    """Template files by path under ``templates/`` (``broadcasts/<name>.html.j2`` too)."""
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.j2") if p.is_file()}


def _english_values(content: Content) -> dict[str, Any]:
    """Every English strings key with its value (text or list of words)."""
    english = content.locales[DEFAULT_LOCALE]
    return {key: english.lookup(key) for key in leaf_keys(english.strings)}


def _template_hashes(folder: Path, names: set[str]) -> dict[str, str]:
    return {name: value_hash((folder / name).read_text(encoding="utf-8")) for name in names}


def _state(recorded: str | None, current: str) -> str:
    if recorded is None:
        return "unstamped"
    return "current" if recorded == current else "stale"


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
    english_values = _english_values(content)
    english_keys = sorted(english_values)
    english_templates = _templates(english.template_dir)
    template_hashes = _template_hashes(english.template_dir, english_templates)
    rows = []
    for code in content.shipped:
        if code == DEFAULT_LOCALE:
            continue
        locale = content.locales[code]
        row = LocaleStatus(code)
        have = set(leaf_keys(locale.strings))
        row.missing_keys = [k for k in english_keys if k not in have]
        translated_templates = _templates(locale.template_dir)
        row.missing_templates = sorted(english_templates - translated_templates)
        for key in english_keys:
            if key in have:
                state = _state(locale.key_sources.get(key), value_hash(english_values[key]))
                if state == "stale":
                    row.stale_keys.append(key)
                elif state == "unstamped":
                    row.unstamped_keys.append(key)
        for name in sorted(english_templates & translated_templates):
            state = _state(locale.template_sources.get(name), template_hashes[name])
            if state == "stale":
                row.stale_templates.append(name)
            elif state == "unstamped":
                row.unstamped_templates.append(name)
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
            + len(row.stale_keys)
            + len(row.stale_templates)
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
        locale = content.locales[row.code]
        for key in row.stale_keys:
            file, line = locale.key_lines[key]
            found.append(
                Problem(
                    file,
                    line,
                    f"warning: the English text of {key!r} changed since it was translated:"
                    " review the translation, then run"
                    f" `content translations --stamp {row.code} --force {key}`",
                )
            )
        for name in row.stale_templates:
            found.append(
                Problem(
                    locale.template_dir / name,
                    1,
                    f"warning: the English template {name} changed since it was translated:"
                    " review the translation, then run"
                    f" `content translations --stamp {row.code} --force {name}`",
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


def _forced(name: str, force: tuple[str, ...]) -> bool:
    """A strings key is forced by its own name or a dotted prefix (``questions.market``)."""
    return any(name == item or name.startswith(item + ".") for item in force)


def _yaml_key(name: str) -> str:
    """A key as YAML reads it back as that text (``"no"`` quoted, ``a.b`` not)."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", name)
    return name if plain and yaml.safe_load(name) == name else json.dumps(name)


def _stamp_sidecar(content: Content, locale: Locale, force: tuple[str, ...]) -> Path | None:
    """Rewrite ``translated_from.yaml``: keep what is recorded, record the current English
    for what is not (and for the ``force``d keys and templates). None when unchanged."""
    english = content.locales[DEFAULT_LOCALE]
    english_values = _english_values(content)
    have = set(leaf_keys(locale.strings))
    keys = {}
    for key in sorted(english_values):
        if key not in have:
            continue
        recorded = locale.key_sources.get(key)
        keys[key] = (
            recorded
            if recorded is not None and not _forced(key, force)
            else value_hash(english_values[key])
        )
    names = sorted(_templates(english.template_dir) & _templates(locale.template_dir))
    current = _template_hashes(english.template_dir, set(names))
    templates = {}
    for name in names:
        recorded = locale.template_sources.get(name)
        templates[name] = recorded if recorded is not None and name not in force else current[name]
    path = locale.template_dir.parent / TRANSLATED_FROM
    text = (
        "# Which English text each translated string and template was made from (a short hash\n"
        "# of the English value or file). Written by `python -m bot content translations"
        f" --stamp {locale.code}`:\n"
        "# do not edit by hand, and leave this file out of translation platforms.\n"
        "strings:\n"
        + "".join(f"  {_yaml_key(k)}: '{v}'\n" for k, v in keys.items())
        + "templates:\n"
        + "".join(f"  {_yaml_key(k)}: '{v}'\n" for k, v in templates.items())
    )
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return None
    path.write_text(text, encoding="utf-8")
    return path


def stamp(content: Content, code: str, force: tuple[str, ...] = ()) -> list[Path]:
    """Record the current English text a translation of ``code`` was made from wherever
    none is recorded: the ``source`` hash in translated steps, ``translated_from.yaml`` for
    strings keys and templates. ``force`` (step ids, strings keys or their dotted prefixes,
    template names), after a review, records the current English for those too. Returns
    the files changed."""
    locale = content.locales.get(code)
    if locale is None or code == DEFAULT_LOCALE:
        raise ValueError(f"no translated locale {code!r} (have: {', '.join(content.shipped)})")
    english = content.locales[DEFAULT_LOCALE]
    known_keys = set(leaf_keys(english.strings))
    known_templates = _templates(english.template_dir)
    for item in force:
        if not (
            item in locale.steps
            or item in known_templates
            or any(_forced(key, (item,)) for key in known_keys)
        ):
            raise ValueError(
                f"--force {item}: no translated step, strings key or template of that name"
            )
    changed = []
    for step_id, text in sorted(locale.steps.items()):
        _, source = locale.sources.get(step_id, (0, None))
        if source is not None and step_id not in force:
            continue
        raw = text.path.read_text(encoding="utf-8")
        head, sep, rest = raw.partition("\n---")
        head = _SOURCE_LINE.sub("", head + "\n")
        digest = content.english_source(step_id)
        line = f"source: {digest if yaml.safe_load(digest) == digest else repr(digest)}\n"
        if step_id in force:  # reviewed against the current English: its version too
            version = content.step_index[step_id].version
            head = re.sub(r"^version:.*$", f"version: {version}", head, flags=re.MULTILINE)
        head = _VERSION_LINE.sub(_after_version(line), head, count=1)
        head = head.rstrip("\n")
        text.path.write_text(head + sep + rest, encoding="utf-8")
        changed.append(text.path)
    sidecar = _stamp_sidecar(content, locale, force)
    if sidecar is not None:
        changed.append(sidecar)
    return changed


def report(rows: list[LocaleStatus]) -> tuple[list[str], int]:
    """``content translations``: lines per locale, and exit 1 if anything is missing/stale."""
    lines: list[str] = []
    bad = 0
    for row in rows:
        lines.append(
            f"{row.code}: {row.percent} ({row.done}/{row.total});"
            f" missing: {len(row.missing_keys)} keys, {len(row.missing_templates)} templates,"
            f" {len(row.missing_steps)} steps; stale: {len(row.stale_steps)};"
            f" outdated: {len(row.outdated_steps)}; unstamped: {len(row.unstamped_steps)};"
            f" facts in English: {len(row.english_facts)};"
            f" flags untranslated: {len(row.missing_flags)};"
            f" stale keys: {len(row.stale_keys)}; stale templates: {len(row.stale_templates)};"
            f" unstamped keys: {len(row.unstamped_keys)},"
            f" templates: {len(row.unstamped_templates)}"
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
            ("stale keys (English text changed since translated)", row.stale_keys),
            ("stale templates (English text changed since translated)", row.stale_templates),
            ("unstamped keys (run --stamp after translating)", row.unstamped_keys),
            ("unstamped templates (run --stamp after translating)", row.unstamped_templates),
        ):
            if items:
                lines.append(f"  {title}:")
                lines.extend(f"    {item}" for item in items)
        if row.missing_keys or row.missing_templates or row.missing_steps or row.missing_flags:
            bad += 1
        if row.stale_steps or row.outdated_steps or row.stale_keys or row.stale_templates:
            bad += 1
    if not rows:
        lines.append("no translated locales")
    return lines, 1 if bad else 0
