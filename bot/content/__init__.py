"""The content tree: load and validate ``content/``, check it for editors, render it.

``loader`` turns the files into an immutable :class:`~bot.content.loader.Content` (every
problem with its path and line); ``render`` is the one sandboxed jinja2 environment;
``check`` proves every path and every screen renders within Telegram's limits; ``cli`` is
``python -m bot content``. May import the domain and the views; never Telegram, SQL or the
services.
"""
