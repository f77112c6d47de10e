"""Strict in-memory fake of the Telegram Bot API for tests, benchmarks and the demo mode."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.botapi.tghtml import Entity, TelegramHTMLError, html_to_terminal, parse_html, utf16_length

if TYPE_CHECKING:
    from aiohttp import web
    from telegram.ext import Application

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "CallbackAnswer",
    "FakeMessage",
    "FakeNetworkFailure",
    "FakeRequest",
    "FakeServer",
    "FakeTelegram",
    "SimulatedUser",
    "Upload",
    "serve",
]

DEFAULT_TOKEN = "123456789:TEST-fake-token"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
#: Methods that count against rate limits and are refused for blocked chats.
_CHAT_METHODS = frozenset(
    {
        "sendmessage",
        "senddocument",
        "sendchataction",
        "editmessagetext",
        "editmessagereplymarkup",
        "deletemessage",
    }
)
_RATE_LIMITED = frozenset(
    {"sendmessage", "senddocument", "editmessagetext", "editmessagereplymarkup"}
)
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class _ApiError(Exception):
    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class FakeNetworkFailure(Exception):
    """Raised by :meth:`FakeTelegram.handle` for an injected transport failure."""

    def __init__(self, timed_out: bool) -> None:
        """Remember whether this should look like a timeout."""
        super().__init__("injected network failure")
        self.timed_out = timed_out


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content: bytes
    mime_type: str | None = None


@dataclass
class ApiCall:
    """One recorded call to the fake API."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200


@dataclass
class CallbackAnswer:
    """A recorded ``answerCallbackQuery``."""

    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None = None


@dataclass
class FakeMessage:
    """A message the bot sent, as the fake stores it."""

    chat_id: int
    message_id: int
    text: str | None
    raw_text: str | None
    parse_mode: str | None
    entities: list[Entity]
    reply_markup: dict[str, Any] | None
    date: int
    seq: int
    edited: bool = False
    edit_date: int | None = None
    document: dict[str, Any] | None = None
    document_bytes: bytes | None = None
    caption: str | None = None
    raw_caption: str | None = None

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (label, callback_data or url)."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [
            [(b["text"], b.get("callback_data", b.get("url"))) for b in row]
            for row in self.reply_markup["inline_keyboard"]
        ]

    @property
    def button_labels(self) -> list[str]:
        """All inline button labels, row by row."""
        return [label for row in self.buttons for label, _ in row]

    def terminal(self) -> str:
        """Render the message as plain terminal text (HTML converted)."""
        body = self.raw_text if self.raw_text is not None else self.raw_caption or ""
        if (self.parse_mode or "").lower() == "html":
            body = html_to_terminal(body)
        if self.document:
            body = f"[document {self.document.get('file_name')}] {body}".rstrip()
        rows = [" ".join(f"[{label}]" for label, _ in row) for row in self.buttons]
        return "\n".join([body, *rows]) if rows else body


@dataclass
class _Fault:
    method: str | None
    status: int
    description: str | None
    retry_after: int | None
    chat_id: int | None
    times: int
    network: bool = False
    timed_out: bool = False
    delivered: bool = False

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


def _json_value(value: Any) -> Any:
    """Decode a parameter that PTB sends JSON encoded as a string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad("can't parse JSON object") from exc
    return value


def _opt_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _opt_int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad(f"wrong parameter {name}")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad(f"wrong parameter {name}") from exc


def _opt_bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _chat_id(params: Mapping[str, Any]) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise _bad("chat_id is empty")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad("chat not found") from exc


class FakeTelegram:
    """An in-memory Telegram Bot API that checks requests like Telegram does.

    Args:
        token: The only accepted token (others get 401); ``None`` accepts any token.
        bot_first_name: ``first_name`` of the bot user.
        bot_username: ``username`` of the bot user.
        clock: Monotonic clock used for rate limiting and call timestamps.
    """

    def __init__(
        self,
        token: str | None = DEFAULT_TOKEN,
        *,
        bot_first_name: str = "Test Bot",
        bot_username: str = "test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty fake."""
        self.token = token
        self.clock = clock
        #: Seconds every call but getUpdates takes (a slow Bot API; 0 = instant).
        self.latency = 0.0
        bot_id = 123456789
        if token and token.split(":", 1)[0].isdigit():
            bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[ApiCall] = []
        self.answered_callbacks: list[CallbackAnswer] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        # The bot's profile texts by language_code ("" for the default).
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.webhook: dict[str, Any] | None = None
        self.blocked: set[int] = set()
        self.rate_limited_count = 0
        self.rate_limited_by_chat: dict[int, int] = {}
        self._messages: dict[int, list[FakeMessage]] = {}
        self._deleted: dict[int, set[int]] = {}
        self._next_message_id: dict[int, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._last_update_id = 0
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._callback_ids = itertools.count(1)
        self._pending_callbacks: dict[str, int] = {}
        self._files: dict[str, tuple[str, bytes]] = {}
        self._file_ids = itertools.count(1)
        self._faults: list[_Fault] = []
        self._waiters: set[asyncio.Future[None]] = set()
        self._poll_generation = 0
        self._allowed_updates: list[str] | None = None
        self._global_rate: float | None = None
        self._chat_rate: float | None = None
        self._sent_all: deque[float] = deque()
        self._sent_chat: dict[int, deque[float]] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates_sync,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": self._set_my_description,
            "getmydescription": self._get_my_description,
            "setmyshortdescription": self._set_my_short_description,
            "getmyshortdescription": self._get_my_short_description,
            "sendchataction": self._send_chat_action,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }

    # ------------------------------------------------------------------ fault injection
    def fail_next(
        self,
        method: str | None = None,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` matching calls fail with ``status``.

        ``method`` (case-insensitive) and ``chat_id`` narrow which calls match; 429 answers
        carry ``parameters.retry_after`` (default 1 second).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            _Fault(
                method.lower() if method else None,
                status,
                description,
                retry_after,
                chat_id,
                times,
            )
        )

    def fail_next_network(
        self,
        method: str | None = None,
        *,
        timed_out: bool = True,
        delivered: bool = False,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next matching calls fail in transport (PTB raises TimedOut/NetworkError).

        With ``delivered=True`` the call is processed first, so the message exists although
        the client saw a failure (the duplicate-send scenario).
        """
        self._faults.append(
            _Fault(
                method.lower() if method else None,
                0,
                None,
                None,
                chat_id,
                times,
                network=True,
                timed_out=timed_out,
                delivered=delivered,
            )
        )

    def block_chat(self, chat_id: int) -> None:
        """Answer every call for this chat with 403 "bot was blocked by the user"."""
        self.blocked.add(int(chat_id))

    def unblock_chat(self, chat_id: int) -> None:
        """Undo :meth:`block_chat`."""
        self.blocked.discard(int(chat_id))

    def rate_limit(
        self, global_per_second: float | None = None, per_chat_per_second: float | None = None
    ) -> None:
        """Answer 429 with retry_after when a 1-second sliding window rate is exceeded.

        Counts accepted sends and edits overall and per chat; ``None`` disables a limit.
        Refusals are counted in :attr:`rate_limited_count` and :attr:`rate_limited_by_chat`.
        """
        self._global_rate = global_per_second
        self._chat_rate = per_chat_per_second
        self._sent_all.clear()
        self._sent_chat.clear()

    # ------------------------------------------------------------------ inspection
    def calls_to(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (case-insensitive)."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def messages(self, chat_id: int) -> list[FakeMessage]:
        """Bot messages in a chat, in sending order (deleted ones excluded)."""
        return list(self._messages.get(int(chat_id), []))

    def last_message(self, chat_id: int) -> FakeMessage | None:
        """The most recently sent or edited bot message in a chat."""
        msgs = self._messages.get(int(chat_id), [])
        return max(msgs, key=lambda m: m.seq) if msgs else None

    def message(self, chat_id: int, message_id: int) -> FakeMessage | None:
        """Look up one bot message."""
        for msg in self._messages.get(int(chat_id), []):
            if msg.message_id == message_id:
                return msg
        return None

    def messages_since(self, chat_id: int, mark: int) -> list[FakeMessage]:
        """Bot messages sent or edited after ``mark`` (see :meth:`mark`), oldest first."""
        msgs = [m for m in self._messages.get(int(chat_id), []) if m.seq > mark]
        return sorted(msgs, key=lambda m: m.seq)

    def mark(self) -> int:
        """A position in the send/edit order, for :meth:`messages_since`."""
        return self._last_seq

    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued, unconfirmed updates."""
        return list(self._updates)

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes of an uploaded file."""
        return self._files[file_id][1]

    # ------------------------------------------------------------------ simulated users
    def _user(
        self, user_id: int, first_name: str | None = None, language_code: str | None = None
    ) -> dict[str, Any]:
        known = self._users.get(user_id)
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or (known or {}).get("first_name") or "Ann",
        }
        lang = language_code or (known or {}).get("language_code")
        if lang:
            user["language_code"] = lang
        self._users[user_id] = user
        return user

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        user = self._users.get(chat_id, {})
        return {"id": chat_id, "type": "private", "first_name": user.get("first_name", "Ann")}

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = mid + 1
        return mid

    def next_update_id(self) -> int:
        """Allocate the next update_id."""
        self._last_update_id = next(self._update_ids)
        return self._last_update_id

    def _user_message(
        self, user_id: int, first_name: str | None, language_code: str | None
    ) -> dict[str, Any]:
        user = self._user(user_id, first_name, language_code)
        return {
            "message_id": self._new_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }

    def text_update(
        self, user_id: int, text: str, *, first_name: str = "Ann", language_code: str = "en"
    ) -> dict[str, Any]:
        """Build a private-chat text message update (with a bot_command entity for ``/x``)."""
        message = self._user_message(user_id, first_name, language_code)
        message["text"] = text
        if text.startswith("/") and len(text) > 1:
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        return {"update_id": self.next_update_id(), "message": message}

    def edited_text_update(
        self,
        user_id: int,
        message_id: int,
        text: str,
        *,
        first_name: str = "Ann",
        language_code: str = "en",
    ) -> dict[str, Any]:
        """Build the update Telegram sends when the user edits their message ``message_id``
        (requested with ``edited_message`` in allowed_updates)."""
        message = self._user_message(user_id, first_name, language_code)
        self._next_message_id[user_id] -= 1  # an edit is no new message
        message["message_id"] = message_id
        message["edit_date"] = message["date"]
        message["text"] = text
        return {"update_id": self.next_update_id(), "edited_message": message}

    def sticker_update(self, user_id: int) -> dict[str, Any]:
        """Build a private-chat sticker message update."""
        message = self._user_message(user_id, None, None)
        message["sticker"] = {
            "file_id": "CAACAgIAAxkBAAEFakeSticker",
            "file_unique_id": "AgADFakeSticker",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return {"update_id": self.next_update_id(), "message": message}

    def photo_update(self, user_id: int, caption: str | None = None) -> dict[str, Any]:
        """Build a private-chat photo message update."""
        message = self._user_message(user_id, None, None)
        message["photo"] = [
            {"file_id": f"AgACFakePhoto{w}", "file_unique_id": f"AQADp{w}", "width": w,
             "height": w, "file_size": w * 40}
            for w in (90, 320, 800)
        ]  # fmt: skip
        if caption is not None:
            message["caption"] = caption
        return {"update_id": self.next_update_id(), "message": message}

    def my_chat_member_update(self, user_id: int, status: str = "kicked") -> dict[str, Any]:
        """Build a my_chat_member update: the user blocked (``kicked``) or restarted the bot."""
        old, new = ("member", "kicked") if status == "kicked" else ("kicked", status)

        def member(state: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": self.bot_user, "status": state}
            if state == "kicked":
                data["until_date"] = 0
            return data

        return {
            "update_id": self.next_update_id(),
            "my_chat_member": {
                "chat": self._chat(user_id),
                "from": self._user(user_id),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        }

    def callback_update(self, user_id: int, message_id: int, data: str) -> dict[str, Any]:
        """Build a callback_query update for a button press on a stored bot message.

        Raises:
            LookupError: If the bot never sent that message to that chat.
        """
        msg = self.message(user_id, message_id)
        if msg is None:
            raise LookupError(f"no bot message {message_id} in chat {user_id}")
        query_id = f"cbq{next(self._callback_ids)}"
        self._pending_callbacks[query_id] = user_id
        return {
            "update_id": self.next_update_id(),
            "callback_query": {
                "id": query_id,
                "from": self._user(user_id),
                "message": self._message_dict(msg),
                "chat_instance": f"ci{user_id}",
                "data": data,
            },
        }

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update for getUpdates (assigning update_id if missing) and wake pollers."""
        if "update_id" not in update:
            update["update_id"] = self.next_update_id()
        self._updates.append(update)
        self._wake()
        return update

    def _wake(self) -> None:
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    # ------------------------------------------------------------------ dispatch
    async def handle(
        self, token: str, method: str, params: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: (HTTP status, JSON body in Telegram's shape).

        ``params`` values may be what PTB puts on the wire (strings, JSON strings) or decoded
        JSON values; file parts are :class:`Upload` values.

        Raises:
            FakeNetworkFailure: For a failure injected with :meth:`fail_next_network`.
        """
        params = dict(params)
        key = method.lower()
        started = self.clock()
        try:
            if self.token is not None and token != self.token:
                raise _ApiError(401, "Unauthorized")
            handler = self._methods.get(key)
            if handler is None:
                raise _ApiError(404, "Not Found")
            chat_id = _opt_int(params, "chat_id") if key in _CHAT_METHODS else None
            fault = self._take_fault(key, chat_id)
            if fault is not None and fault.network:
                if fault.delivered:
                    await self._run(key, handler, params)
                self._record(method, params, 0, {}, started)
                raise FakeNetworkFailure(fault.timed_out)
            if fault is not None:
                raise self._fault_error(fault)
            if chat_id is not None and chat_id in self.blocked:
                raise _ApiError(403, BLOCKED)
            if key in _RATE_LIMITED and chat_id is not None:
                self._check_rate(chat_id)
            result = await self._run(key, handler, params)
            if key in _RATE_LIMITED and chat_id is not None:
                self._count_send(chat_id)
            status, body = 200, {"ok": True, "result": result}
        except _ApiError as err:
            status = err.status
            body = {"ok": False, "error_code": err.status, "description": err.description}
            if err.parameters:
                body["parameters"] = err.parameters
        self._record(method, params, status, body, started)
        return status, body

    async def _run(
        self, key: str, handler: Callable[[dict[str, Any]], Any], params: dict[str, Any]
    ) -> Any:
        if key == "getupdates":
            return await self._get_updates(params)
        if self.latency:  # a slow Bot API: keeps updates in flight (crash tests)
            await asyncio.sleep(self.latency)
        return handler(params)

    def _record(
        self, method: str, params: dict[str, Any], status: int, body: dict[str, Any], at: float
    ) -> None:
        self.calls.append(ApiCall(method, params, status, body, at))

    def _take_fault(self, key: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(key, chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_error(fault: _Fault) -> _ApiError:
        if fault.status == 429:
            retry = fault.retry_after or 1
            return _ApiError(
                429,
                fault.description or f"Too Many Requests: retry after {retry}",
                {"retry_after": retry},
            )
        description = fault.description or _DEFAULT_DESCRIPTIONS.get(
            fault.status, f"Error {fault.status}"
        )
        params = {"retry_after": fault.retry_after} if fault.retry_after else None
        return _ApiError(fault.status, description, params)

    def _check_rate(self, chat_id: int) -> None:
        now = self.clock()
        window_start = now - 1.0
        while self._sent_all and self._sent_all[0] <= window_start:
            self._sent_all.popleft()
        chat_q = self._sent_chat.setdefault(chat_id, deque())
        while chat_q and chat_q[0] <= window_start:
            chat_q.popleft()
        waits: list[float] = []
        if self._global_rate is not None and len(self._sent_all) >= self._global_rate:
            idx = len(self._sent_all) - int(self._global_rate)
            waits.append(self._sent_all[max(idx, 0)] + 1.0 - now)
        if self._chat_rate is not None and len(chat_q) >= self._chat_rate:
            idx = len(chat_q) - int(self._chat_rate)
            waits.append(chat_q[max(idx, 0)] + 1.0 - now)
        if waits:
            retry = max(1, math.ceil(max(waits)))
            self.rate_limited_count += 1
            self.rate_limited_by_chat[chat_id] = self.rate_limited_by_chat.get(chat_id, 0) + 1
            raise _ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _count_send(self, chat_id: int) -> None:
        if self._global_rate is None and self._chat_rate is None:
            return
        now = self.clock()
        self._sent_all.append(now)
        self._sent_chat.setdefault(chat_id, deque()).append(now)

    # ------------------------------------------------------------------ validation helpers
    def _parse_text(
        self, raw: str | None, parse_mode: str | None, *, caption: bool
    ) -> tuple[str, list[Entity]]:
        raw = raw or ""
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                parsed = parse_html(raw)
            except TelegramHTMLError as exc:
                raise _bad(str(exc)) from exc
            text, entities = parsed.text, parsed.entities
        elif mode in ("", "markdown", "markdownv2"):
            text, entities = raw, []
        else:
            raise _bad(f"unsupported parse_mode {parse_mode}")
        limit = MAX_CAPTION if caption else MAX_TEXT
        if not caption and not text.strip():
            raise _bad("message text is empty")
        if len(text) > limit:
            raise _bad("message caption is too long" if caption else "message is too long")
        return text, entities

    @staticmethod
    def _parse_markup(params: Mapping[str, Any]) -> dict[str, Any] | None:
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return None
        markup = _json_value(raw)
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('can\'t parse inline keyboard button: field "inline_keyboard"')
            if sum(len(r) for r in rows) > 100 or any(len(r) > 8 for r in rows):
                raise _bad("BUTTONS_TOO_MUCH")
            for row in rows:
                for button in row:
                    FakeTelegram._check_button(button)
        elif "keyboard" in markup:
            for row in markup["keyboard"]:
                for button in row:
                    text = button if isinstance(button, str) else button.get("text")
                    if not text:
                        raise _bad("BUTTON_TEXT_INVALID")
        return markup

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not button.get("text"):
            raise _bad("BUTTON_TEXT_INVALID")
        actions = [
            k
            for k in (
                "url",
                "callback_data",
                "web_app",
                "login_url",
                "switch_inline_query",
                "switch_inline_query_current_chat",
                "switch_inline_query_chosen_chat",
                "copy_text",
                "callback_game",
                "pay",
            )
            if k in button
        ]
        if not actions:
            raise _bad("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            parts = urlsplit(str(button["url"]))
            scheme = parts.scheme.lower()
            if not (scheme == "tg" or (scheme in ("http", "https") and parts.netloc)):
                raise _bad("BUTTON_URL_INVALID")

    def _message_dict(self, msg: FakeMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": msg.message_id,
            "from": self.bot_user,
            "chat": self._chat(msg.chat_id),
            "date": msg.date,
        }
        if msg.edit_date is not None:
            data["edit_date"] = msg.edit_date
        if msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = [e.to_dict() for e in msg.entities]
        if msg.document is not None:
            data["document"] = msg.document
            if msg.caption:
                data["caption"] = msg.caption
                if msg.entities:
                    data["caption_entities"] = [e.to_dict() for e in msg.entities]
        if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
            data["reply_markup"] = msg.reply_markup
        return data

    def _store(self, msg: FakeMessage) -> None:
        self._messages.setdefault(msg.chat_id, []).append(msg)

    def _bump(self) -> int:
        self._last_seq = next(self._seq)
        return self._last_seq

    def _find_for_edit(self, params: Mapping[str, Any]) -> FakeMessage:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat_id = _chat_id(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        msg = self.message(chat_id, message_id)
        if msg is None:
            raise _bad("message to edit not found")
        return msg

    # ------------------------------------------------------------------ methods
    def _get_me(self, params: dict[str, Any]) -> Any:  # noqa: ARG002
        return self.bot_user

    def _get_updates_sync(self, params: dict[str, Any]) -> Any:  # noqa: ARG002
        raise AssertionError("getUpdates is dispatched asynchronously")

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = -offset
            self._updates = self._updates[-keep:] if keep else []
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        out = []
        for update in self._updates:
            kind = next((k for k in update if k != "update_id"), None)
            if allowed and kind not in allowed:
                continue
            out.append(update)
            if len(out) >= limit:
                break
        return out

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _opt_int(params, "offset")
        limit = _opt_int(params, "limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = float(_opt_int(params, "timeout") or 0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            allowed = _json_value(params["allowed_updates"])
            self._allowed_updates = list(allowed) or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # an older long poll now ends with 409 Conflict, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            updates = self._deliverable(limit)
            remaining = deadline - loop.time()
            if updates or remaining <= 0:
                return updates
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fut, remaining)
            finally:
                self._waiters.discard(fut)
            if generation != self._poll_generation:
                raise _ApiError(409, _DEFAULT_DESCRIPTIONS[409])

    def _send_message(self, params: dict[str, Any]) -> Any:
        chat_id = _chat_id(params)
        raw = _opt_str(params, "text")
        parse_mode = _opt_str(params, "parse_mode")
        text, entities = self._parse_text(raw, parse_mode, caption=False)
        markup = self._parse_markup(params)
        msg = FakeMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=text,
            raw_text=raw,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=markup,
            date=int(time.time()),
            seq=self._bump(),
        )
        self._store(msg)
        return self._message_dict(msg)

    def _edit_message_text(self, params: dict[str, Any]) -> Any:
        msg = self._find_for_edit(params)
        if msg.text is None:
            raise _bad("there is no text in the message to edit")
        raw = _opt_str(params, "text")
        parse_mode = _opt_str(params, "parse_mode")
        text, entities = self._parse_text(raw, parse_mode, caption=False)
        markup = self._parse_markup(params)
        if text == msg.text and entities == msg.entities and markup == msg.reply_markup:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        msg.text, msg.raw_text, msg.parse_mode, msg.entities = text, raw, parse_mode, entities
        msg.reply_markup = markup
        self._mark_edited(msg)
        return self._message_dict(msg)

    def _edit_reply_markup(self, params: dict[str, Any]) -> Any:
        msg = self._find_for_edit(params)
        markup = self._parse_markup(params)
        if markup == msg.reply_markup or (not markup and not msg.reply_markup):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        msg.reply_markup = markup
        self._mark_edited(msg)
        return self._message_dict(msg)

    def _mark_edited(self, msg: FakeMessage) -> None:
        msg.edited = True
        msg.edit_date = int(time.time())
        msg.seq = self._bump()

    def _delete_message(self, params: dict[str, Any]) -> Any:
        chat_id = _chat_id(params)
        message_id = _opt_int(params, "message_id")
        msg = self.message(chat_id, message_id or 0)
        if msg is None:
            raise _bad("message to delete not found")
        self._messages[chat_id].remove(msg)
        self._deleted.setdefault(chat_id, set()).add(msg.message_id)
        return True

    def _answer_callback(self, params: dict[str, Any]) -> Any:
        query_id = _opt_str(params, "callback_query_id") or ""
        user_id = self._pending_callbacks.pop(query_id, None)
        if user_id is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = _opt_str(params, "text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER:
            raise _bad("MESSAGE_TOO_LONG")
        self.answered_callbacks.append(
            CallbackAnswer(
                callback_query_id=query_id,
                user_id=user_id,
                text=text,
                show_alert=_opt_bool(params, "show_alert"),
                url=_opt_str(params, "url"),
            )
        )
        return True

    @staticmethod
    def _commands_key(params: Mapping[str, Any]) -> str:
        scope = params.get("scope")
        scope_type = _json_value(scope).get("type", "default") if scope else "default"
        return f"{scope_type}:{_opt_str(params, 'language_code') or ''}"

    def _set_my_commands(self, params: dict[str, Any]) -> Any:
        commands = _json_value(params.get("commands", "[]"))
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        clean = []
        for cmd in commands:
            name = str(cmd.get("command", ""))
            description = str(cmd.get("description", ""))
            if not _COMMAND_RE.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        self.commands[self._commands_key(params)] = clean
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _set_my_description(self, params: dict[str, Any]) -> Any:
        text = _opt_str(params, "description") or ""
        if len(text) > 512:
            raise _bad("description is too long")
        self.descriptions[_opt_str(params, "language_code") or ""] = text
        return True

    def _get_my_description(self, params: dict[str, Any]) -> Any:
        # Telegram falls back to the default text for a language without its own.
        code = _opt_str(params, "language_code") or ""
        return {"description": self.descriptions.get(code, self.descriptions.get("", ""))}

    def _set_my_short_description(self, params: dict[str, Any]) -> Any:
        text = _opt_str(params, "short_description") or ""
        if len(text) > 120:
            raise _bad("short description is too long")
        self.short_descriptions[_opt_str(params, "language_code") or ""] = text
        return True

    def _get_my_short_description(self, params: dict[str, Any]) -> Any:
        code = _opt_str(params, "language_code") or ""
        text = self.short_descriptions.get(code, self.short_descriptions.get("", ""))
        return {"short_description": text}

    def _send_chat_action(self, params: dict[str, Any]) -> Any:
        _chat_id(params)
        if _opt_str(params, "action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _send_document(self, params: dict[str, Any]) -> Any:
        chat_id = _chat_id(params)
        doc = params.get("document")
        if isinstance(doc, str) and doc.startswith("attach://"):
            doc = params.get(doc.removeprefix("attach://"))
        if isinstance(doc, Upload):
            if not doc.content:
                raise _bad("file must be non-empty")
            file_id = f"BQACAgFakeDoc{next(self._file_ids)}"
            name = doc.filename or "document"
            self._files[file_id] = (name, doc.content)
            document = {
                "file_id": file_id,
                "file_unique_id": f"AgAD{file_id[-6:]}",
                "file_name": name,
                "mime_type": doc.mime_type or "application/octet-stream",
                "file_size": len(doc.content),
            }
            content: bytes | None = doc.content
        elif isinstance(doc, str) and doc in self._files:
            name, content = self._files[doc]
            document = {"file_id": doc, "file_unique_id": f"AgAD{doc[-6:]}", "file_name": name}
        elif isinstance(doc, str) and doc:
            raise _bad("wrong file identifier/HTTP URL specified")
        else:
            raise _bad("there is no document in the request")
        raw_caption = _opt_str(params, "caption")
        parse_mode = _opt_str(params, "parse_mode")
        caption, entities = self._parse_text(raw_caption, parse_mode, caption=True)
        msg = FakeMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            text=None,
            raw_text=None,
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=self._parse_markup(params),
            date=int(time.time()),
            seq=self._bump(),
            document=document,
            document_bytes=content,
            caption=caption or None,
            raw_caption=raw_caption,
        )
        self._store(msg)
        return self._message_dict(msg)

    def _get_file(self, params: dict[str, Any]) -> Any:
        file_id = _opt_str(params, "file_id") or ""
        if file_id not in self._files:
            raise _bad("invalid file_id")
        name, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{file_id[-6:]}",
            "file_size": len(content),
            "file_path": f"documents/{file_id}/{name}",
        }

    def file_by_path(self, path: str) -> bytes | None:
        """Bytes for a ``file_path`` returned by getFile, or None."""
        parts = unquote(path).split("/")
        if len(parts) >= 2 and parts[0] == "documents" and parts[1] in self._files:
            return self._files[parts[1]][1]
        return None

    def _set_webhook(self, params: dict[str, Any]) -> Any:
        url = _opt_str(params, "url") or ""
        if not url:
            self.webhook = None
            return True
        if urlsplit(url).scheme != "https":
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        self.webhook = {
            "url": url,
            "secret_token": _opt_str(params, "secret_token"),
            "allowed_updates": _json_value(allowed) if allowed else None,
        }
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> Any:  # noqa: ARG002
        info: dict[str, Any] = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook and self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        for key in ("last_error_date", "last_error_message"):  # set by tests
            if self.webhook and self.webhook.get(key) is not None:
                info[key] = self.webhook[key]
        return info


def _read_content(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if hasattr(content, "read"):
        data = content.read()
        return data if isinstance(data, bytes) else str(data).encode()
    return bytes(content)


class FakeRequest(BaseRequest):
    """In-process PTB transport that answers from a :class:`FakeTelegram`.

    Parameters reach the fake exactly as PTB would put them on the wire (string values,
    JSON-encoded objects, multipart file parts as :class:`Upload`).
    """

    __slots__ = ("_base_file_url", "_base_url", "_read_timeout", "fake")

    def __init__(
        self,
        fake: FakeTelegram,
        *,
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str = "https://api.telegram.org/file/bot",
        read_timeout: float | None = 5.0,
    ) -> None:
        """Bind the transport to a fake."""
        self.fake = fake
        self._base_url = base_url
        self._base_file_url = base_file_url
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout (unused in-process, reported to PTB)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Route ``{base_url}{token}/{method}`` to the fake; file URLs return the bytes."""
        del method, read_timeout, write_timeout, connect_timeout, pool_timeout  # in-process
        if url.startswith(self._base_file_url):
            _token, _, path = url[len(self._base_file_url) :].partition("/")
            content = self.fake.file_by_path(path)
            if content is None:
                return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
            return 200, content
        if not url.startswith(self._base_url):
            raise NetworkError(f"FakeRequest cannot reach {url}")
        token, _, api_method = url[len(self._base_url) :].partition("/")
        params: dict[str, Any] = {}
        if request_data is not None:
            params.update(request_data.json_parameters)
            for name, (filename, part, mime) in request_data.multipart_data.items():
                params[name] = Upload(filename, _read_content(part), mime)
        try:
            status, body = await self.fake.handle(token, api_method.split("?")[0], params)
        except FakeNetworkFailure as exc:
            if exc.timed_out:
                raise TimedOut("Timed out (injected)") from exc
            raise NetworkError("Connection reset (injected)") from exc
        return status, json.dumps(body).encode("utf-8")


@dataclass
class FakeServer:
    """A running loopback HTTP server for a :class:`FakeTelegram`."""

    base_url: str
    base_file_url: str
    runner: web.AppRunner
    fake: FakeTelegram

    async def close(self) -> None:
        """Stop the server."""
        await self.runner.cleanup()

    async def __aenter__(self) -> FakeServer:
        """Return self; the server is already running."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.close()


async def serve(fake: FakeTelegram, host: str = "127.0.0.1", port: int = 0) -> FakeServer:
    """Serve ``fake`` over HTTP on loopback like api.telegram.org (JSON, form, multipart)."""
    from aiohttp import web

    async def api(request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        params[name] = Upload(
                            value.filename, value.file.read(), value.content_type
                        )
                    else:
                        params[name] = value
        try:
            status, result = await fake.handle(
                request.match_info["token"], request.match_info["method"], params
            )
        except FakeNetworkFailure:
            status = 502
            result = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        return web.json_response(result, status=status)

    async def file(request: web.Request) -> web.StreamResponse:
        content = fake.file_by_path(request.match_info["path"])
        if content is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=content)

    app = web.Application(client_max_size=60 * 1024 * 1024)
    app.router.add_route("*", "/bot{token}/{method}", api)
    app.router.add_get("/file/bot{token}/{path:.+}", file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = int(runner.addresses[0][1]) if runner.addresses else port
    root = f"http://{host}:{bound_port}"
    return FakeServer(f"{root}/bot", f"{root}/file/bot", runner, fake)


class SimulatedUser:
    """A Telegram user chatting with an :class:`~telegram.ext.Application` in-process.

    The application must be initialised (``async with app:``) and use a :class:`FakeRequest`
    bound to the same fake. Each action returns the bot messages it produced or edited.
    """

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        fake: FakeTelegram,
        *,
        user_id: int = 1001,
        first_name: str = "Ann",
        language_code: str = "en",
    ) -> None:
        """Create the user; nothing is sent yet."""
        self.app = app
        self.fake = fake
        self.user_id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.last_sent_id = 0  # the message_id of the last text this user sent

    async def _process(self, data: dict[str, Any]) -> list[FakeMessage]:
        mark = self.fake.mark()
        await self.app.process_update(Update.de_json(data, self.app.bot))
        return self.replies_since(mark)

    async def send(self, text: str) -> list[FakeMessage]:
        """Send a text message (commands included) and return the bot's replies."""
        update = self.fake.text_update(
            self.user_id, text, first_name=self.first_name, language_code=self.language_code
        )
        self.last_sent_id = int(update["message"]["message_id"])
        return await self._process(update)

    async def edit_sent(self, text: str, message_id: int | None = None) -> list[FakeMessage]:
        """Edit a message this user sent (by default the last one) to ``text``."""
        mid = self.last_sent_id if message_id is None else message_id
        return await self._process(
            self.fake.edited_text_update(
                self.user_id,
                mid,
                text,
                first_name=self.first_name,
                language_code=self.language_code,
            )
        )

    async def press(self, label: str) -> list[FakeMessage]:
        """Press the inline button with exactly this label on the most recent message having it.

        Raises:
            AssertionError: If no bot message in this chat offers that button.
        """
        for msg in sorted(self.fake.messages(self.user_id), key=lambda m: -m.seq):
            rows = (msg.reply_markup or {}).get("inline_keyboard", [])
            for button in (b for row in rows for b in row):
                if button.get("text") != label:
                    continue
                if "callback_data" not in button:
                    raise AssertionError(f"button {label!r} is not a callback button: {button}")
                return await self.press_data(msg.message_id, str(button["callback_data"]))
        last = self.last_reply()
        available = last.button_labels if last else []
        raise AssertionError(f"no button {label!r}; last reply offers {available}")

    async def press_data(self, message_id: int, data: str) -> list[FakeMessage]:
        """Send a callback query with arbitrary (possibly forged or stale) data."""
        return await self._process(self.fake.callback_update(self.user_id, message_id, data))

    async def send_sticker(self) -> list[FakeMessage]:
        """Send a sticker."""
        return await self._process(self.fake.sticker_update(self.user_id))

    async def send_photo(self, caption: str | None = None) -> list[FakeMessage]:
        """Send a photo."""
        return await self._process(self.fake.photo_update(self.user_id, caption))

    async def block_bot(self) -> list[FakeMessage]:
        """Block the bot: further sends get 403 and the bot sees my_chat_member ``kicked``."""
        self.fake.block_chat(self.user_id)
        return await self._process(self.fake.my_chat_member_update(self.user_id, "kicked"))

    async def unblock_bot(self) -> list[FakeMessage]:
        """Unblock the bot (my_chat_member ``member``)."""
        self.fake.unblock_chat(self.user_id)
        return await self._process(self.fake.my_chat_member_update(self.user_id, "member"))

    def mark(self) -> int:
        """A position to pass to :meth:`replies_since`."""
        return self.fake.mark()

    def replies_since(self, mark: int) -> list[FakeMessage]:
        """Bot messages in this chat sent or edited after ``mark``."""
        return self.fake.messages_since(self.user_id, mark)

    def last_reply(self) -> FakeMessage | None:
        """The bot message in this chat that was sent or edited last."""
        return self.fake.last_message(self.user_id)

    def last_text(self) -> str:
        """Plain text (or caption) of :meth:`last_reply`; raises if there is none."""
        msg = self.last_reply()
        if msg is None:
            raise AssertionError(f"the bot has not written to chat {self.user_id}")
        return msg.text if msg.text is not None else msg.caption or ""

    def buttons(self) -> list[str]:
        """Inline button labels of :meth:`last_reply`."""
        msg = self.last_reply()
        return msg.button_labels if msg else []

    def last_callback_answer(self) -> CallbackAnswer | None:
        """The latest answerCallbackQuery for this user."""
        answers = [a for a in self.fake.answered_callbacks if a.user_id == self.user_id]
        return answers[-1] if answers else None

    def transcript(self) -> str:
        """All bot messages in this chat rendered for a terminal, oldest first."""
        return "\n\n".join(m.terminal() for m in self.fake.messages(self.user_id))
