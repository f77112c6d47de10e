"""/privacy, /export, /delete and /calendar."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from handlers.common import deliver, user_of


async def privacy(update: Update, context: Context) -> None:
    """What is stored, why, and for how long."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.privacy(user))


async def export(update: Update, context: Context) -> None:
    """Send everything stored about the merchant as a JSON file."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.export(user))


async def delete(update: Update, context: Context) -> None:
    """Ask to confirm erasing everything."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.ask_delete(user))


async def calendar(update: Update, context: Context) -> None:
    """Send an .ics file with the dates that matter."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.services.calendar(user))
