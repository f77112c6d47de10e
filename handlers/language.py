"""/language."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.domain import callbacks
from handlers.common import button_of, deliver, user_of


async def language(update: Update, context: Context) -> None:
    """Show the language picker (``/language Deutsch`` switches at once)."""
    if (user := user_of(update)) is None:
        return
    typed = " ".join(context.args or ()) or None
    await deliver(update, context, user, await context.bot_data.language.show(user, typed))


async def pick(update: Update, context: Context) -> None:
    """A language button."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, callbacks.PickLanguage):
        return
    await deliver(update, context, user, await context.bot_data.language.press(user, button))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("language", language, filters=private),
        CallbackQueryHandler(pick, pattern=callbacks.kinds(callbacks.PickLanguage)),
    ]
