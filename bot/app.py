"""Wiring, all of it: the only module that knows how python-telegram-bot is put together.

It builds the content, database, renderer, views and services, installs the alerts feature
(service + dispatcher loop) and registers the Telegram adapter (:mod:`handlers`). Only
:mod:`bot.modes` imports this module.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from telegram import Bot, BotCommand, LinkPreviewOptions, Update
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

from bot.alerts.dispatcher import Dispatcher, Routed
from bot.alerts.planner import DEFAULT_HOUR
from bot.alerts.service import AlertService
from bot.botapi.budget import make_budget
from bot.botapi.ratelimiter import BudgetRateLimiter
from bot.botapi.transport import AiohttpRequest
from bot.broadcast.service import PREFIX as BROADCAST_PREFIX
from bot.broadcast.service import BroadcastService
from bot.config import Settings
from bot.content.check import load_checked
from bot.content.loader import DEFAULT_LOCALE, Content
from bot.content.render import Renderer
from bot.context import BotApp, BotData, Context
from bot.logs import current_update, update_context
from bot.services.admin import AdminService
from bot.services.core import Core, Live
from bot.services.interview import InterviewService
from bot.services.language import LanguageService
from bot.services.live import LiveContent
from bot.services.plan import PlanService
from bot.services.privacy import PrivacyService
from bot.storage import send_slots
from bot.storage.db import Database
from bot.storage.erase import retention_loop
from bot.storage.models import utcnow
from bot.views.screens import Views
from handlers import COMMANDS, register

# The update kinds the bot handles (for getUpdates / setWebhook).
# An edited message is asked for only to be answered (handlers.edited): it never acts.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]

log = logging.getLogger(__name__)


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


class TaggedApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, with every log line about an update tagged with it (bot.logs)."""

    async def process_update(self, update: object) -> None:
        """Handle the update inside its log context (update id, chat id, then handler)."""
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        chat = update.effective_chat
        with update_context(update.update_id, chat.id if chat is not None else None):
            await super().process_update(update)


def _factory(data: BotData) -> type[BotData]:
    """PTB builds bot_data by calling a type; hand it one that returns our instance."""

    class _Shared(BotData):
        def __new__(cls) -> BotData:  # type: ignore[misc]
            return data

    return _Shared


def deadline_of(settings: Settings, content: Content) -> datetime:
    """The campaign deadline, with the operator's DEADLINE override."""
    return settings.deadline or content.campaign.deadline


def core_and_alerts(
    settings: Settings,
    content: Content,
    db: Database,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Core, AlertService]:
    """The core (one session factory, one renderer) and the reminders built on it."""
    core = Core(
        db,
        content,
        Views(content, Renderer(content)),
        deadline=deadline_of(settings, content),
        clock=clock,
        retention_days=settings.retention_days,
    )
    alerts = AlertService(
        core,
        offsets=settings.alert_offsets or content.campaign.alert_offsets,
        quiet_default=settings.quiet_hours,
        nudge_after_days=content.campaign.nudge_after_days,
        plan_change_notices=settings.plan_change_notices,
    )
    return core, alerts


def build_broadcasts(
    settings: Settings,
    content: Content,
    db: Database,
    clock: Callable[[], datetime] = utcnow,
) -> BroadcastService:
    """The broadcast feature alone (the CLI and tools: no Telegram needed to queue one)."""
    core, alerts = core_and_alerts(settings, content, db, clock)
    return BroadcastService(core, alerts, send_rate=settings.send_rate)


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
        content = load_checked(settings.content_dir, settings.deadline)
    db = db or Database(settings.database_url)
    core, alerts = core_and_alerts(settings, content, db, clock)
    views, renderer = core.views, core.views.r
    core.default_hour = DEFAULT_HOUR  # new merchants' alerts arrive in the daytime
    core.listeners.append(alerts)  # a new go-live date moves its reminders
    core.typed_input["alerts"] = alerts  # a typed time zone
    language = LanguageService(core)
    core.typed_input["language"] = language  # a language name typed at the picker
    plan = PlanService(core)
    privacy = PrivacyService(core)
    core.typed_input["privacy"] = privacy  # a typed yes / no at "delete everything?"
    # Typed once the plan is built: "done", "skip", "next" on a step, a command's name; a
    # language's name ("Deutsch").
    core.after_interview.extend([plan, language])
    core.typed_commands.update(  # a command's name typed without the slash
        alerts=alerts.opened,
        alerts_off=alerts.typed_off,
        alerts_on=alerts.typed_on,
        snooze=alerts.typed_snooze,
        language=language.opened,
    )
    data = BotData(
        settings=settings,
        db=db,
        content=content,
        renderer=renderer,
        views=views,
        core=core,
        interview=InterviewService(core),
        plan=plan,
        privacy=privacy,
        admin=AdminService(core),
        alerts=alerts,
        broadcasts=BroadcastService(core, alerts, send_rate=settings.send_rate),
        language=language,
    )
    if settings.retention_days is not None:
        data.background.append(retention_loop(db, settings.retention_days, clock=clock))
    data.live = _live_content(settings, data, clock)  # run by the modes (bot.modes.live_content)

    builder = (
        ApplicationBuilder()
        .application_class(TaggedApplication)
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
    # On PostgreSQL the rate is shared by every process on the database (leased send slots).
    shared = functools.partial(send_slots.lease_slots, db) if db.is_postgres else None
    budget = make_budget(settings.send_rate, settings.allow_paid_broadcast, shared=shared)
    # PTB types the builder for rate_limit_args=None; ours takes a dict (bot.botapi.ratelimiter).
    builder = builder.rate_limiter(BudgetRateLimiter(budget))  # type: ignore[arg-type]
    # aiohttp instead of PTB's default httpx: a fraction of the CPU per Bot API call.
    builder = builder.request(request or AiohttpRequest()).get_updates_request(
        get_updates_request or AiohttpRequest(1)
    )
    app: BotApp = builder.build()
    # The outbox dispatcher sends reminders through the same bot and budget as replies.
    # Operator broadcasts share the outbox: their rows (``bc:``) go to their own source.
    assert data.broadcasts is not None
    source = Routed(alerts, {BROADCAST_PREFIX: data.broadcasts})
    alerts.dispatcher = Dispatcher.sized(
        db, app.bot, source, budget, clock=clock, paid_broadcast=settings.allow_paid_broadcast
    )
    data.background.append(alerts.dispatcher.run)
    register(app)  # the Telegram adapter is wired here and only here
    _name_handlers(app)
    return app


def _live_content(settings: Settings, data: BotData, clock: Callable[[], datetime]) -> LiveContent:
    """Content reloads (SIGHUP, or a request through the database) for this process."""

    def build(content: Content) -> Live:
        renderer = Renderer(content)
        return Live(content, Views(content, renderer), deadline_of(settings, content))

    async def released(content: Content) -> None:
        # Everything that reads the release outside a turn follows it, before any await.
        data.content = content
        data.views = data.core.views
        data.renderer = data.views.r
        data.alerts.campaign_changed(
            settings.alert_offsets or content.campaign.alert_offsets,
            content.campaign.nudge_after_days,
        )
        await data.alerts.content_released()  # "your plan changed" for the new release

    return LiveContent(
        core=data.core,
        db=data.db,
        content_dir=settings.content_dir,
        load=functools.partial(load_checked, deadline=settings.deadline),
        build=build,
        clock=clock,
        on_release=[released],
    )


def _name_handlers(app: BotApp) -> None:
    """Make each handler callback name itself in the log context of the update it handles."""
    for handlers in app.handlers.values():
        for handler in handlers:
            handler.callback = _named(handler.callback)


def _named(
    callback: Callable[[Any, Context], Coroutine[Any, Any, Any]],
) -> Callable[[Any, Context], Coroutine[Any, Any, Any]]:
    module = getattr(callback, "__module__", "") or ""
    name = f"{module.rsplit('.', 1)[-1]}.{getattr(callback, '__qualname__', 'handler')}"

    @functools.wraps(callback)
    async def named(update: object, context: Context) -> Any:
        current_update().handler = name  # kept for the error handler's log line and notice
        return await callback(update, context)

    return named


async def _post_init(app: BotApp) -> None:
    data = app.bot_data
    content = data.content
    if data.alerts is not None:  # a new content release: "your plan changed" notices
        await data.alerts.content_released()
    # Off the critical path: start-up does not wait for Telegram's profile round trips.
    data.profile_sync = asyncio.create_task(sync_bot_profile(app.bot, content))


def command_description(content: Content, code: str | None, name: str) -> str:
    """A command's menu text in a language (``language.command`` for /language)."""
    key = "language.command" if name == "language" else f"commands.{name}"
    return str(content.string(code, key))


async def sync_bot_profile(bot: Bot, content: Content) -> list[str]:
    """The command menu, description and short description for every shipped language
    (the default is English), set only where they differ from what Telegram has.

    Returns what was set (``commands:de``...), for tests and the log."""
    changed: list[str] = []

    async def one(code: str) -> None:
        tag = code.split("-")[0] if code != DEFAULT_LOCALE else ""  # Telegram: ISO 639-1
        commands = [BotCommand(n, command_description(content, code, n)) for n in COMMANDS]
        description = str(content.string(code, "bot.description"))
        short = str(content.string(code, "bot.short_description"))
        have_commands, have_description, have_short = await asyncio.gather(
            bot.get_my_commands(language_code=tag or None),
            bot.get_my_description(language_code=tag or None),
            bot.get_my_short_description(language_code=tag or None),
        )
        if tuple(have_commands) != tuple(commands):
            await bot.set_my_commands(commands, language_code=tag or None)
            changed.append(f"commands:{code}")
        if have_description.description != description:
            await bot.set_my_description(description, language_code=tag or None)
            changed.append(f"description:{code}")
        if have_short.short_description != short:
            await bot.set_my_short_description(short, language_code=tag or None)
            changed.append(f"short_description:{code}")

    for code in content.shipped:
        try:
            await one(code)
        except TelegramError as exc:  # a menu is nice to have, not worth refusing to start
            log.warning("could not set the bot's menu/profile for %s: %s", code, exc)
    if changed:
        log.info("bot profile updated: %s", ", ".join(changed))
    return changed


async def _post_shutdown(app: BotApp) -> None:
    task = app.bot_data.profile_sync
    if task is not None and not task.done():
        task.cancel()
    await app.bot_data.db.dispose()
