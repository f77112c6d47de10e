"""Bot API calls whose results the bot does not need as python-telegram-bot objects.

PTB's methods build a full object from every response: ``get_updates`` an ``Update`` per
update (which the inbox then stored as JSON and parsed again when handling it),
``send_message`` and ``edit_message_text`` the whole sent ``Message`` with its inline
keyboard, which the bot never reads. Under load, building those objects was about 18 % of
the bot's CPU samples per interview update (py-spy; benchmarks/README.md, issue 20, fourth
pass). These calls
take the same road as PTB's methods (the rate limiter, the transport and its metrics,
PTB's mapping of error answers to ``BadRequest``, ``Forbidden``, ``RetryAfter``,
``NetworkError``, ``TimedOut``, the ``Defaults``) and return the Bot API's JSON result.
Updates are parsed once, when they are handled (:mod:`bot.updates`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from telegram import TelegramObject
from telegram.ext import Defaults, ExtBot

from bot.botapi.markup import keyboard
from bot.views.model import Screen

#: Parameters of sendMessage/editMessageText that PTB fills from the Application's
#: ``Defaults`` when not given (PTB passes them as ``DefaultValue`` sentinels).
_SEND_DEFAULTS = ("parse_mode", "link_preview_options", "disable_notification", "protect_content")
_EDIT_DEFAULTS = ("parse_mode", "link_preview_options")


async def post(bot: ExtBot[Any], method: str, params: dict[str, Any], **timeouts: Any) -> Any:
    """Call ``method`` the way PTB's own methods do, and return the raw JSON result.

    ``Bot._post`` is private, but it is the one function every PTB method ends in: it drops
    ``None`` parameters, inserts the ``Defaults`` given as sentinels, and goes through
    ``ExtBot._do_post`` (the rate limiter; never for getUpdates) to the request object, which
    maps error answers to PTB's exceptions. The public ``Bot.do_api_request`` does the same
    but warns (an error under the test suite's warning filter) for every method PTB wraps,
    which are exactly the ones called here. Checked against python-telegram-bot 22.8
    (pyproject pins 22.*); ``tests/test_rawapi.py`` fails if its signature changes or the
    requests and errors stop matching PTB's own methods'.
    """
    return await bot._post(method, params, **timeouts)  # private: see the docstring


def _defaults(bot: ExtBot[Any], params: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """``params`` with the Application's ``Defaults`` for ``names`` not given (as PTB does
    for a method's arguments left at their ``DefaultValue``), objects as their JSON text."""
    defaults = bot.defaults
    if defaults is not None:
        api_defaults = _api_defaults(defaults)
        for name in names:
            if name in api_defaults and params.get(name) is None:
                params[name] = api_defaults[name]
    return params


@lru_cache(maxsize=4)
def _api_defaults(defaults: Defaults) -> Mapping[str, Any]:
    """The ``Defaults``' values for API parameters as requests carry them (objects as JSON
    text: turning the link-preview options into a dict per reply was a seventh of the
    reply's CPU on PTB's side). ``Defaults`` cannot be changed once made (PTB refuses to
    set its attributes), and equal ones hash alike."""
    return MappingProxyType({k: _json_text(v) for k, v in defaults.api_defaults.items()})


def _json_text(value: Any) -> Any:
    """A parameter as PTB writes it into the request: a Telegram object (or a keyboard's
    dict) as the JSON text ``RequestParameter.json_value`` makes of it; text, numbers and
    None as they are.

    Given as text, PTB sends it unchanged, instead of walking the keyboard's every button
    for files to upload and JSON-encoding it twice per request (``RequestData`` asks each
    parameter's ``json_value`` twice): a third of PTB's CPU per reply
    (benchmarks/README.md, issue 20, seventh session). ``tests/test_rawapi.py`` compares
    the request bodies with PTB's own methods'.
    """
    if isinstance(value, TelegramObject):
        value = value.to_dict()
    return json.dumps(value) if isinstance(value, dict) else value


async def send_text(bot: ExtBot[Any], chat_id: int, screen: Screen) -> dict[str, Any]:
    """``sendMessage`` of a screen (text and keyboard); the sent message as JSON."""
    params = {
        "chat_id": chat_id,
        "text": screen.text,
        "reply_markup": _json_text(keyboard(screen)),
    }
    result: dict[str, Any] = await post(bot, "sendMessage", _defaults(bot, params, _SEND_DEFAULTS))
    return result


async def edit_text(
    bot: ExtBot[Any], chat_id: int, message_id: int, screen: Screen
) -> dict[str, Any] | bool:
    """``editMessageText`` of a chat's message to a screen; the edited message as JSON."""
    params = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": screen.text,
        "reply_markup": _json_text(keyboard(screen)),
    }
    result: dict[str, Any] | bool = await post(
        bot, "editMessageText", _defaults(bot, params, _EDIT_DEFAULTS)
    )
    return result


async def get_updates(
    bot: ExtBot[Any],
    *,
    offset: int | None,
    long_poll: int,
    read_timeout: float,
    allowed_updates: Sequence[str],
) -> list[dict[str, Any]]:
    """``getUpdates`` (long polling ``long_poll`` seconds) as the Bot API's list of updates.

    ``read_timeout`` bounds the whole call; it must exceed ``long_poll``.
    """
    params = {"offset": offset, "timeout": long_poll, "allowed_updates": list(allowed_updates)}
    result: list[dict[str, Any]] = await post(bot, "getUpdates", params, read_timeout=read_timeout)
    return result
