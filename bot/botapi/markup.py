"""Screens' keyboards for the Bot API: the one place a keyboard view model becomes Telegram's
inline keyboard, as JSON (:func:`keyboard`, what replies send) or as PTB markup.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.views.model import Screen


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    """The screen's inline keyboard, or None when it has no buttons."""
    if not screen.keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(b.text, callback_data=b.data)
                for b in row
            ]
            for row in screen.keyboard
        ]
    )


def keyboard(screen: Screen) -> dict[str, Any] | None:
    """The screen's inline keyboard as Bot API JSON, or None when it has no buttons.

    The same JSON as :func:`markup`'s ``InlineKeyboardMarkup.to_dict()``, without building
    the PTB objects first (``tests/test_rawapi.py`` compares them).
    """
    if not screen.keyboard:
        return None
    return {
        "inline_keyboard": [
            [
                {"text": b.text, "url": b.url}
                if b.url
                else {"callback_data": b.data, "text": b.text}
                for b in row
            ]
            for row in screen.keyboard
        ]
    }
