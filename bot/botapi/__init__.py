"""The Bot API side: the aiohttp transport, the shared send budget, markup, Telegram HTML,
and the fake Bot API the tests and the demo run against.
"""
