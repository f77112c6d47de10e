"""Which facts each guidance step cites, and which of them are past their review date.

A step cites a fact when its body or details read ``{{ facts.<path> }}`` (found in the
template's syntax tree, so comments and plain text do not count); a step reading a whole
group (``facts.fees.uk``) cites every fact in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from jinja2 import Environment, TemplateSyntaxError, nodes

from bot.content.loader import Content, Fact, Problem


def _chain(node: nodes.Node) -> tuple[str, ...] | None:
    """``facts.a.b`` / ``facts['a'].b`` as ('a', 'b'); None when not rooted at ``facts``."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Getitem):  # facts.fees[market]: the group up to here
            parts.clear()
            node = node.node
        else:
            break
    if isinstance(node, nodes.Name) and node.name == "facts":
        return tuple(reversed(parts))
    return None


def cited_paths(env: Environment, source: str) -> set[str]:
    """Dotted fact paths (or group prefixes) a template reads."""
    try:
        tree = env.parse(source)
    except TemplateSyntaxError:
        return set()
    inner: set[int] = set()
    found: list[nodes.Node] = []
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(access, (nodes.Getattr, nodes.Getitem))
        found.append(access)
        inner.add(id(access.node))
    paths: set[str] = set()
    for outer in found:
        if id(outer) in inner:
            continue
        chain = _chain(outer)
        if chain is not None:
            paths.add(".".join(chain))
    return paths


def expand(paths: Iterable[str], facts: Mapping[str, Fact]) -> set[str]:
    """Fact paths a set of cited paths covers (a group covers every fact below it)."""
    result: set[str] = set()
    for cited in paths:
        if not cited:
            result.update(facts)
            continue
        result.update(p for p in facts if p == cited or p.startswith(cited + "."))
    return result


@dataclass(frozen=True)
class FactUse:
    """One fact, the steps citing it, and whether it is past review."""

    fact: Fact
    steps: tuple[str, ...]
    overdue: bool
    age_days: int


class FactIndex:
    """Which steps cite which facts (computed once per content tree)."""

    def __init__(self, content: Content, env: Environment) -> None:
        self.content = content
        by_step: dict[str, set[str]] = {}
        for locale in content.locales.values():
            for step_id, text in locale.steps.items():
                cited = (
                    cited_paths(env, text.title)
                    | cited_paths(env, text.body)
                    | cited_paths(env, text.details)
                )
                by_step.setdefault(step_id, set()).update(expand(cited, content.fact_info))
        self.by_step: Mapping[str, frozenset[str]] = {
            step_id: frozenset(paths) for step_id, paths in by_step.items()
        }
        self._cited: dict[str, tuple[Fact, ...]] = {
            step_id: tuple(f for p, f in content.fact_info.items() if p in paths)
            for step_id, paths in self.by_step.items()
        }

    def cited_by(self, step_id: str) -> tuple[Fact, ...]:
        """The facts a step cites, in facts.yaml order."""
        return self._cited.get(step_id, ())

    def overdue(self, step_id: str, today: date) -> tuple[Fact, ...]:
        """The facts a step cites that are past their review date."""
        return tuple(f for f in self.cited_by(step_id) if f.overdue(today))

    def uses(self, today: date) -> list[FactUse]:
        """Every fact, oldest check first, with the steps citing it."""
        steps: dict[str, list[str]] = {}
        for step_id in sorted(self.by_step):
            for path in self.by_step[step_id]:
                steps.setdefault(path, []).append(step_id)
        rows = [
            FactUse(
                fact, tuple(steps.get(path, ())), fact.overdue(today), (today - fact.checked).days
            )
            for path, fact in self.content.fact_info.items()
        ]
        rows.sort(key=lambda u: (u.fact.checked, u.fact.path))
        return rows


def format_day(day: date) -> str:
    """2026-12-01: dates in editors' output are ISO, like in facts.yaml."""
    return day.isoformat()


def review_warnings(content: Content, index: FactIndex, today: date) -> list[Problem]:
    """One warning per fact past its review date (``content check`` does not fail on them)."""
    path = content.root / "facts.yaml"
    warnings: list[Problem] = []
    for use in index.uses(today):
        if not use.overdue:
            continue
        fact = use.fact
        cited = ", ".join(use.steps) or "no step"
        warnings.append(
            Problem(
                path,
                fact.line,
                f"warning: {fact.path} ({fact.value!r}) was last confirmed"
                f" {format_day(fact.checked)}, review was due {format_day(fact.review_by)}:"
                f" re-check it and set `_checked` (cited by {cited})",
            )
        )
    return warnings
