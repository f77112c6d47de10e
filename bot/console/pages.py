"""Every console page, in nav order: each feature module exports ``PAGES``."""

from __future__ import annotations

from bot.console import content, funnel, home, lookup
from bot.console.framework import Page

PAGES: list[Page] = [
    *home.PAGES,
    *funnel.PAGES,
    *lookup.PAGES,
    *content.PAGES,
]
