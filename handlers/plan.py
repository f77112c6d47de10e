"""/plan, /next, /profile and the plan's buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import Context
from bot.domain import callbacks
from bot.services.plan import PlanButton
from handlers.common import button_of, deliver, user_of


async def plan(update: Update, context: Context) -> None:
    """The checklist."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.plan.plan(user))


async def next_step(update: Update, context: Context) -> None:
    """The next open step."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.plan.next(user))


async def profile(update: Update, context: Context) -> None:
    """The merchant's answers, each changeable."""
    if (user := user_of(update)) is None:
        return
    await deliver(update, context, user, await context.bot_data.plan.profile(user))


async def press(update: Update, context: Context) -> None:
    """A plan or step button."""
    button = button_of(update)
    if (user := user_of(update)) is None or not isinstance(button, PlanButton):
        return
    await deliver(update, context, user, await context.bot_data.plan.press(user, button))


def handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, Context, None]]:
    """This feature's handlers."""
    return [
        CommandHandler("plan", plan, filters=private),
        CommandHandler("next", next_step, filters=private),
        CommandHandler("profile", profile, filters=private),
        CallbackQueryHandler(press, pattern=callbacks.kinds(PlanButton)),
    ]
