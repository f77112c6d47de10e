"""Adapter helpers: Telegram objects in, primitives out; Outcomes out as Telegram messages."""

from __future__ import annotations

import logging

from telegram import InputFile, Update
from telegram.error import BadRequest

from bot.botapi.markup import markup
from bot.context import Context
from bot.domain import callbacks
from bot.services.core import UserInfo
from bot.views.model import Outcome

log = logging.getLogger(__name__)


def user_of(update: Update) -> UserInfo | None:
    """The sender as primitives, or None for updates without a private chat user."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    return UserInfo(
        id=user.id, chat_id=chat.id, first_name=user.first_name, language_code=user.language_code
    )


def button_of(update: Update) -> callbacks.Callback | None:
    """The pressed button, parsed (None for stale or forged data)."""
    query = update.callback_query
    data = query.data if query is not None else None
    return callbacks.decode(data) if isinstance(data, str) else None


async def deliver(update: Update, context: Context, user: UserInfo, outcome: Outcome) -> None:
    """Carry out an Outcome: answer the button, edit the pressed message, send the rest."""
    query = update.callback_query
    if query is not None:
        await query.answer(outcome.toast)
    bot = context.bot
    if outcome.edit is not None:
        message = query.message if query is not None else None
        edited = False
        if message is not None:
            try:
                await bot.edit_message_text(
                    outcome.edit.text,
                    chat_id=user.chat_id,
                    message_id=message.message_id,
                    reply_markup=markup(outcome.edit),
                )
                edited = True
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    edited = True
                else:
                    log.info("edit failed (%s); sending instead", exc)
        if not edited:
            outcome.send.insert(0, outcome.edit)
    for screen in outcome.send:
        await bot.send_message(user.chat_id, screen.text, reply_markup=markup(screen))
    for document in outcome.documents:
        await bot.send_document(
            user.chat_id,
            InputFile(document.data, filename=document.filename),
            caption=document.caption or None,
        )
