"""Updates from groups and channels: the bot serves private chats only.

Registered first (PTB group -1): an update from any chat that is not the sender's private
chat never reaches a feature, so it can never touch a merchant — not their alerts, not
their ``chat_id``. When the bot is added to a group it says once that it works in private
chat; a button pressed in a group only gets a toast.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.context import Context

log = logging.getLogger(__name__)

_JOINED = ("member", "administrator")


def outside_private_chat(update: Update) -> bool:
    """True for updates from a group, supergroup or channel (or with no private sender)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False  # nothing chat-bound (e.g. an inline query): the features ignore it
    return chat.type != ChatType.PRIVATE or user is None or chat.id != user.id


async def refuse(update: object, context: Context) -> None:
    """Answer once, change nothing, and stop every other handler."""
    if not isinstance(update, Update) or not outside_private_chat(update):
        return
    strings = context.bot_data.renderer
    lang = update.effective_user.language_code if update.effective_user else None
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(
                strings.plain(lang, "notices.private_only_toast"), show_alert=True
            )
        member = update.my_chat_member
        if member is not None and member.new_chat_member.status in _JOINED:
            assert update.effective_chat is not None
            await context.bot.send_message(
                update.effective_chat.id, strings.text(lang, "notices.private_only")
            )
    except TelegramError as exc:
        log.info("could not answer outside a private chat: %s", exc)
    raise ApplicationHandlerStop


def handlers() -> list[BaseHandler[Update, Context, None]]:
    """The gate, for PTB group -1 (before every feature)."""
    return [TypeHandler(Update, refuse)]
