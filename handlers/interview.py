"""Button presses, typed answers and everything else a merchant may send."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from handlers.common import deliver, user_of


async def press(update: Update, context: Context) -> None:
    """Any inline button: the service parses the data strictly (stale/forged change nothing)."""
    query = update.callback_query
    if query is None or (user := user_of(update)) is None:
        return
    message_id = query.message.message_id if query.message is not None else None
    outcome = await context.bot_data.services.press(user, message_id, query.data)
    await deliver(update, context, user, outcome)


async def text(update: Update, context: Context) -> None:
    """Typed text: an answer when a question is open, otherwise a hint."""
    message = update.effective_message
    if message is None or message.text is None or (user := user_of(update)) is None:
        return
    outcome = await context.bot_data.services.text(user, message.text)
    await deliver(update, context, user, outcome)


async def other(update: Update, context: Context) -> None:
    """Stickers, photos, voice, files: explain, change nothing."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.media(user))
