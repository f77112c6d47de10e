"""/alerts and my_chat_member (the merchant blocked or unblocked the bot)."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.views.screens import Outcome
from handlers.common import deliver, user_of


async def alerts(update: Update, context: Context) -> None:
    """The alert settings screen."""
    service = context.bot_data.alerts
    if service is None or (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await service.command(user))


async def chat_member(update: Update, context: Context) -> None:
    """Blocked (kicked/left): alerts off; unblocked (member): offer to turn them back on."""
    service = context.bot_data.alerts
    member = update.my_chat_member
    if service is None or member is None or (user := user_of(update)) is None:
        return
    outcome: Outcome = await service.chat_member(user, member.new_chat_member.status)
    if outcome.send:
        await deliver(update, context, user, outcome)
