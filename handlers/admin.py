"""Operator commands, for the Telegram users listed in ADMIN_IDS."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from handlers.common import deliver, user_of


async def stats(update: Update, context: Context) -> None:
    """The funnel at a glance (others get the usual hint)."""
    if (user := user_of(update)) is None:
        return
    data = context.bot_data
    await deliver(update, context, user, await data.services.stats(user, data.settings.admin_ids))
