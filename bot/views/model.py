"""What a use case returns and a handler carries out: screens, buttons, files, toasts.

Plain data, no Telegram objects: the adapter (handlers.common) turns an Outcome into Bot API
calls; tests and ``content check`` read them directly.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    """An inline button: callback data or a URL."""

    text: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Screen:
    """One message as the merchant sees it."""

    text: str
    keyboard: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True)
class Document:
    """A file to send (export, calendar)."""

    filename: str
    data: bytes
    caption: str = ""


@dataclass
class Outcome:
    """What a handler should do: answer the button, edit the pressed message, send more."""

    toast: str | None = None
    edit: Screen | None = None
    send: list[Screen] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


def as_typed_reply(outcome: Outcome) -> Outcome:
    """A button's outcome as the reply to typed text: no button to answer and no message to
    edit, so the toast becomes a line of its own and the edited screen is sent."""
    told = html.escape(outcome.toast or "", quote=False)
    send = [Screen(told)] if told else []
    if outcome.edit is not None:
        send.append(outcome.edit)
    return Outcome(send=[*send, *outcome.send], documents=outcome.documents)


BUTTON_LABEL_MAX = 60  # longer labels are cut on a phone anyway


def shorten(label: str, limit: int = BUTTON_LABEL_MAX) -> str:
    """A button label cut at a word boundary with an ellipsis when too long."""
    if len(label) <= limit:
        return label
    cut = label[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:—-") + "…"
