"""Operator commands, for the Telegram users listed in ADMIN_IDS."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.console.auth import LINK_TTL, login_link
from bot.context import Context
from bot.views.model import Outcome
from handlers.common import deliver, user_of

log = logging.getLogger(__name__)


async def stats(update: Update, context: Context) -> None:
    """The funnel at a glance (others get the usual answer to unknown text)."""
    if (user := user_of(update)) is None:
        return
    data = context.bot_data
    if user.id in data.settings.admin_ids:
        outcome = await data.admin.stats(user)
    else:
        outcome = await data.interview.text(user, "/stats")
    await deliver(update, context, user, outcome)


async def console(update: Update, context: Context) -> None:
    """A one-time login link to the operator console (others: the usual unknown-text answer)."""
    if (user := user_of(update)) is None:
        return
    data = context.bot_data
    if user.id in data.settings.admin_ids:
        url = login_link(data.settings, user.id, data.core.clock())
        minutes = int(LINK_TTL.total_seconds() // 60)
        screen = data.views.simple(
            user.language_code, "console_link.html.j2", url=url, minutes=minutes
        )
        outcome = Outcome(send=[screen])
        log.info("console: login link sent to operator %d", user.id)
    else:
        outcome = await data.interview.text(user, "/console")
    await deliver(update, context, user, outcome)


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("stats", stats, filters=private),
        CommandHandler("console", console, filters=private),
    ]
