"""Typed dependencies for handlers: ``context.bot_data`` is a BotData, not a loose dict."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import CallbackContext, ExtBot

from bot.config import Settings
from bot.content import Content
from bot.db import Database
from bot.render import Renderer
from bot.services import Services
from bot.views import Views


@dataclass
class BotData:
    """Everything that lives as long as the Application (no per-merchant state)."""

    settings: Settings
    db: Database
    content: Content
    renderer: Renderer
    views: Views
    services: Services


class Context(CallbackContext[ExtBot[None], dict[object, object], dict[object, object], BotData]):
    """The handlers' context: ``context.bot_data`` is typed as BotData.

    user_data and chat_data stay the plain dicts PTB insists on creating; nothing is stored
    in them (merchant state lives in SQL).
    """
