"""The error handler: log first, then tell the merchant (never a raw error)."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.context import Context
from bot.delivery import HandleAgain, current_delivery
from bot.logs import current_update
from bot.services.core import Repeated
from handlers.common import deliver, user_of

log = logging.getLogger("bot.errors")


async def on_error(update: object, context: Context) -> None:
    """Log the failure; on the update's last attempt, apologise and tell operators.

    The durable inbox (bot.updates) tries a failed update again a few times; only the last
    failure reaches the merchant (an apology, never a raw error) and operators (one line).
    """
    delivery = current_delivery()
    if isinstance(context.error, Repeated) and isinstance(update, Update):
        # Not a failure: the update was handled before (its turn committed) and is handled
        # again; nothing changed, the merchant sees where they are.
        log.info("%s: showing where the merchant is", context.error)
        user = user_of(update)
        if user is not None:
            try:
                await deliver(update, context, user, context.error.outcome)
            except Exception as exc:  # retried as any failed reply (a repeat again)
                delivery.failed, delivery.exception = True, exc
                delivery.error = f"{type(exc).__name__}: {exc}"[:500]
        return
    if isinstance(context.error, HandleAgain) and delivery.may_handle_again:
        # Not a failure: the turn wrote nothing (the merchant changed meanwhile, handled by
        # another instance); the inbox runs the update again at once (bot.updates).
        log.info("%s: handling the update again", context.error)
        delivery.handle_again = True
        return
    delivery.failed = True
    delivery.exception = context.error
    delivery.error = f"{type(context.error).__name__}: {context.error}"[:500]
    if not delivery.final:
        log.warning("update failed (attempt %d), will retry: %s", delivery.attempt, delivery.error)
        return
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
    if update.callback_query is not None:
        try:  # stops the spinner; Telegram refuses it when the press was answered already
            await update.callback_query.answer()
        except TelegramError as exc:
            log.info("could not answer the button before apologising: %s", exc)
    try:
        screen = data.views.simple(lang, "error.html.j2")
        await context.bot.send_message(update.effective_chat.id, screen.text)
    except TelegramError:
        log.warning("could not tell the merchant about the failure", exc_info=True)
