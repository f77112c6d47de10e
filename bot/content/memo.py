"""Memoised rendering for ``content check``: never render the same thing twice.

The check renders every screen of every plan it walks (tens of thousands of renders, most
of them repeats: a step body that reads only the merchant's market renders the same text
for every status, origin and platform). This module lets the check reuse a render when,
and only when, the render cannot come out differently:

* **Frozen inputs.** Every context value of a render is turned into a hashable,
  type-tagged value (:func:`freeze`); two renders with equal frozen inputs get the same
  output, because a template render is a pure function of the template (fixed for one
  content tree), the content tree (fixed for one :class:`Renderer`) and its context.
* **Traced inputs.** The merchant's ``answers`` and the plan's ``progress`` vary on every
  path the check walks, but a template reads only a few of their entries. They are passed
  wrapped (:class:`TracedMapping`, :class:`TracedProgress`) and every read is recorded
  with the value it returned (a read the wrapper cannot describe finely, e.g. iterating
  over every answer, records the whole object). A later render whose static inputs are
  equal and whose traced objects give the same value for every recorded read reuses the
  output: a deterministic template that is fed the same value at every read it makes
  takes the same branches, makes the same reads and writes the same text. This is the
  "verifying trace" of build systems; :class:`TraceMemo` holds the traces.

Nothing here changes what a render returns: an input the freezer does not know makes the
render run uncached (:class:`Unfrozen`), and a render that raises is never remembered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from bot.domain.plan import Progress, Step

#: What a traced mapping's read records for a key it does not hold (no frozen value is a
#: 1-tuple, so it cannot stand for a value).
MISSING = ("<missing>",)
#: The "key" of a read that depended on the whole traced object.
WHOLE = "<whole>"

_ATOMS = (str, int, bool, type(None))
#: Types whose equal values may print differently (-0.0 and 0.0; the same instant in two
#: time zones): frozen by their repr, which tells them apart.
_BY_REPR = (float, date, datetime, timedelta)


class Unfrozen(TypeError):
    """A value :func:`freeze` cannot make hashable without losing what it holds."""


def freeze(value: Any) -> Any:
    """A hashable value equal for two inputs exactly when they render the same.

    The type is part of the result (``1``, ``True`` and ``1.0`` are equal in Python but
    render as ``1``, ``True`` and ``1.0``; ``Markup("<b>")`` is not escaped, ``"<b>"`` is);
    floats and dates by their repr (``-0.0 == 0.0``; equal instants in two time zones).
    Content steps are frozen by identity: one content tree holds one object per step.
    """
    kind = type(value)
    if kind in _ATOMS:
        return (kind.__name__, value)
    if kind in _BY_REPR:
        return (kind.__name__, repr(value))
    if isinstance(value, Markup):
        return ("Markup", str(value))
    if isinstance(value, str):  # a str subclass other than Markup: keep its type
        return (kind.__qualname__, str(value))
    if isinstance(value, list | tuple):
        return (kind.__name__, tuple(freeze(v) for v in value))
    if isinstance(value, frozenset | set):
        return (kind.__name__, frozenset(freeze(v) for v in value))
    if isinstance(value, Step):
        return ("Step", id(value))
    if isinstance(value, Progress):
        return (
            "Progress",
            tuple(id(s) for s in value.steps),
            tuple(sorted((k, m.status, m.version) for k, m in value.marks.items())),
        )
    if isinstance(value, Mapping):
        return (
            kind.__name__,
            tuple(sorted(((k, freeze(v)) for k, v in value.items()), key=lambda kv: kv[0])),
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(kind, "__dataclass_params__", None)
        if params is not None and params.frozen:
            return (
                kind.__qualname__,
                tuple(freeze(getattr(value, f.name)) for f in dataclasses.fields(value)),
            )
    raise Unfrozen(f"cannot freeze {kind.__qualname__}")


Read = tuple[str, str, Any]  # (context name, key or attribute or WHOLE, frozen value)


class TracedMapping(Mapping[str, Any]):
    """A read-only view of a mapping (the answers) that notes every key a template reads.

    ``answers.market``, ``answers['market']``, ``answers.get('market')`` and ``'market' in
    answers`` record the one key; anything that sees every key (iterating, ``length``,
    ``items()``, printing it, comparing it) records the whole mapping.
    """

    __slots__ = ("_data", "_name", "_reads")

    def __init__(self, name: str, data: Mapping[str, Any], reads: list[Read]) -> None:
        self._name = name
        self._data = data
        self._reads = reads

    def _note(self, key: str) -> None:
        self._reads.append((self._name, key, _frozen_entry(self._data, key)))

    def _whole(self) -> None:
        self._reads.append((self._name, WHOLE, freeze(dict(self._data))))

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value for ``key`` (recorded), else ``default``."""
        self._note(key)
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            self._whole()
            return key in self._data
        self._note(key)
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        self._whole()
        return iter(self._data)

    def __len__(self) -> int:
        self._whole()
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        self._whole()
        return dict(self._data) == other

    __hash__ = None  # type: ignore[assignment]  # like the dict it stands for

    def __repr__(self) -> str:
        self._whole()
        return repr(dict(self._data))

    __str__ = __repr__


class TracedProgress:
    """A read-only stand-in for a :class:`Progress` that notes each attribute a template
    reads (``progress.total``, ``progress.done``) with its value; a method call (e.g.
    ``progress.status(id)``) or printing it records the whole progress."""

    __slots__ = ("_name", "_progress", "_reads")

    def __init__(self, name: str, progress: Progress, reads: list[Read]) -> None:
        self._name = name
        self._progress = progress
        self._reads = reads

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._progress, attr)
        try:
            frozen = freeze(value)
        except Unfrozen:  # a method: what it returns depends on everything
            self._reads.append((self._name, WHOLE, freeze(self._progress)))
        else:
            self._reads.append((self._name, attr, frozen))
        return value

    def __bool__(self) -> bool:
        return True  # a Progress defines neither __bool__ nor __len__: always true

    def __eq__(self, other: object) -> bool:
        self._reads.append((self._name, WHOLE, freeze(self._progress)))
        return self._progress == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        self._reads.append((self._name, WHOLE, freeze(self._progress)))
        return repr(self._progress)

    __str__ = __repr__


def is_traced(name: str, value: Any) -> bool:
    """Whether a context value is traced (the answers, a progress) rather than frozen."""
    return isinstance(value, Progress) or (name == "answers" and isinstance(value, Mapping))


def traced(name: str, value: Any, reads: list[Read]) -> Any:
    """``value`` wrapped to record reads, or None when it is not traced."""
    if isinstance(value, Progress):
        return TracedProgress(name, value, reads)
    if is_traced(name, value):
        return TracedMapping(name, value, reads)
    return None


def _frozen_entry(data: Mapping[str, Any], key: str) -> Any:
    return freeze(data[key]) if key in data else MISSING


def _replay(read: tuple[str, str], context: Mapping[str, Any]) -> Any:
    """The frozen value a read of (context name, key) would record against ``context``."""
    name, key = read
    value = context[name]
    if key == WHOLE:
        return freeze(dict(value) if isinstance(value, Mapping) else value)
    if isinstance(value, Progress):
        return freeze(getattr(value, key))
    return _frozen_entry(value, key)


class TraceMemo:
    """Outputs of earlier renders, each with the reads it made of its traced inputs.

    Entries under one static key are grouped by the reads they made (which keys and
    attributes, in order of first read); a lookup replays each group's reads against the
    new inputs once and finds the output by the values read, so a lookup costs a few
    reads and dictionary look-ups, however many renders are remembered.
    """

    #: After this many renders of one template, one that is nearly never reused (a plan
    #: page, whose items differ on every render) is rendered without the memo: freezing
    #: its inputs costs more than it saves. Skipping the memo never changes an output.
    TRIAL = 400

    def __init__(self) -> None:
        self._entries: dict[Any, dict[tuple[tuple[str, str], ...], dict[Any, str]]] = {}
        self._uses: dict[Any, list[int]] = {}
        self.hits = 0
        self.misses = 0

    def worth(self, template: Any) -> bool:
        """Whether renders of ``template`` are reused often enough to remember them."""
        uses = self._uses.get(template)
        return uses is None or uses[0] + uses[1] < self.TRIAL or uses[0] * 10 >= uses[1]

    def render(
        self,
        template: Any,
        static: Any,
        context: Mapping[str, Any],
        run: Callable[[dict[str, Any]], str],
    ) -> str:
        """``run(context)``, or the output of an earlier render it cannot differ from.

        ``static`` must freeze every input of the render (``template`` included) except
        the context values :func:`traced` wraps; ``run`` gets the context with those values
        wrapped.
        """
        uses = self._uses.setdefault(template, [0, 0])
        groups = self._entries.setdefault(static, {})
        replayed: dict[tuple[str, str], Any] = {}
        for signature, outputs in groups.items():
            values = []
            for read in signature:
                value = replayed.get(read)
                if value is None:
                    value = replayed[read] = _replay(read, context)
                values.append(value)
            output = outputs.get(tuple(values))
            if output is not None:
                self.hits += 1
                uses[0] += 1
                return output
        self.misses += 1
        uses[1] += 1
        reads: list[Read] = []
        wrapped = dict(context)
        for name, value in context.items():
            proxy = traced(name, value, reads)
            if proxy is not None:
                wrapped[name] = proxy
        try:
            output = run(wrapped)
        except Exception:
            # Not remembered; and raised by a render of the plain inputs, so an error
            # message reads exactly as without the memo (not naming a wrapper type).
            run(dict(context))
            raise
        # Each (object, key) once, in the order first read: the same read of unchanged
        # inputs returns the same value every time.
        first: dict[tuple[str, str], Any] = {}
        for name, key, value in reads:
            first.setdefault((name, key), value)
        groups.setdefault(tuple(first), {})[tuple(first.values())] = output
        return output


def split_context(context: Mapping[str, Any]) -> Any:
    """The frozen static part of a render's context (every value :func:`traced` does not
    wrap); raises :class:`Unfrozen` when one cannot be frozen."""
    return tuple(
        sorted(
            (name, freeze(value)) for name, value in context.items() if not is_traced(name, value)
        )
    )
