"""The demo's terminal side: print bot messages, read what the merchant types.

``python -m bot demo`` (started in :mod:`bot.modes`) runs the same Application, handlers,
content and database code against the in-process fake Bot API the tests use. Bot messages
print as plain text; inline buttons print as a numbered list: type a number to press one,
anything else is sent as a message. End of input exits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TextIO

from bot.botapi.fake import FakeMessage, SimulatedUser
from bot.botapi.tghtml import html_to_terminal
from bot.config import ConfigError

DEMO_TOKEN = "1000000001:" + "D" * 35  # the fake accepts it; it never leaves this process
DEMO_USER_ID = 424242


def parse_moment(value: str, name: str) -> datetime:
    """A ``--now`` / ``--deadline`` value: ISO 8601, UTC when no zone is given."""
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
