"""Deep links: ``https://t.me/<bot>?start=<payload>`` pre-fills answers or opens a step.

Payloads follow Telegram's rule (1-64 characters of ``A-Z a-z 0-9 _ -``):

* ``a__platform-shopify__market-uk-de``: answers; pairs split by ``__``, the key from its
  values by ``-``, several values by ``-`` (ids never contain ``-`` or ``__``);
* ``s__<step-id>``: open a guidance step.

Anything else, or ids the current content does not know, is "outdated": the bot starts
normally and says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.domain.interview import Answer, Interview

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


def parse_answer_args(
    interview: Interview, items: Sequence[str], *, choices_only: bool = False
) -> dict[str, Answer]:
    """``KEY=VALUE`` pairs from a command line (``market=uk,de``) as answers.

    ValueError names the bad pair and what it may be. ``choices_only`` refuses text and date
    questions (a deep link carries only options).
    """
    answers: dict[str, Answer] = {}
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        question = interview.questions.get(key)
        if not sep or question is None or (choices_only and not question.is_choice):
            keys = [q.id for q in interview.questions.values() if q.is_choice or not choices_only]
            raise ValueError(f"--answer {item!r}: use KEY=VALUE with KEY one of {', '.join(keys)}")
        if key in given:  # the last would silently win
            several = ""
            if question.kind == "many":
                both = ",".join([given[key].partition("=")[2].strip(), value.strip()])
                several = f" (several at once: {key}={both})"
            raise ValueError(
                f"--answer {item!r}: {key} is already answered by {given[key]!r}{several}"
            )
        given[key] = item
        values = list(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
        if question.is_choice:
            bad = [v for v in values if v not in question.options]
            if bad or not values or (question.kind == "one" and len(values) != 1):
                options = ", ".join(question.options)
                raise ValueError(f"--answer {item!r}: {key} takes one of {options}")
            answers[key] = values if question.kind == "many" else values[0]
        elif question.kind == "date":
            try:
                date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"--answer {item!r}: {key} takes a date (YYYY-MM-DD)") from None
            answers[key] = value.strip()
        else:
            answers[key] = value
    return answers
