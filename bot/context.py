"""Typed dependencies for handlers: ``context.bot_data`` is a BotData, not a loose dict."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.alerts.service import AlertService
from bot.broadcast.service import BroadcastService
from bot.config import Settings
from bot.content.loader import Content
from bot.content.render import Renderer
from bot.logs import NoticeLimiter
from bot.services.admin import AdminService
from bot.services.core import Core
from bot.services.interview import InterviewService
from bot.services.language import LanguageService
from bot.services.live import LiveContent
from bot.services.plan import PlanService
from bot.services.privacy import PrivacyService
from bot.storage.db import Database
from bot.views.screens import Views


@dataclass
class BotData:
    """Everything that lives as long as the Application (no per-merchant state).

    One service per feature; handlers call exactly one method of one of them per update.
    """

    settings: Settings
    db: Database
    content: Content
    renderer: Renderer
    views: Views
    core: Core
    interview: InterviewService
    plan: PlanService
    privacy: PrivacyService
    admin: AdminService
    alerts: AlertService
    language: LanguageService
    broadcasts: BroadcastService | None = None  # operator broadcasts (same outbox)
    # Long-running loops started next to polling (e.g. the alert dispatcher); each gets a
    # stop event and returns when it is set.
    background: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)
    # Operator failure notices: one per error kind per minute, with a count.
    notices: NoticeLimiter = field(default_factory=NoticeLimiter)
    # Content reloads (SIGHUP, the console) and this process's instance row; set by the wiring.
    live: LiveContent | None = None
    # The start-up sync of the command menu and profile texts per language (a task).
    profile_sync: asyncio.Task[list[str]] | None = None


class Context(CallbackContext[ExtBot[None], dict[object, object], dict[object, object], BotData]):
    """The handlers' context: ``context.bot_data`` is typed as BotData.

    user_data and chat_data stay the plain dicts PTB insists on creating; nothing is stored
    in them (merchant state lives in SQL).
    """


BotApp = Application[Any, Context, dict[object, object], dict[object, object], BotData, Any]
