"""Messages the merchant edited after sending them.

Telegram sends an edit as an update of its own (``edited_message``). The bot reads each
message once, as it is sent: an edit gets a short reply saying so and what to do instead,
and changes nothing (an edit that now reads "/delete" or an answer does not act).
Registered first after the group gate, so no command or text handler sees it.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, MessageHandler, filters

from bot.context import Context
from handlers.common import deliver, user_of


async def edited(update: Update, context: Context) -> None:
    """Say that the edit changed nothing, then stop every other handler."""
    if (user := user_of(update)) is not None:
        await deliver(update, context, user, await context.bot_data.interview.edited(user))
    raise ApplicationHandlerStop


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """The edit handler, registered before every feature's."""
    return [MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, edited)]
