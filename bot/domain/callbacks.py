"""Callback data: short, versioned, parsed strictly (anything else is forged or stale).

Every button the bot sends carries ``<version><verb>:<args>``, at most 64 bytes. The
version lets old buttons be recognised after a format change instead of misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

VERSION = "1"
MAX_BYTES = 64

Verb = Literal[
    "choose",  # q: answer or tick an option
    "confirm",  # Q: finish a several-choice question
    "skip",  # S: skip an optional question
    "back",  # B: previous question
    "edit",  # E: change one answer from the profile
    "plan",  # P: show the plan (at the page of the next open step)
    "page",  # G: one page of the plan
    "profile",  # F: show the answers
    "open",  # O: open a step
    "mark",  # M: done / skip / undo / details on a step
    "next",  # N: the next open step
    "alerts",  # A: alert settings (later: alert sub-actions)
    "privacy",  # D: confirm or cancel deleting one's data
]

_CODES: dict[str, Verb] = {
    "q": "choose",
    "Q": "confirm",
    "S": "skip",
    "B": "back",
    "E": "edit",
    "P": "plan",
    "G": "page",
    "F": "profile",
    "O": "open",
    "M": "mark",
    "N": "next",
    "A": "alerts",
    "D": "privacy",
}
_VERBS = {verb: code for code, verb in _CODES.items()}
_ARG = re.compile(r"^[a-z0-9_-]{1,40}$")
_ARITY: dict[Verb, int] = {
    "choose": 3,
    "confirm": 2,
    "skip": 2,
    "back": 1,
    "edit": 1,
    "plan": 0,
    "page": 1,
    "profile": 0,
    "open": 1,
    "mark": 2,
    "next": 0,
    "alerts": 1,
    "privacy": 1,
}


@dataclass(frozen=True)
class Action:
    """A parsed button press."""

    verb: Verb
    args: tuple[str, ...] = ()


def encode(verb: Verb, *args: str | int) -> str:
    """Build callback data; raises ValueError when it would break Telegram's limit."""
    parts = [str(a) for a in args]
    if len(parts) != _ARITY[verb] or not all(_ARG.match(p) for p in parts):
        raise ValueError(f"bad callback arguments for {verb}: {parts}")
    data = VERSION + _VERBS[verb] + (":" + ":".join(parts) if parts else "")
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data}")
    return data


def decode(data: str | None) -> Action | None:
    """Parse callback data; None for anything this version did not produce."""
    if not data or len(data.encode()) > MAX_BYTES or not data.startswith(VERSION):
        return None
    head, _, rest = data[len(VERSION) :].partition(":")
    verb = _CODES.get(head)
    if verb is None:
        return None
    args = tuple(rest.split(":")) if rest else ()
    if len(args) != _ARITY[verb] or not all(_ARG.match(a) for a in args):
        return None
    return Action(verb, args)
