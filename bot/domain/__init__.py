"""The pure domain: the interview engine, plan selection, callback data and deep links.

Plain Python over plain data. Nothing here imports Telegram, SQL, HTTP, templates or any
other layer of the bot, so every rule is testable in isolation (``tests/test_layers.py``
keeps it so).
"""
