"""Segments of merchants an operator can reach, as data (pure: no SQL, no Telegram).

A :class:`Segment` is a conjunction of filters; an empty segment is every merchant the bot
may message. It has one text form, shared by the CLI and the console, e.g.::

    market=uk,de platform=shopify status=not_started lang=de stopped=market:3 idle=14
    plan=not-opened

* ``market``, ``platform``, ``status`` (the TikTok Shop status answer), ``lang`` (the locale
  the merchant reads): any of the listed values (comma-separated);
* ``stopped=<question>:<days>``: still in the interview, on that question, no activity for
  more than that many days;
* ``plan=not-opened``: finished the interview but never opened the plan or a step;
* ``idle=<days>``: no progress (an answer or a step marked) for more than that many days.

Blocked merchants and those who pressed "stop these messages" are never in a segment.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

__all__ = ["Segment", "SegmentError", "check_ids", "parse_segment"]

_ID = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_DAYS = 3650


class SegmentError(ValueError):
    """A segment text that does not parse; the message says which part and why."""


@dataclass(frozen=True)
class Segment:
    """Which merchants a broadcast reaches (every filter given must hold)."""

    markets: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    stopped_at: str | None = None  # question id
    stopped_days: int = 0  # idle more than this many days on ``stopped_at``
    plan_not_opened: bool = False
    no_progress_days: int | None = None

    def text(self) -> str:
        """The canonical text form (parses back to an equal segment)."""
        parts = []
        for key, values in (
            ("market", self.markets),
            ("platform", self.platforms),
            ("status", self.statuses),
            ("lang", self.languages),
        ):
            if values:
                parts.append(f"{key}={','.join(values)}")
        if self.stopped_at is not None:
            parts.append(f"stopped={self.stopped_at}:{self.stopped_days}")
        if self.plan_not_opened:
            parts.append("plan=not-opened")
        if self.no_progress_days is not None:
            parts.append(f"idle={self.no_progress_days}")
        return " ".join(parts)

    @property
    def everyone(self) -> bool:
        """No filter at all."""
        return self.text() == ""


def _ids(key: str, value: str) -> tuple[str, ...]:
    items = tuple(sorted({v.strip().lower() for v in value.split(",") if v.strip()}))
    if not items:
        raise SegmentError(f"{key}: give at least one value")
    for item in items:
        if not _ID.match(item):
            raise SegmentError(f"{key}: {item!r} is not an id (a-z, 0-9, _ and -)")
    return items


def _days(key: str, value: str) -> int:
    if not value.strip().isdigit() or int(value) > MAX_DAYS:
        raise SegmentError(f"{key}: {value!r} is not a number of days (0-{MAX_DAYS})")
    return int(value)


def parse_segment(text: str) -> Segment:
    """Parse the text form (``key=value`` parts separated by spaces or ``;``)."""
    values: dict[str, object] = {}
    for part in re.split(r"[\s;]+", text.strip()):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise SegmentError(
                f"{part!r}: write key=value (market, platform, status, lang, stopped, plan, idle)"
            )
        if key in ("market", "platform", "status", "lang"):
            name = {
                "market": "markets",
                "platform": "platforms",
                "status": "statuses",
                "lang": "languages",
            }[key]
            values[name] = _ids(key, value)
        elif key == "stopped":
            question, colon, days = value.partition(":")
            if not _ID.match(question.strip().lower()):
                raise SegmentError(f"stopped: {question!r} is not a question id")
            values["stopped_at"] = question.strip().lower()
            values["stopped_days"] = _days("stopped", days) if colon else 0
        elif key == "plan":
            if value.strip().lower() not in ("not-opened", "not_opened"):
                raise SegmentError("plan: the only value is not-opened")
            values["plan_not_opened"] = True
        elif key == "idle":
            values["no_progress_days"] = _days("idle", value)
        else:
            raise SegmentError(
                f"unknown filter {key!r} (market, platform, status, lang, stopped, plan, idle)"
            )
    return Segment(**values)  # type: ignore[arg-type]


def check_ids(segment: Segment, known: Mapping[str, Collection[str]]) -> None:
    """Refuse an id the content does not have (a typo would reach nobody, silently).

    ``known`` maps ``market``, ``platform``, ``status``, ``lang`` and ``question`` to the
    ids the running content has.
    """
    for key, values, kind in (
        ("market", segment.markets, "market"),
        ("platform", segment.platforms, "platform"),
        ("status", segment.statuses, "status"),
        ("lang", segment.languages, "language"),
        ("stopped", (segment.stopped_at,) if segment.stopped_at else (), "question"),
    ):
        ids = known.get(kind if kind != "language" else "lang", ())
        for value in values:
            if value not in ids:
                raise SegmentError(
                    f"{key}: {value!r} is not a {kind} id (known: {', '.join(ids)})"
                )
