"""The error handler: log first, then tell the merchant (never a raw error)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import Context
from bot.logs import current_update

log = logging.getLogger("bot.errors")


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its traceback; send the apology template to the chat if any."""
    log.error("update failed", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    data = context.bot_data
    # Operators hear about failures (one line, never the merchant's text), at most once
    # per error kind per minute, with the update's id, chat and handler and a count.
    kind = type(context.error).__name__
    count = data.notices.allow(kind)
    for admin in data.settings.admin_ids if count is not None else ():
        try:
            notice = data.renderer.plain(
                None, "admin.error_notice", error=kind, count=count, **current_update().fields()
            )
            await context.bot.send_message(admin, notice, parse_mode=None)
        except TelegramError:
            log.warning("could not notify admin %s", admin)
    lang = update.effective_user.language_code if update.effective_user else None
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        screen = data.views.simple(lang, "error.html.j2")
        await context.bot.send_message(update.effective_chat.id, screen.text)
    except TelegramError:
        log.warning("could not tell the merchant about the failure", exc_info=True)
