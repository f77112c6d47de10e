"""Operator commands, for the Telegram users listed in ADMIN_IDS."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import Context
from handlers.common import deliver, user_of


async def stats(update: Update, context: Context) -> None:
    """The funnel at a glance (others get the usual answer to unknown text)."""
    if (user := user_of(update)) is None:
        return
    data = context.bot_data
    if user.id in data.settings.admin_ids:
        outcome = await data.admin.stats(user)
    else:
        outcome = await data.interview.text(user, "/stats")
    await deliver(update, context, user, outcome)


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [CommandHandler("stats", stats, filters=private)]
