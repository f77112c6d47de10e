"""Logging: one line per event, text or JSON, with secrets scrubbed from every record.

Every record logged while an update is being handled carries that update's id, chat id and
handler (:data:`UPDATE` is set around update processing by :mod:`bot.app`; the
:class:`UpdateFields` filter copies it onto the record): in text as ``[update=.. chat=..
handler=..]`` after the message, in JSON as ``update_id``, ``chat_id`` and ``handler``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class UpdateInfo:
    """What the log says about the update being handled (mutable: the handler is set later)."""

    update_id: int | None = None
    chat_id: int | None = None
    handler: str | None = None

    def fields(self) -> dict[str, int | str]:
        """The known fields, for JSON logs and operator notices."""
        values = {"update_id": self.update_id, "chat_id": self.chat_id, "handler": self.handler}
        return {k: v for k, v in values.items() if v is not None}

    def suffix(self) -> str:
        """`` [update=1 chat=2 handler=start]`` (empty outside an update)."""
        names = {"update_id": "update", "chat_id": "chat", "handler": "handler"}
        parts = [f"{names[k]}={v}" for k, v in self.fields().items()]
        return f" [{' '.join(parts)}]" if parts else ""


UPDATE: ContextVar[UpdateInfo | None] = ContextVar("bot_update", default=None)


@contextmanager
def update_context(update_id: int | None, chat_id: int | None) -> Iterator[UpdateInfo]:
    """Tag every log record in this block (and tasks started in it) with the update."""
    info = UpdateInfo(update_id, chat_id)
    token = UPDATE.set(info)
    try:
        yield info
    finally:
        UPDATE.reset(token)


def current_update() -> UpdateInfo:
    """The update being handled, or an empty UpdateInfo outside one."""
    return UPDATE.get() or UpdateInfo()


class UpdateFields(logging.Filter):
    """Copy the current update's id, chat id and handler onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``update_id``, ``chat_id``, ``handler`` and the text ``update_suffix``."""
        info = UPDATE.get()
        if not hasattr(record, "update_suffix"):
            record.update_suffix = info.suffix() if info else ""
            record.update_fields = info.fields() if info else {}
        return True


class NoticeLimiter:
    """At most one operator notice per error kind per ``every`` seconds, with a count.

    ``allow(kind)`` returns how many errors of that kind happened since the last notice
    (this one included) when a notice may go out now, else ``None`` (the error is counted
    and reported with the next notice of its kind).
    """

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """Count one error of ``kind``; the count to report if a notice may go out now."""
        now = self.clock()
        self._pending[kind] = self._pending.get(kind, 0) + 1
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            return None
        self._last[kind] = now
        return self._pending.pop(kind)


#: A secret shorter than this is scrubbed only where it stands alone (not inside a longer
#: word): a database password such as ``postgres`` or ``sql`` would otherwise be cut out of
#: ``postgresql`` in every line. Tokens and generated secrets are longer, and scrubbed
#: wherever they appear (the bot token inside ``/bot<token>/getMe``).
SHORT_SECRET = 16


def _pattern(secret: str) -> re.Pattern[str]:
    escaped = re.escape(secret)
    if len(secret) >= SHORT_SECRET:
        return re.compile(escaped)
    return re.compile(rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``<redacted>`` (short ones where they stand
    alone, see SHORT_SECRET)."""
    for secret in secrets:
        if secret:
            text = _pattern(secret).sub("<redacted>", text)
    return text


class Redact(logging.Filter):
    """Replace every secret (bot token, webhook secret) wherever it appears in a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)
        self.patterns = tuple(_pattern(s) for s in self.secrets)

    def _scrub(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.sub("<redacted>", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message now and scrub it (and any traceback text)."""
        if not self.secrets:
            return True
        record.msg, record.args = self._scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True


class Throttle(logging.Filter):
    """Let a message starting with ``prefix`` through once per ``every`` seconds, with a count.

    For asyncio's "socket.accept() out of system resource", logged on every loop turn while
    the process is out of file descriptors (hundreds of MB a minute otherwise).
    """

    def __init__(
        self, prefix: str, every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.limiter = NoticeLimiter(every, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop repeats within ``every`` seconds; say how many were dropped."""
        if not str(record.msg).startswith(self.prefix):
            return True
        count = self.limiter.allow(self.prefix)
        if count is None:
            return False
        if count > 1:
            record.msg = f"{record.msg} ({count} times since the last such line)"
        record.exc_info = record.exc_info if count == 1 else None
        return True


ACCEPT_FLOOD = "socket.accept() out of system resource"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(update_suffix)s"


class OneLineFormatter(logging.Formatter):
    """Plain text, one line per event: a traceback is kept, its line breaks escaped."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        """Format, then fold any line breaks (tracebacks, multi-line messages)."""
        if not hasattr(record, "update_suffix"):
            UpdateFields().filter(record)
        return super().format(record).replace("\r", "").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "update_fields", None)
        if fields is None:
            info = UPDATE.get()
            fields = info.fields() if info else {}
        payload.update(fields)
        if record.exc_info or record.exc_text:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    """Configure the root logger once, at start-up (never at import)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(UpdateFields())
    handler.addFilter(Redact(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Out of file descriptors, asyncio logs the failed accept() on every loop turn.
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.filters[:] = [f for f in asyncio_log.filters if not isinstance(f, Throttle)]
    asyncio_log.addFilter(Throttle(ACCEPT_FLOOD))
