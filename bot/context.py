"""Typed dependencies for handlers: ``context.bot_data`` is a BotData, not a loose dict."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.alerts.service import AlertService
from bot.config import Settings
from bot.content.loader import Content
from bot.content.render import Renderer
from bot.logs import NoticeLimiter
from bot.services.core import Services
from bot.storage.db import Database
from bot.views.screens import Views


@dataclass
class BotData:
    """Everything that lives as long as the Application (no per-merchant state)."""

    settings: Settings
    db: Database
    content: Content
    renderer: Renderer
    views: Views
    services: Services
    # Long-running loops started next to polling (e.g. the alert dispatcher); each gets a
    # stop event and returns when it is set.
    background: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)
    # The alerts feature (installed by bot.app).
    alerts: AlertService | None = None
    # Operator failure notices: one per error kind per minute, with a count.
    notices: NoticeLimiter = field(default_factory=NoticeLimiter)


class Context(CallbackContext[ExtBot[None], dict[object, object], dict[object, object], BotData]):
    """The handlers' context: ``context.bot_data`` is typed as BotData.

    user_data and chat_data stay the plain dicts PTB insists on creating; nothing is stored
    in them (merchant state lives in SQL).
    """


BotApp = Application[Any, Context, dict[object, object], dict[object, object], BotData, Any]
