"""Wiring: the only module that knows how python-telegram-bot is put together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest

from bot.config import Settings
from bot.content import Content
from bot.context import BotData, Context
from bot.db import Database
from bot.models import utcnow
from bot.outbox import make_budget
from bot.privacy import retention_loop
from bot.render import Renderer
from bot.sendlimit import BudgetRateLimiter
from bot.services import Services
from bot.transport import AiohttpRequest
from bot.views import Views

# The update kinds the bot handles (for getUpdates / setWebhook).
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

BotApp = Application[Any, Context, dict[object, object], dict[object, object], BotData, Any]


class PerChatProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; one chat's updates run in order."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers under its chat's lock."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, users = self._locks.get(chat.id, (asyncio.Lock(), 0))
        self._locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[chat.id]
            if users <= 1:
                del self._locks[chat.id]
            else:
                self._locks[chat.id] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _factory(data: BotData) -> type[BotData]:
    """PTB builds bot_data by calling a type; hand it one that returns our instance."""

    class _Shared(BotData):
        def __new__(cls) -> BotData:  # type: ignore[misc]
            return data

    return _Shared


def deadline_of(settings: Settings, content: Content) -> datetime:
    """The campaign deadline, with the operator's DEADLINE override."""
    return settings.deadline or content.campaign.deadline


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    content: Content | None = None,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> BotApp:
    """Build the Application and everything it depends on (nothing runs until started)."""
    if content is None:
        from bot.checker import load_checked

        content = load_checked(settings.content_dir, settings.deadline)
    db = db or Database(settings.database_url)
    renderer = Renderer(content)
    views = Views(content, renderer)
    services = Services(
        db,
        content,
        views,
        deadline=deadline_of(settings, content),
        clock=clock,
        retention_days=settings.retention_days,
    )
    data = BotData(settings, db, content, renderer, views, services)
    if settings.retention_days is not None:
        data.background.append(retention_loop(db, settings.retention_days, clock=clock))

    builder = (
        ApplicationBuilder()
        .token(settings.token())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(ContextTypes(context=Context, bot_data=_factory(data)))
        .concurrent_updates(PerChatProcessor())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    # One send budget for the whole process: replies count in it, alerts wait their turn.
    budget = make_budget(settings.send_rate, settings.allow_paid_broadcast)
    # PTB types the builder for rate_limit_args=None; ours takes a dict (see bot.sendlimit).
    builder = builder.rate_limiter(BudgetRateLimiter(budget))  # type: ignore[arg-type]
    # aiohttp instead of PTB's default httpx: a fraction of the CPU per Bot API call.
    builder = builder.request(request or AiohttpRequest()).get_updates_request(
        get_updates_request or AiohttpRequest(1)
    )
    app: BotApp = builder.build()

    from bot.alert_service import install as install_alerts

    install_alerts(
        data, app.bot, clock=clock, budget=budget
    )  # /alerts, the outbox dispatcher loop

    from handlers import register  # the adapter is wired here and only here

    register(app)
    return app


async def _post_init(app: BotApp) -> None:
    data = app.bot_data
    content = data.content
    from handlers import COMMANDS

    commands = [
        BotCommand(name, str(content.string(None, f"commands.{name}"))) for name in COMMANDS
    ]
    try:
        await app.bot.set_my_commands(commands)
    except TelegramError as exc:  # a menu is nice to have, not worth refusing to start
        import logging

        logging.getLogger(__name__).warning("could not set the command menu: %s", exc)


async def _post_shutdown(app: BotApp) -> None:
    await app.bot_data.db.dispose()
