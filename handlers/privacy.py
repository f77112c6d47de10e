"""/privacy, /export, /delete and /calendar."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.domain import callbacks
from handlers.common import button_of, deliver, user_of


async def privacy(update: Update, context: Context) -> None:
    """What is stored, why, and for how long."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.privacy.privacy(user))


async def export(update: Update, context: Context) -> None:
    """Send everything stored about the merchant as a JSON file."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.privacy.export(user))


async def delete(update: Update, context: Context) -> None:
    """Ask to confirm erasing everything."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.privacy.ask_delete(user))


async def confirm_delete(update: Update, context: Context) -> None:
    """Yes or no to erasing everything."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, callbacks.DeleteData):
        return
    await deliver(update, context, user, await context.bot_data.privacy.press(user, button))


async def calendar(update: Update, context: Context) -> None:
    """Send an .ics file with the dates that matter."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.privacy.calendar(user))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("privacy", privacy, filters=private),
        CommandHandler("export", export, filters=private),
        CommandHandler("delete", delete, filters=private),
        CommandHandler("calendar", calendar, filters=private),
        CallbackQueryHandler(confirm_delete, pattern=callbacks.kinds(callbacks.DeleteData)),
    ]
