"""The Telegram adapter: each feature registers its own handlers; order matters.

Edited messages first (answered, never acted on), then commands, then each feature's buttons
(matched by callback-data kind), then one catch-all for stale or forged buttons, then typed
text and everything else.
"""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, filters

from handlers import (
    admin,
    alerts,
    broadcast,
    edited,
    errors,
    groups,
    interview,
    language,
    plan,
    privacy,
    start,
)

# The commands merchants see in Telegram's menu; their descriptions live in content.
COMMANDS = (
    "start",
    "plan",
    "next",
    "profile",
    "alerts",
    "calendar",
    "privacy",
    "export",
    "delete",
    "help",
    "language",
)

# Feature modules, in registration order; each has ``handlers(private) -> list[BaseHandler]``.
FEATURES = (start, plan, privacy, admin, alerts, broadcast, language, interview)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add every feature's handlers, the catch-all for unknown buttons, then free text."""
    private = filters.ChatType.PRIVATE
    app.add_handlers(groups.handlers(), group=-1)  # groups and channels stop here
    # Edited messages first: answered, and no command or typed-answer handler reads them.
    app.add_handlers(edited.handlers(private))
    for feature in FEATURES:
        app.add_handlers(feature.handlers(private))
    app.add_handlers(
        [
            CallbackQueryHandler(interview.unknown_button),  # stale or forged data
            *interview.text_handlers(private),
        ]
    )
    app.add_error_handler(errors.on_error)
