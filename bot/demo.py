"""``python -m bot demo``: the real bot in a terminal, no token and no network.

The same Application, handlers, content and database code run against the in-process fake
Bot API the tests use. Bot messages print as plain text; inline buttons print as a numbered
list: type a number to press one, anything else is sent as a message. End of input exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from bot.config import ConfigError, Settings
from bot.content import load_content
from bot.fakeapi import FakeMessage, FakeRequest, FakeTelegram, SimulatedUser
from bot.tghtml import html_to_terminal

DEMO_TOKEN = "1000000001:" + "D" * 35  # the fake accepts it; it never leaves this process
DEMO_USER_ID = 424242


def _parse_moment(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{name} is invalid: use ISO 8601, e.g. 2023-09-05 or 2023-09-05T09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Pressable = tuple[int, str | None]  # (message id, callback data or URL)


def render(messages: list[FakeMessage], out: TextIO) -> list[Pressable]:
    """Print bot messages; return the buttons of the last message that has any."""
    buttons: list[Pressable] = []
    for message in messages:
        body = message.raw_text if message.raw_text is not None else message.raw_caption or ""
        if (message.parse_mode or "").lower() == "html":
            body = html_to_terminal(body)
        if message.document:
            body = f"[file {message.document.get('file_name')}] {body}".rstrip()
        print(file=out)
        print(body, file=out)
        flat = [button for row in message.buttons for button in row]
        if flat:
            for number, (label, _) in enumerate(flat, start=1):
                print(f"  [{number}] {label}", file=out)
            buttons = [(message.message_id, data) for _, data in flat]
    out.flush()
    return buttons


async def converse(user: SimulatedUser, lines: TextIO, out: TextIO) -> None:
    """Read the merchant's lines until end of input."""
    loop = asyncio.get_running_loop()
    buttons: list[Pressable] = []
    while True:
        print("\n> ", end="", file=out, flush=True)
        line = await loop.run_in_executor(None, lines.readline)
        if not line:
            print(file=out)
            return
        typed = line.strip()
        if not typed:
            continue
        if not lines.isatty():
            print(typed, file=out)  # echo piped input so the transcript reads like a chat
        if typed.isdigit() and buttons and 1 <= int(typed) <= len(buttons):
            owner, data = buttons[int(typed) - 1]
            if data is None or data.startswith("http"):
                print(f"(opens {data})", file=out)
                continue
            replies = await user.press_data(owner, data)
        else:
            replies = await user.send(typed)
        shown = render(replies, out)
        if shown:
            buttons = shown


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_application
    from bot.db import Database
    from bot.models import utcnow

    now = _parse_moment(args.now, "--now") if args.now else None
    deadline = _parse_moment(args.deadline, "--deadline") if args.deadline else settings.deadline
    content = load_content(settings.content_dir)
    temp = None
    # A throwaway database unless the operator named one (env or .env).
    database_url = settings.database_url if "database_url" in settings.model_fields_set else ""
    if not database_url:
        temp = tempfile.TemporaryDirectory(prefix="bot-demo-")
        database_url = f"sqlite+aiosqlite:///{Path(temp.name) / 'demo.db'}"
    demo_settings = settings.model_copy(
        update={
            "telegram_token": SecretStr(DEMO_TOKEN),
            "database_url": database_url,
            "deadline": deadline,
        }
    )
    db = Database(database_url)
    await db.upgrade()
    fake = FakeTelegram(token=DEMO_TOKEN, bot_first_name="Storefront → Shop assistant")
    app = build_application(
        demo_settings,
        request=FakeRequest(fake),
        get_updates_request=FakeRequest(fake),
        content=content,
        db=db,
        clock=(lambda: now) if now is not None else utcnow,
    )
    try:
        async with app:
            if app.post_init is not None:
                await app.post_init(app)
            user = SimulatedUser(
                app, fake, user_id=DEMO_USER_ID, first_name="Demo", language_code=args.lang
            )
            print(
                "demo: type /start (or /help); a number presses a button; Ctrl-D quits.",
                file=sys.stderr,
            )
            await converse(user, sys.stdin, sys.stdout)
    finally:
        await db.dispose()
        if temp is not None:
            temp.cleanup()
    return 0


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the terminal demo; exit 0 at end of input."""
    try:
        return asyncio.run(_demo(args, settings))
    except KeyboardInterrupt:
        return 0
