"""/start and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import Context
from handlers.common import deliver, user_of


async def start(update: Update, context: Context) -> None:
    """Greet, and resume the interview or point to the plan."""
    if (user := user_of(update)) is None:
        return
    payload = context.args[0] if context.args else None
    await deliver(update, context, user, await context.bot_data.interview.start(user, payload))


async def help_command(update: Update, context: Context) -> None:
    """Explain what the bot does and its commands."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.interview.help(user))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("start", start, filters=private),
        CommandHandler("help", help_command, filters=private),
    ]
