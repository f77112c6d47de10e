"""The "stop these messages" button under operator broadcasts (and its way back)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, filters

from bot.context import Context
from bot.domain import callbacks
from handlers.common import button_of, deliver, user_of


async def press(update: Update, context: Context) -> None:
    """Stop (or resume) operator broadcasts for this merchant."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, callbacks.Broadcasts):
        return
    service = context.bot_data.broadcasts
    assert service is not None
    await deliver(update, context, user, await service.press(user, button))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:  # noqa: ARG001
    """This feature's handlers."""
    return [CallbackQueryHandler(press, pattern=callbacks.kinds(callbacks.Broadcasts))]
