"""/alerts, its buttons, and my_chat_member (the merchant blocked or unblocked the bot)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    filters,
)

from bot.context import Context
from bot.domain import callbacks
from handlers.common import button_of, deliver, user_of


async def alerts(update: Update, context: Context) -> None:
    """The reminder settings screen."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.alerts.command(user))


async def press(update: Update, context: Context) -> None:
    """A reminder-settings or reminder button."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, callbacks.Alerts):
        return
    await deliver(update, context, user, await context.bot_data.alerts.press(user, button))


async def chat_member(update: Update, context: Context) -> None:
    """Blocked (kicked/left): alerts off; unblocked (member): offer to turn them back on."""
    member = update.my_chat_member
    if member is None or (user := user_of(update)) is None:
        return
    outcome = await context.bot_data.alerts.chat_member(user, member.new_chat_member.status)
    if outcome.send:
        await deliver(update, context, user, outcome)


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("alerts", alerts, filters=private),
        CallbackQueryHandler(press, pattern=callbacks.kinds(callbacks.Alerts)),
        ChatMemberHandler(chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
    ]
