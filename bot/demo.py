"""The demo's terminal side: print bot messages, read what the merchant types.

``python -m bot demo`` (started in :mod:`bot.modes`) runs the same Application, handlers,
content and database code against the in-process fake Bot API the tests use. Bot messages
print as plain text; inline buttons print as a numbered list: type a number to press one,
anything else is sent as a message; ``:wait 2d`` moves the clock so due reminders arrive;
``:reload`` re-reads the content folder (as SIGHUP does), so an editor sees an edit at once.
Files the bot sends are saved to a folder, and toasts are printed. End of input (or
Ctrl-C) exits.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
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

#: ``:wait 2d`` (or ``12h``, ``30m``) moves the demo's clock forward: reminders due by then
#: arrive, as they would while the merchant is away.
_WAIT = re.compile(r"^:wait\s+(\d{1,4})\s*([dhm])$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_RELOAD = ":reload"


class DemoClock:
    """The demo's clock: ``--now`` (or the real time) plus however long was ``:wait``-ed."""

    def __init__(self, start: datetime | None) -> None:
        self.start = start
        self.waited = timedelta(0)

    def __call__(self) -> datetime:
        """The demo's current time."""
        base = self.start if self.start is not None else datetime.now(UTC)
        return base + self.waited


def render(messages: list[FakeMessage], out: TextIO, files: Path | None = None) -> list[Pressable]:
    """Print bot messages; return the buttons of the last message that has any.

    Files the bot sends are saved into ``files`` (when given) and the path is printed.
    """
    buttons: list[Pressable] = []
    for message in messages:
        body = message.raw_text if message.raw_text is not None else message.raw_caption or ""
        if (message.parse_mode or "").lower() == "html":
            body = html_to_terminal(body)
        if message.document:
            name = str(message.document.get("file_name") or "file")
            where = name
            if files is not None and message.document_bytes is not None:
                files.mkdir(parents=True, exist_ok=True)
                path = files / Path(name).name
                path.write_bytes(message.document_bytes)
                where = str(path)
            body = f"[file {name}, saved to {where}] {body}".rstrip()
        print(file=out)
        print(body, file=out)
        flat = [button for row in message.buttons for button in row]
        if flat:
            for number, (label, _) in enumerate(flat, start=1):
                print(f"  [{number}] {label}", file=out)
            buttons = [(message.message_id, data) for _, data in flat]
    out.flush()
    return buttons


def _reader(lines: TextIO) -> asyncio.Queue[str]:
    """Lines from ``lines`` read in a daemon thread, so Ctrl-C ends the demo at once."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in lines:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=read, name="demo-stdin", daemon=True).start()
    return queue


async def converse(
    user: SimulatedUser,
    lines: TextIO,
    out: TextIO,
    *,
    clock: DemoClock | None = None,
    deliver_due: Callable[[], Awaitable[object]] | None = None,
    files: Path | None = None,
    reload: Callable[[], Awaitable[str]] | None = None,
) -> None:
    """Read the merchant's lines until end of input.

    After each line, reminders that are due go out (``deliver_due``) and show up like any
    other message; a button press's toast is printed as ``(toast: …)``. ``:reload`` awaits
    ``reload`` and prints what it says.
    """
    queue = _reader(lines)
    buttons: list[Pressable] = []
    while True:
        print("\n> ", end="", file=out, flush=True)
        line = await queue.get()
        if not line:
            print(file=out)
            return
        typed = line.strip()
        if not typed:
            continue
        if not lines.isatty():
            print(typed, file=out)  # echo piped input so the transcript reads like a chat
        mark = user.mark()
        waited = _WAIT.match(typed)
        if waited and clock is not None:
            clock.waited += int(waited.group(1)) * _UNITS[waited.group(2)]
            print(f"(it is now {clock():%Y-%m-%d %H:%M} UTC)", file=out)
        elif typed == _RELOAD and reload is not None:
            print(await reload(), file=out)
        elif typed.isdigit() and buttons and 1 <= int(typed) <= len(buttons):
            owner, data = buttons[int(typed) - 1]
            if data is None or data.startswith("http"):
                print(f"(opens {data})", file=out)
                continue
            await user.press_data(owner, data)
            answer = user.last_callback_answer()
            if answer is not None and answer.text:
                print(f"(toast: {answer.text})", file=out)
        else:
            await user.send(typed)
        if deliver_due is not None:
            await deliver_due()
        shown = render(user.replies_since(mark), out, files)
        if shown:
            buttons = shown
