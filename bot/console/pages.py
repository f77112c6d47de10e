"""Every console page, in nav order: each feature module exports ``PAGES``."""

from __future__ import annotations

from bot.console import broadcast, content, funnel, home, lookup
from bot.console.framework import Page

PAGES: list[Page] = [
    *home.PAGES,
    *funnel.PAGES,
    *broadcast.PAGES,
    *lookup.PAGES,
    *content.PAGES,
]
