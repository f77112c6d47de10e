"""Plan selection: which guidance steps apply to a merchant, in what order, and why (pure)."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from bot.domain.interview import Answer, Conditions, matches

Scope = Literal["general", "platform", "market"]
SCOPE_RANK: Mapping[str, int] = {"general": 0, "market": 1, "platform": 2}


@dataclass(frozen=True)
class Source:
    """Where a fact comes from."""

    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Flag:
    """A fact the merchant must see as uncertain."""

    kind: Literal["unverified", "disputed"]
    text: str


@dataclass(frozen=True)
class Step:
    """One guidance step (metadata only; its text is rendered from content)."""

    id: str
    version: int
    title: str
    scope: Scope
    when: Conditions = field(default_factory=dict)
    unless: Conditions = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    minutes: int = 15
    sources: tuple[Source, ...] = ()
    checked: date | None = None
    flags: tuple[Flag, ...] = ()
    order: int = 100


def applies(step: Step, answers: Mapping[str, Answer]) -> bool:
    """Whether the step is for this merchant."""
    if step.when and not matches(step.when, answers):
        return False
    return not (step.unless and matches(step.unless, answers))


def reasons(step: Step, answers: Mapping[str, Answer]) -> dict[str, list[str]]:
    """The answers that made the step apply: question id -> the matching option ids."""
    found: dict[str, list[str]] = {}
    for key, allowed in step.when.items():
        value = answers.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        hits = [v for v in values if v in allowed]
        if hits:
            found[key] = hits
    return found


def select(steps: Sequence[Step], answers: Mapping[str, Answer]) -> list[Step]:
    """The applicable steps, each after the applicable steps it requires.

    Ties go to the explicit ``order``, then general before market before platform, then
    the id, so the plan is stable. Prerequisites that do not apply are ignored.
    """
    chosen = {s.id: s for s in steps if applies(s, answers)}
    indegree = dict.fromkeys(chosen, 0)
    children: dict[str, list[str]] = {sid: [] for sid in chosen}
    for step in chosen.values():
        for req in step.requires:
            if req in chosen:
                indegree[step.id] += 1
                children[req].append(step.id)

    def key(sid: str) -> tuple[int, int, str]:
        step = chosen[sid]
        return (step.order, SCOPE_RANK[step.scope], sid)

    ready = [(key(sid), sid) for sid, deg in indegree.items() if deg == 0]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        _, sid = heapq.heappop(ready)
        ordered.append(chosen[sid])
        for child in children[sid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, (key(child), child))
    if len(ordered) != len(chosen):  # a cycle: content check refuses these, be safe anyway
        seen = {s.id for s in ordered}
        ordered.extend(
            sorted((s for s in chosen.values() if s.id not in seen), key=lambda s: s.id)
        )
    return ordered


def find_cycle(steps: Sequence[Step]) -> list[str] | None:
    """A prerequisite cycle among the steps (as a list of ids), or None."""
    graph = {s.id: list(s.requires) for s in steps}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


@dataclass(frozen=True)
class Mark:
    """A merchant's mark on a step."""

    status: Literal["done", "skipped"]
    version: int


@dataclass(frozen=True)
class Progress:
    """Where a merchant stands in their plan."""

    steps: tuple[Step, ...]
    marks: Mapping[str, Mark]

    @property
    def total(self) -> int:
        """Steps in the plan."""
        return len(self.steps)

    @property
    def done(self) -> int:
        """Steps marked done."""
        return sum(1 for s in self.steps if self.status(s.id) == "done")

    @property
    def skipped(self) -> int:
        """Steps skipped."""
        return sum(1 for s in self.steps if self.status(s.id) == "skipped")

    @property
    def closed(self) -> int:
        """Steps done or skipped."""
        return self.done + self.skipped

    def status(self, step_id: str) -> Literal["open", "done", "skipped"]:
        """The merchant's mark on a step, or open."""
        mark = self.marks.get(step_id)
        return mark.status if mark else "open"

    def updated_since(self, step: Step) -> bool:
        """The step changed after the merchant marked it."""
        mark = self.marks.get(step.id)
        return mark is not None and mark.version < step.version

    def next_open(self, after: str | None = None) -> Step | None:
        """The first open step (after ``after`` if given, wrapping round)."""
        items = list(self.steps)
        if after is not None:
            ids = [s.id for s in items]
            if after in ids:
                cut = ids.index(after) + 1
                items = items[cut:] + items[:cut]
        return next((s for s in items if self.status(s.id) == "open"), None)

    def position(self, step_id: str) -> int:
        """1-based position of the step in the plan (0 if not in it)."""
        for index, step in enumerate(self.steps, start=1):
            if step.id == step_id:
                return index
        return 0

    @property
    def finished(self) -> bool:
        """Every step is done or skipped."""
        return self.total > 0 and self.closed == self.total


class Selector:
    """Fast applicability for many answer sets at once (the content check walks them all).

    Each step's conditions become bit masks per (question, option), so deciding which
    steps apply to one merchant is a handful of integer ANDs instead of a loop over steps.
    """

    def __init__(self, steps: Sequence[Step], options: Mapping[str, Sequence[str]]) -> None:
        self.steps = tuple(steps)
        everyone = (1 << len(self.steps)) - 1
        self.keys = tuple(options)
        self._when: dict[tuple[str, str], int] = {}
        self._unless: dict[tuple[str, str], int] = {}
        self._when_neutral: dict[str, int] = {}
        self._unless_neutral: dict[str, int] = {}
        self._has_unless = 0
        for index, step in enumerate(self.steps):
            if step.unless:
                self._has_unless |= 1 << index
        for key, values in options.items():
            neutral_when = neutral_unless = 0
            for index, step in enumerate(self.steps):
                bit = 1 << index
                if key not in step.when:
                    neutral_when |= bit
                if key not in step.unless:
                    neutral_unless |= bit
            self._when_neutral[key] = neutral_when
            self._unless_neutral[key] = neutral_unless
            for value in values:
                when_bits = unless_bits = 0
                for index, step in enumerate(self.steps):
                    bit = 1 << index
                    if key in step.when and value in step.when[key]:
                        when_bits |= bit
                    if key in step.unless and value in step.unless[key]:
                        unless_bits |= bit
                self._when[(key, value)] = when_bits
                self._unless[(key, value)] = unless_bits
        self._everyone = everyone

    def _matched(self, table: dict[tuple[str, str], int], key: str, value: Answer) -> int:
        values = value if isinstance(value, list) else [value] if value is not None else []
        bits = 0
        for v in values:
            bits |= table.get((key, v), 0)
        return bits

    def mask(self, answers: Mapping[str, Answer]) -> int:
        """Bit i set when step i applies to these answers (same result as ``applies``)."""
        when = self._everyone
        unless = self._has_unless
        for key in self.keys:
            value = answers.get(key)
            when &= self._when_neutral[key] | self._matched(self._when, key, value)
            unless &= self._unless_neutral[key] | self._matched(self._unless, key, value)
        return when & ~unless
