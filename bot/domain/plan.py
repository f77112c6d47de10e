"""Plan selection: which guidance steps apply to a merchant, in what order, and why (pure)."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

from bot.domain.interview import Answer, Conditions, matches, only_matches, options_picked

Scope = Literal["general", "platform", "market"]
SCOPE_RANK: Mapping[str, int] = {"general": 0, "market": 1, "platform": 2}
#: blocker: a fact that stops or changes the move (first, acknowledged, not counted);
#: step: the work (counted); background: optional reading (last, not counted).
Kind = Literal["blocker", "step", "background"]
KIND_RANK: Mapping[str, int] = {"blocker": 0, "step": 1, "background": 2}


@dataclass(frozen=True)
class Source:
    """Where a fact comes from."""

    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Flag:
    """A fact the merchant must see as uncertain (``when``: only merchants whose answers
    match, as a step's ``when``)."""

    kind: Literal["unverified", "disputed"]
    text: str
    when: Conditions = field(default_factory=dict)


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
    kind: Kind = "step"
    #: Names other steps' ``excludes`` / ``conflicts`` may use for a group of steps.
    tags: frozenset[str] = frozenset()
    #: Steps (ids or tags) left out of the plan whenever this step is in it.
    excludes: tuple[str, ...] = ()
    #: Steps (ids or tags) that contradict this one: ``content check`` proves no plan has both.
    conflicts: tuple[str, ...] = ()
    #: Like ``when``, but every option picked must be listed (several-answer questions).
    only: Conditions = field(default_factory=dict)
    #: Platform options this step may name to merchants on another platform (a neutral
    #: mention, e.g. "as on Shopify, ..."): ``content check`` allows them (see
    #: Checker.platform_mentions).
    mentions: frozenset[str] = frozenset()

    @property
    def names(self) -> frozenset[str]:
        """The names ``excludes`` and ``conflicts`` can reach this step by."""
        return self.tags | {self.id}

    @property
    def counted(self) -> bool:
        """Part of the progress count (blockers and background are not)."""
        return self.kind == "step"


def applies(step: Step, answers: Mapping[str, Answer]) -> bool:
    """Whether the step's own conditions hold (``excludes`` of other steps aside)."""
    if step.when and not matches(step.when, answers):
        return False
    if step.only and not only_matches(step.only, answers):
        return False
    return not (step.unless and matches(step.unless, answers))


def reasons(step: Step, answers: Mapping[str, Answer]) -> dict[str, list[str]]:
    """The answers that made the step apply: question id -> the matching option ids."""
    found: dict[str, list[str]] = {}
    for conditions in (step.when, step.only):
        for key, allowed in conditions.items():
            hits = [v for v in options_picked(answers.get(key)) if v in allowed]
            if hits:
                found.setdefault(key, [])
                found[key].extend(h for h in hits if h not in found[key])
    return found


def excluded(steps: Sequence[Step]) -> set[str]:
    """Ids of the steps that another of ``steps`` excludes."""
    names: set[str] = set()
    for step in steps:
        names.update(step.excludes)
    if not names:
        return set()
    return {s.id for s in steps if s.names & names}


def conflicts_in(steps: Sequence[Step]) -> list[tuple[str, str]]:
    """Pairs (declaring step, other step) in ``steps`` that its ``conflicts`` names."""
    found: list[tuple[str, str]] = []
    for step in steps:
        if not step.conflicts:
            continue
        names = set(step.conflicts)
        found.extend((step.id, other.id) for other in steps if other.names & names)
    return found


def select(steps: Sequence[Step], answers: Mapping[str, Answer]) -> list[Step]:
    """The applicable steps, each after the applicable steps it requires.

    Steps another applicable step ``excludes`` are left out. Blockers come first, then the
    steps, then background; within a kind, ties go to the explicit ``order``, then general
    before market before platform, then the id, so the plan is stable. Prerequisites that
    do not apply (or are of another kind) are ignored.
    """
    candidates = [s for s in steps if applies(s, answers)]
    dropped = excluded(candidates)
    return order_steps([s for s in candidates if s.id not in dropped])


def order_steps(steps: Sequence[Step]) -> list[Step]:
    """``steps`` (all in the plan) in plan order: by kind, then prerequisites first."""
    ordered: list[Step] = []
    for kind in KIND_RANK:
        ordered.extend(_topological([s for s in steps if s.kind == kind]))
    return ordered


def _topological(steps: Sequence[Step]) -> list[Step]:
    chosen = {s.id: s for s in steps}
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

    @cached_property
    def counted(self) -> tuple[Step, ...]:
        """The steps progress counts (blockers and background are outside it)."""
        return tuple(s for s in self.steps if s.counted)

    @property
    def blockers(self) -> tuple[Step, ...]:
        """Blocking facts in the plan."""
        return tuple(s for s in self.steps if s.kind == "blocker")

    @property
    def total(self) -> int:
        """Steps in the progress count."""
        return len(self.counted)

    @property
    def done(self) -> int:
        """Counted steps marked done."""
        return sum(1 for s in self.counted if self.status(s.id) == "done")

    @property
    def skipped(self) -> int:
        """Counted steps skipped."""
        return sum(1 for s in self.counted if self.status(s.id) == "skipped")

    @property
    def minutes_total(self) -> int:
        """Estimated minutes of every counted step."""
        return sum(s.minutes for s in self.counted)

    @property
    def minutes_left(self) -> int:
        """Estimated minutes of the counted steps still open."""
        return sum(s.minutes for s in self.counted if self.status(s.id) == "open")

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
        """The first open blocker or step (after ``after`` if given, wrapping round);
        background is optional reading and never "next"."""
        items = [s for s in self.steps if s.kind != "background"]
        if after is not None:
            ids = [s.id for s in items]
            if after in ids:
                cut = ids.index(after) + 1
                items = items[cut:] + items[:cut]
        return next((s for s in items if self.status(s.id) == "open"), None)

    def position(self, step_id: str) -> int:
        """1-based position of a counted step among the counted steps (0 otherwise)."""
        for index, step in enumerate(self.counted, start=1):
            if step.id == step_id:
                return index
        return 0

    @property
    def finished(self) -> bool:
        """Every counted step is done or skipped and every blocker acknowledged."""
        acknowledged = all(self.status(s.id) != "open" for s in self.blockers)
        return self.total > 0 and self.closed == self.total and acknowledged


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
        # ``only``: steps with an only-condition on a key, and per (key, option) the steps
        # that option breaks (picked but not listed).
        self._only_on: dict[str, int] = {}
        self._only_breaks: dict[tuple[str, str], int] = {}
        # ``excludes``: per excluding step, the steps it removes.
        self._excludes: list[tuple[int, int]] = []
        for index, step in enumerate(self.steps):
            if step.unless:
                self._has_unless |= 1 << index
            if step.excludes:
                names = set(step.excludes)
                removed = 0
                for other_index, other in enumerate(self.steps):
                    if other.names & names:
                        removed |= 1 << other_index
                self._excludes.append((1 << index, removed))
        for key, values in options.items():
            on = 0
            for index, step in enumerate(self.steps):
                if key in step.only:
                    on |= 1 << index
                    for value in values:
                        if value not in step.only[key]:
                            breaks = self._only_breaks.get((key, value), 0)
                            self._only_breaks[(key, value)] = breaks | 1 << index
            if on:
                self._only_on[key] = on
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
        """Bit i set when step i applies to these answers (same result as ``select``)."""
        partial = self.start()
        for key in self.keys:
            partial = self.advance(partial, key, answers.get(key))
        return self.finish(partial)

    def start(self) -> tuple[int, int]:
        """The state before any answer: (steps whose conditions still hold, steps whose
        ``unless`` still holds). Feed answers with :meth:`advance`, then :meth:`finish`."""
        return self._everyone, self._has_unless

    def advance(self, partial: tuple[int, int], key: str, value: Answer) -> tuple[int, int]:
        """The state after the answer to ``key`` (every key must be fed exactly once)."""
        when, unless = partial
        when &= self._when_neutral[key] | self._matched(self._when, key, value)
        unless &= self._unless_neutral[key] | self._matched(self._unless, key, value)
        on = self._only_on.get(key)
        if on:
            if value is None or value == []:
                when &= ~on
            else:
                when &= ~self._matched(self._only_breaks, key, value)
        return when, unless

    def finish(self, partial: tuple[int, int]) -> int:
        """The plan's mask once every key was fed (``excludes`` applied)."""
        when, unless = partial
        chosen = when & ~unless
        removed = 0
        for bit, drops in self._excludes:
            if chosen & bit:
                removed |= drops
        return chosen & ~removed
