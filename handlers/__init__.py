"""The Telegram adapter: one ordered registry of handlers (order matters)."""

from __future__ import annotations

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from handlers import admin, alerts, errors, interview, plan, privacy, start

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
)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Add every handler in its group. Order matters: commands before free text."""
    private = filters.ChatType.PRIVATE
    app.add_handlers(
        [
            CommandHandler("start", start.start, filters=private),
            CommandHandler("help", start.help_command, filters=private),
            CommandHandler("plan", plan.plan, filters=private),
            CommandHandler("next", plan.next_step, filters=private),
            CommandHandler("profile", plan.profile, filters=private),
            CommandHandler("privacy", privacy.privacy, filters=private),
            CommandHandler("export", privacy.export, filters=private),
            CommandHandler("delete", privacy.delete, filters=private),
            CommandHandler("calendar", privacy.calendar, filters=private),
            CommandHandler("stats", admin.stats, filters=private),
            CommandHandler("alerts", alerts.alerts, filters=private),
            ChatMemberHandler(alerts.chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
            CallbackQueryHandler(interview.press),
            # Unknown commands and plain text both go to the text handler, which explains.
            MessageHandler(private & filters.TEXT, interview.text),
            MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, interview.other),
        ]
    )
    app.add_error_handler(errors.on_error)
