"""Screens as Telegram objects: the one place a keyboard view model becomes PTB markup."""

from __future__ import annotations

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
