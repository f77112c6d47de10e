"""Adapter helpers: Telegram objects in, primitives out; Outcomes out as Telegram messages."""

from __future__ import annotations

import logging
import re

from telegram import InputFile, Update
from telegram.error import BadRequest, TelegramError

from bot.botapi import raw
from bot.context import Context
from bot.domain import callbacks
from bot.services.core import UserInfo
from bot.views.model import Outcome

log = logging.getLogger(__name__)


#: Longest first name kept (Telegram allows 64; anything longer is not from Telegram).
FIRST_NAME_MAX = 64
#: IETF-style language tags as Telegram sends them (``en``, ``pt-br``); anything else is
#: ignored rather than stored (the column holds 16 characters).
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,2}$")


def user_of(update: Update) -> UserInfo | None:
    """The sender as primitives, or None unless it is a person in their own private chat.

    The merchant's chat is their private chat, whose id is their user id: it is never taken
    from a message someone else's button sits on.
    """
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot or chat.id != user.id:
        return None
    code = user.language_code
    return UserInfo(
        id=user.id,
        chat_id=user.id,
        first_name=(user.first_name or "")[:FIRST_NAME_MAX] or None,
        language_code=code if code and len(code) <= 16 and _LANGUAGE.match(code) else None,
    )


def button_of(update: Update) -> callbacks.Callback | None:
    """The pressed button, parsed (None for stale or forged data)."""
    query = update.callback_query
    data = query.data if query is not None else None
    return callbacks.decode(data) if isinstance(data, str) else None


async def deliver(update: Update, context: Context, user: UserInfo, outcome: Outcome) -> None:
    """Carry out an Outcome: answer the button, edit the pressed message, send the rest.

    A refused button answer never stops the reply. Texts go through :mod:`bot.botapi.raw`:
    PTB's path (rate limiter, errors, defaults) without building a ``Message`` from each
    answer, which nothing here reads.
    """
    query = update.callback_query
    if query is not None:
        try:
            await query.answer(outcome.toast)
        except TelegramError as exc:
            # Telegram refuses answers to presses older than ~15 s (re-delivered after an
            # outage or a deploy, or slow): the spinner is gone anyway; the reply matters.
            log.info("button answer refused (%s); replying anyway", exc)
    bot = context.bot
    if outcome.edit is not None:
        message = query.message if query is not None else None
        edited = False
        if message is not None:
            try:
                await raw.edit_text(bot, user.chat_id, message.message_id, outcome.edit)
                edited = True
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    edited = True
                else:
                    log.info("edit failed (%s); sending instead", exc)
        if not edited:
            outcome.send.insert(0, outcome.edit)
    for screen in outcome.send:
        await raw.send_text(bot, user.chat_id, screen)
    for document in outcome.documents:
        await bot.send_document(
            user.chat_id,
            InputFile(document.data, filename=document.filename),
            caption=document.caption or None,
        )
