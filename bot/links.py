"""Deep links: ``https://t.me/<bot>?start=<payload>`` pre-fills answers or opens a step.

Payloads follow Telegram's rule (1-64 characters of ``A-Z a-z 0-9 _ -``):

* ``a__platform-shopify__market-uk-de``: answers; pairs split by ``__``, the key from its
  values by ``-``, several values by ``-`` (ids never contain ``-`` or ``__``);
* ``s__<step-id>``: open a guidance step.

Anything else, or ids the current content does not know, is "outdated": the bot starts
normally and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import ConfigError, Settings
from bot.content import Content, ContentError, load_content
from bot.interview import Answer, Interview

PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAYLOAD = 64


@dataclass(frozen=True)
class DeepLink:
    """What a start payload asks for."""

    answers: Mapping[str, Answer] = field(default_factory=dict)
    step: str | None = None


def encode(*, answers: Mapping[str, Answer] | None = None, step: str | None = None) -> str:
    """The payload for answers or a step; ValueError when it cannot fit Telegram's rule."""
    if step is not None:
        payload = f"s__{step}"
    else:
        pairs = []
        for key, value in (answers or {}).items():
            values = value if isinstance(value, list) else [value] if value else []
            if not values:
                continue
            for item in (key, *values):
                if "-" in item or "__" in item:
                    raise ValueError(f"{item!r} cannot travel in a deep link")
            pairs.append("-".join((key, *values)))
        if not pairs:
            raise ValueError("nothing to encode")
        payload = "a__" + "__".join(pairs)
    if not PAYLOAD.match(payload):
        raise ValueError(
            f"the link payload is {len(payload)} characters; Telegram allows {MAX_PAYLOAD}"
            " of A-Z a-z 0-9 _ -"
        )
    return payload


def decode(payload: str | None, interview: Interview, step_ids: set[str]) -> DeepLink | None:
    """Parse a payload against the current content; None when invalid or outdated."""
    if not payload or not PAYLOAD.match(payload):
        return None
    kind, _, rest = payload.partition("__")
    if kind == "s":
        return DeepLink(step=rest) if rest in step_ids else None
    if kind != "a" or not rest:
        return None
    answers: dict[str, Answer] = {}
    for pair in rest.split("__"):
        key, *values = pair.split("-")
        question = interview.questions.get(key)
        if question is None or not question.is_choice or not values or key in answers:
            return None
        if any(v not in question.options for v in values):
            return None
        if question.kind == "one":
            if len(values) != 1:
                return None
            answers[key] = values[0]
        else:
            answers[key] = [o for o in question.options if o in values]
    return DeepLink(answers=answers)


def _parse_answers(items: list[str], content: Content) -> dict[str, Answer]:
    answers: dict[str, Answer] = {}
    for item in items:
        key, sep, value = item.partition("=")
        question = content.interview.questions.get(key.strip())
        if not sep or question is None or not question.is_choice:
            choices = ", ".join(q.id for q in content.interview.questions.values() if q.is_choice)
            raise ConfigError(f"--answer {item!r}: use KEY=VALUE with KEY one of {choices}")
        values = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in values if v not in question.options]
        if bad or not values or (question.kind == "one" and len(values) != 1):
            options = ", ".join(question.options)
            raise ConfigError(f"--answer {item!r}: {question.id} takes one of {options}")
        answers[question.id] = values if question.kind == "many" else values[0]
    return answers


async def _username(settings: Settings) -> str:
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError

    bot = Bot(
        settings.token(),
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
    )
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise ConfigError(
            f"Telegram at {settings.telegram_base_url} rejected TELEGRAM_TOKEN (unauthorized)"
        ) from None
    except (NetworkError, TelegramError) as exc:
        raise ConfigError(
            f"cannot ask Telegram at {settings.telegram_base_url} for the bot's username: {exc};"
            " pass --bot-username"
        ) from None


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Print the deep link for the given answers or step."""
    try:
        content = load_content(settings.content_dir)
    except ContentError as exc:
        raise ConfigError(f"content is broken: {exc.problems[0]}") from None
    if args.step:
        if args.step not in content.step_index:
            raise ConfigError(f"--step {args.step!r} is not a guidance step id")
        payload_args: dict[str, object] = {"step": args.step}
    else:
        payload_args = {"answers": _parse_answers(args.answer, content)}
    try:
        payload = encode(**payload_args)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"cannot build the link: {exc}") from None
    username = args.bot_username or asyncio.run(_username(settings))
    print(f"https://t.me/{username.lstrip('@')}?start={payload}")
    return 0
