"""A bare python-telegram-bot echo bot: the baseline for bench_interview (run as a process).

python -m benchmarks.echo_bot                       # PTB as installed (httpx transport)
python -m benchmarks.echo_bot --transport aiohttp   # the bot's transport (bot.botapi.transport)
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text."""
    if update.effective_message and update.effective_message.text:
        await update.effective_message.reply_text(update.effective_message.text)


def main() -> None:
    """Long-poll the Bot API at TELEGRAM_BASE_URL until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="httpx")
    args = parser.parse_args()
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .concurrent_updates(64)  # the same concurrency the migration bot uses
    )
    if args.transport == "aiohttp":
        from bot.botapi.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0.0, timeout=10, close_loop=False)
    sys.exit(0)


if __name__ == "__main__":
    main()
