"""/plan, /next and /profile."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from handlers.common import deliver, user_of


async def plan(update: Update, context: Context) -> None:
    """The checklist."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.plan(user))


async def next_step(update: Update, context: Context) -> None:
    """The next open step."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.next(user))


async def profile(update: Update, context: Context) -> None:
    """The merchant's answers, each changeable."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.profile(user))
