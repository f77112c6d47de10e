"""The operator console: a small web app for operators (people in ADMIN_IDS).

- :mod:`bot.console.auth`: one-time login links, signed session cookies, CSRF tokens;
- :mod:`bot.console.framework`: pages (:class:`~bot.console.framework.Page`), the base
  layout, login/logout, the session and CSRF checks every page gets;
- :mod:`bot.console.pages`: the list of pages, one module per feature.

It is served by ``serve`` (under ``/console`` of the webhook app, or on CONSOLE_PORT) and by
``run`` (on CONSOLE_PORT when set); operators get a login link by sending ``/console``.
"""
