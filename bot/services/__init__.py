"""Use cases: one short unit of work per update.

A service loads the merchant from SQL, asks the pure domain what happens next, saves, and
returns an :class:`~bot.views.screens.Outcome` (what to show). May import the domain,
content, views and storage; never Telegram or the Bot API transport.
"""
