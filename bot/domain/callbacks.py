"""Callback data: one frozen dataclass per button kind, one codec, parsed strictly.

Every button the bot sends carries ``<version><code>[:<field>...]``, at most 64 bytes (e.g.
``1q:3:market:uk``). The wire format is stable: buttons already in merchants' chats keep
working across releases, and the version prefix lets a future format be told apart instead
of misread. Anything :func:`decode` does not recognise exactly — another version, an
unknown code, a wrong number of fields, a field out of its alphabet or range — is ``None``:
stale or forged, and it changes nothing.

Fields are ``str`` (``[a-z0-9_-]``, 1–40 characters), ``int`` (decimal digits, below
:data:`MAX_INT`) or a ``Literal`` of allowed words. Services ``match`` on the types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar, Literal, get_args, get_type_hints

VERSION = "1"
MAX_BYTES = 64
#: Integers in callback data stay far below a 32-bit signed column: a forged, oversized
#: id must be refused here, not overflow a query later.
MAX_INT = 2**31 - 1

_WORD = re.compile(r"^[a-z0-9_-]{1,40}$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")


@dataclass(frozen=True)
class Callback:
    """Base of every button kind; ``CODE`` is its one-character wire code."""

    CODE: ClassVar[str] = ""


# --- interview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choose(Callback):
    """Answer (or tick) ``option`` of ``question``, shown at interview position ``seq``."""

    CODE: ClassVar[str] = "q"
    seq: int
    question: str
    option: str


@dataclass(frozen=True)
class Confirm(Callback):
    """Finish a several-choice question."""

    CODE: ClassVar[str] = "Q"
    seq: int
    question: str


@dataclass(frozen=True)
class SkipQuestion(Callback):
    """Skip an optional question."""

    CODE: ClassVar[str] = "S"
    seq: int
    question: str


@dataclass(frozen=True)
class Back(Callback):
    """Go back to the previous question."""

    CODE: ClassVar[str] = "B"
    seq: int


@dataclass(frozen=True)
class EditAnswer(Callback):
    """Change one answer (from the profile)."""

    CODE: ClassVar[str] = "E"
    question: str


@dataclass(frozen=True)
class CancelEdit(Callback):
    """Leave a change of answers, keeping the answers as they were."""

    CODE: ClassVar[str] = "X"


# --- plan and steps -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShowPlan(Callback):
    """The plan, at the page of the next open step."""

    CODE: ClassVar[str] = "P"


@dataclass(frozen=True)
class PlanPage(Callback):
    """One page of the plan."""

    CODE: ClassVar[str] = "G"
    page: int


@dataclass(frozen=True)
class ShowProfile(Callback):
    """The merchant's answers."""

    CODE: ClassVar[str] = "F"


@dataclass(frozen=True)
class OpenStep(Callback):
    """Open one step of the plan."""

    CODE: ClassVar[str] = "O"
    step: str


StepMark = Literal["done", "skip", "undo", "details"]


@dataclass(frozen=True)
class MarkStep(Callback):
    """Done / skip / undo / details on a step."""

    CODE: ClassVar[str] = "M"
    step: str
    how: StepMark


@dataclass(frozen=True)
class NextStep(Callback):
    """The next open step."""

    CODE: ClassVar[str] = "N"


# --- features -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alerts(Callback):
    """A reminder-settings button: ``action`` with an optional ``value`` after its first ``-``.

    On the wire one field, ``<action>[-<value>]`` (``tz-berlin``, ``hour-9``, ``snooze-12``).
    """

    CODE: ClassVar[str] = "A"
    action: str
    value: str = ""

    def arg(self) -> str:
        """The wire field."""
        return f"{self.action}-{self.value}" if self.value else self.action


@dataclass(frozen=True)
class DeleteData(Callback):
    """Confirm (``yes``) or cancel (``no``) erasing one's data."""

    CODE: ClassVar[str] = "D"
    choice: Literal["yes", "no"]


@dataclass(frozen=True)
class Broadcasts(Callback):
    """ "Stop these messages" on an operator broadcast, and the way back (``resume``)."""

    CODE: ClassVar[str] = "b"
    action: Literal["stop", "resume"]


@dataclass(frozen=True)
class PickLanguage(Callback):
    """Write to me in this language (a shipped locale code, lower case: ``pt-br``)."""

    CODE: ClassVar[str] = "L"
    code: str


KINDS: tuple[type[Callback], ...] = (
    PickLanguage,
    Choose,
    Confirm,
    SkipQuestion,
    Back,
    EditAnswer,
    CancelEdit,
    ShowPlan,
    PlanPage,
    ShowProfile,
    OpenStep,
    MarkStep,
    NextStep,
    Alerts,
    DeleteData,
    Broadcasts,
)
_BY_CODE: dict[str, type[Callback]] = {kind.CODE: kind for kind in KINDS}


def _fields_of(kind: type[Callback]) -> tuple[tuple[str, Any], ...]:
    hints = get_type_hints(kind)
    return tuple((f.name, hints[f.name]) for f in fields(kind))


#: Each kind's fields and their types, read once.
_SCHEMA: dict[type[Callback], tuple[tuple[str, Any], ...]] = {
    kind: _fields_of(kind) for kind in KINDS
}


def _field_ok(value: str, hint: Any) -> bool:
    if hint is int:
        return bool(_DIGITS.match(value)) and int(value) <= MAX_INT
    if hint is str:
        return bool(_WORD.match(value))
    return value in get_args(hint)  # a Literal


def encode(button: Callback) -> str:
    """The wire form; ValueError when a field breaks its rule or the 64-byte limit."""
    kind = type(button)
    if isinstance(button, Alerts):
        parts: tuple[str, ...] = (button.arg(),)
    else:
        parts = tuple([str(getattr(button, name)) for name, _ in _SCHEMA[kind]])
    return _wire(kind.CODE, parts)


@lru_cache(maxsize=4096)
def _wire(code: str, parts: tuple[str, ...]) -> str:
    """The checked wire form of the fields (as text) of the kind with this ``code``.

    Remembered (a screen encodes a button per option, the same ones for every merchant;
    checking each field's rule was a sixth of building a screen): the result depends on
    nothing but the arguments, and a refusal raises again every time (not remembered).
    """
    kind = _BY_CODE[code]
    hints = [str] if issubclass(kind, Alerts) else [hint for _, hint in _SCHEMA[kind]]
    for part, hint in zip(parts, hints, strict=True):
        if not _field_ok(part, hint):
            raise ValueError(f"bad callback field for {kind.__name__}: {part!r}")
    data = VERSION + code + "".join(":" + part for part in parts)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data}")
    return data


@lru_cache(maxsize=4096)
def decode(data: str | None) -> Callback | None:
    """Parse callback data; None for anything this version did not produce."""
    if not data or len(data.encode()) > MAX_BYTES or not data.startswith(VERSION):
        return None
    head, _, rest = data[len(VERSION) :].partition(":")
    kind = _BY_CODE.get(head)
    if kind is None:
        return None
    parts = rest.split(":") if rest else []
    if kind is Alerts:
        if len(parts) != 1 or not _WORD.match(parts[0]):
            return None
        action, _, value = parts[0].partition("-")
        return Alerts(action, value) if action else None
    schema = _SCHEMA[kind]
    if len(parts) != len(schema):
        return None
    if not all(_field_ok(part, hint) for part, (_, hint) in zip(parts, schema, strict=True)):
        return None
    values = {
        name: int(part) if hint is int else part
        for part, (name, hint) in zip(parts, schema, strict=True)
    }
    return kind(**values)


def kinds(wanted: Any) -> Callable[[object], bool]:
    """A predicate for PTB's ``CallbackQueryHandler(pattern=...)``: data of these kinds
    (a button class or a union of them)."""

    def matches(data: object) -> bool:
        return isinstance(data, str) and isinstance(decode(data), wanted)

    return matches
