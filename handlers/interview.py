"""The interview's buttons, typed text, everything else a merchant may send, and the
catch-all for buttons nobody recognises."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.context import Context
from bot.domain import callbacks
from bot.services.interview import InterviewButton
from handlers.common import button_of, deliver, user_of

#: Change an answer from the profile, or cancel that change.
ProfileButton = callbacks.EditAnswer | callbacks.CancelEdit


async def press(update: Update, context: Context) -> None:
    """An interview button (answer, tick, done, skip, back)."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, InterviewButton):
        return
    await deliver(update, context, user, await context.bot_data.interview.press(user, button))


async def edit(update: Update, context: Context) -> None:
    """A Change button on the profile, or Cancel on the change screen."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, ProfileButton):
        return
    await deliver(update, context, user, await context.bot_data.interview.edit(user, button))


async def unknown_button(update: Update, context: Context) -> None:
    """Stale or forged callback data: it changes nothing."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.core.unknown_button(user))


async def text(update: Update, context: Context) -> None:
    """Typed text: an answer when a question is open, otherwise a hint."""
    message = update.effective_message
    if message is None or message.text is None or (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.interview.text(user, message.text))


async def other(update: Update, context: Context) -> None:
    """Stickers, photos, voice, files: explain, change nothing."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.interview.media(user))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """The interview's buttons."""
    del private  # buttons carry no chat filter: a press is checked by the service
    return [
        CallbackQueryHandler(press, pattern=callbacks.kinds(InterviewButton)),
        CallbackQueryHandler(edit, pattern=callbacks.kinds(ProfileButton)),
    ]


def text_handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """Free text and everything else; registered last (commands and buttons come first)."""
    return [
        # Unknown commands and plain text both go to the text handler, which explains.
        MessageHandler(private & filters.TEXT, text),
        MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, other),
    ]
