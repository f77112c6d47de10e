"""Pure deadline-alert planning: operator settings parsing, time zones and alert scheduling.

Nothing here does I/O or knows about Telegram or the database; the outbox turns the
:class:`AlertSpec` list returned by :func:`plan_alerts` into rows, upserting by
``(merchant, key)``.

Planning rules (see :func:`plan_alerts`):

1. One alert per offset and target. Whole-day offsets (``7d``) are calendar days in the
   merchant's time zone, so an alert keeps its wall-clock time across DST changes; other
   offsets (``12h``, ``90m``) are exact durations.
2. ``preferred_hour`` moves an alert to that hour on the same local day, never to another
   day: if that hour is after the target (a deadline earlier that day), the alert keeps its
   own time. So each whole-day offset keeps its own day and its own label.
   A go-live date is a whole local day: its alerts may go out until that day ends, so
   "on the day" arrives at the preferred hour of the go-live day itself.
3. An alert falling inside quiet hours moves to the end of the quiet period. If that is after
   the target (for a go-live date: after its day), it moves to the last minute before the
   quiet period started; if that is already in the past, it stays where it is (inside quiet
   hours: the only way to still deliver it).
4. Alerts due before ``now`` and targets already passed are not planned (the caller keeps
   rows it already sent). Two alerts of one kind landing on the same instant collapse into
   the one with the smaller offset, and so does one that would come after a smaller offset's
   (which moved back before quiet hours, past it).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "AlertKind",
    "AlertSpec",
    "QuietHours",
    "format_offset",
    "humanize_left",
    "normalise_local",
    "parse_hour",
    "parse_offsets",
    "parse_quiet_hours",
    "parse_timezone",
    "plan_alerts",
    "zone",
]

AlertKind = Literal["deadline", "golive"]
HumanizeKey = Literal["today", "tomorrow", "in_days", "in_hours", "passed_days"]

_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_OFFSET_RE = re.compile(r"^([+-]?)\s*(\d+)\s*([a-z]*)$", re.IGNORECASE)
_QUIET_RE = re.compile(r"^(.+?)\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*(.+)$", re.IGNORECASE)
_HOUR_RE = re.compile(
    r"^(?:at\s+)?(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*(am|a\.m\.|pm|p\.m\.|h|o'?clock)?$",
    re.IGNORECASE,
)
_UTC_OFFSET_RE = re.compile(
    r"^(?:(?:utc|gmt)\s*)?([+-])\s*(\d{1,2})(?:(?::|h)?\s*(\d{2}))?$", re.IGNORECASE
)
_UTC_NAMES = frozenset({"utc", "gmt", "z", "zulu", "uct", "etc/utc", "etc/gmt", "universal"})
_CANONICAL_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
# Cities people type that are not the city part of an IANA name, plus common abbreviations.
_ALIASES = {
    "kiev": "Europe/Kyiv",
    "saigon": "Asia/Ho_Chi_Minh",
    "hcmc": "Asia/Ho_Chi_Minh",
    "ho chi minh city": "Asia/Ho_Chi_Minh",
    "hanoi": "Asia/Ho_Chi_Minh",
    "washington": "America/New_York",
    "washington dc": "America/New_York",
    "nyc": "America/New_York",
    "miami": "America/New_York",
    "boston": "America/New_York",
    "atlanta": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles",
    "houston": "America/Chicago",
    "dallas": "America/Chicago",
    "austin": "America/Chicago",
    "manchester": "Europe/London",
    "birmingham": "Europe/London",
    "edinburgh": "Europe/London",
    "glasgow": "Europe/London",
    "cork": "Europe/Dublin",
    "barcelona": "Europe/Madrid",
    "valencia": "Europe/Madrid",
    "seville": "Europe/Madrid",
    "munich": "Europe/Berlin",
    "hamburg": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "cologne": "Europe/Berlin",
    "lyon": "Europe/Paris",
    "marseille": "Europe/Paris",
    "milan": "Europe/Rome",
    "naples": "Europe/Rome",
    "antwerp": "Europe/Brussels",
    "rio": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo",
    "guadalajara": "America/Mexico_City",
    "monterrey": "America/Mexico_City",
    "cdmx": "America/Mexico_City",
    "osaka": "Asia/Tokyo",
    "kyoto": "Asia/Tokyo",
    "cebu": "Asia/Manila",
    "penang": "Asia/Kuala_Lumpur",
    "kl": "Asia/Kuala_Lumpur",
    "bali": "Asia/Makassar",
    # Countries of the bot's markets that (practically) use one zone.
    "uk": "Europe/London",
    "united kingdom": "Europe/London",
    "great britain": "Europe/London",
    "england": "Europe/London",
    "scotland": "Europe/London",
    "wales": "Europe/London",
    "ireland": "Europe/Dublin",
    "spain": "Europe/Madrid",
    "germany": "Europe/Berlin",
    "france": "Europe/Paris",
    "italy": "Europe/Rome",
    "belgium": "Europe/Brussels",
    "mexico": "America/Mexico_City",
    "japan": "Asia/Tokyo",
    "thailand": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh",
    "philippines": "Asia/Manila",
    "malaysia": "Asia/Kuala_Lumpur",
    "ukraine": "Europe/Kyiv",
    # Abbreviations people use for the big zones.
    "eastern": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "central": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "mountain": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "pacific": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "bst": "Europe/London",
    "cet": "Europe/Paris",
    "cest": "Europe/Paris",
    "jst": "Asia/Tokyo",
}


#: The time zone proposed to a merchant from their market answer (option ids of the
#: ``market`` question in content/interview.yaml), for markets that (practically) use one.
MARKET_ZONES: dict[str, str] = {
    "uk": "Europe/London",
    "ie": "Europe/Dublin",
    "es": "Europe/Madrid",
    "de": "Europe/Berlin",
    "fr": "Europe/Paris",
    "it": "Europe/Rome",
    "be": "Europe/Brussels",
    "nl": "Europe/Amsterdam",
    "at": "Europe/Vienna",
    "pl": "Europe/Warsaw",
    "mx": "America/Mexico_City",
    "br": "America/Sao_Paulo",
    "jp": "Asia/Tokyo",
}
#: The hour alerts arrive at until the merchant picks another (local time).
DEFAULT_HOUR = 10


def zone_for_markets(markets: Iterable[str]) -> str | None:
    """The time zone of the merchant's first one-zone market, if any."""
    return next((MARKET_ZONES[m] for m in markets if m in MARKET_ZONES), None)


# -- operator settings ---------------------------------------------------------------------


def format_offset(offset: timedelta) -> str:
    """Return the canonical label of an alert offset: ``7d``, ``12h``, ``90m`` or ``0d``.

    Raises:
        ValueError: For negative offsets or offsets that are not whole minutes.
    """
    if offset < timedelta(0):
        raise ValueError(f"negative alert offset {offset}")
    for unit in ("d", "h", "m"):
        count, rest = divmod(offset, _UNITS[unit])
        if not rest:
            return f"{count}{unit}"
    raise ValueError(f"alert offset {offset} is not a whole number of minutes")


#: The furthest an alert may go out before its date (about ten years).
MAX_OFFSET = timedelta(days=3650)


def parse_offsets(spec: str) -> tuple[timedelta, ...]:
    """Parse ``ALERT_OFFSETS`` such as ``"30d,14d,7d,3d,1d,0d"``.

    Units are ``d`` (days), ``h`` (hours) and ``m`` (minutes); whitespace is tolerated and
    units are case-insensitive. Duplicates (``1d`` and ``24h`` too) are removed.

    Returns:
        The offsets, largest first.

    Raises:
        ValueError: Naming the offending item, for an empty setting, empty items, negative
            numbers, missing or unknown units and other garbage.
    """
    if not spec.strip():
        raise ValueError("ALERT_OFFSETS is empty: expected e.g. '30d,7d,1d,0d'")
    found: set[timedelta] = set()
    for position, raw in enumerate(spec.split(","), start=1):
        item = raw.strip()
        if not item:
            raise ValueError(f"ALERT_OFFSETS item {position} is empty in {spec!r}")
        match = _OFFSET_RE.match(item)
        if match is None:
            raise ValueError(
                f"ALERT_OFFSETS item {item!r} is not a number followed by d, h or m (e.g. '7d')"
            )
        sign, number, unit = match.groups()
        if sign == "-":
            raise ValueError(f"ALERT_OFFSETS item {item!r} is negative; offsets count backwards")
        unit = unit.lower()
        if unit not in _UNITS:
            raise ValueError(
                f"ALERT_OFFSETS item {item!r} has "
                + (f"unknown unit {unit!r}" if unit else "no unit")
                + "; use d, h or m"
            )
        try:
            offset = int(number) * _UNITS[unit]
        except OverflowError:
            offset = None
        if offset is None or offset > MAX_OFFSET:
            # Further back than that only moves alerts before any date the bot handles
            # (and past year 1, every plan fails to compute).
            raise ValueError(f"ALERT_OFFSETS item {item!r} is too large: at most 3650d")
        found.add(offset)
    return tuple(sorted(found, reverse=True))


@dataclass(frozen=True)
class QuietHours:
    """Local hours during which no alert should arrive, ``[start:00, end:00)``, may wrap."""

    start: int
    end: int

    def __post_init__(self) -> None:
        """Validate the hours."""
        for name, value in (("start", self.start), ("end", self.end)):
            if not 0 <= value <= 23:
                raise ValueError(f"quiet hours {name} {value} is not an hour between 0 and 23")
        if self.start == self.end:
            raise ValueError(
                f"quiet hours {self.start}-{self.end} start and end at the same hour; "
                "leave QUIET_HOURS empty to disable them"
            )

    def contains(self, local_time: time | datetime) -> bool:
        """Return whether a local wall-clock time falls inside the quiet period."""
        moment = local_time.time() if isinstance(local_time, datetime) else local_time
        moment = moment.replace(tzinfo=None, fold=0)
        start, end = time(self.start), time(self.end)
        if self.start < self.end:
            return start <= moment < end
        return moment >= start or moment < end

    def next_end(self, local_dt: datetime) -> datetime:
        """Return the first moment at or after ``local_dt`` when the local clock reads ``end:00``.

        For a time inside the quiet period that is the moment the period ends. The result is
        in ``local_dt``'s time zone, normalised like :func:`normalise_local`.
        """
        candidate = datetime.combine(local_dt.date(), time(self.end))
        if candidate < local_dt.replace(tzinfo=None, fold=0):
            candidate += _DAY
        return _attach(candidate, _tz_of(local_dt))

    def previous_start(self, local_dt: datetime) -> datetime:
        """Return the last moment at or before ``local_dt`` when the clock read ``start:00``."""
        candidate = datetime.combine(local_dt.date(), time(self.start))
        if candidate > local_dt.replace(tzinfo=None, fold=0):
            candidate -= _DAY
        return _attach(candidate, _tz_of(local_dt))

    def __str__(self) -> str:
        """Return the setting form, e.g. ``21-8``."""
        return f"{self.start}-{self.end}"


def parse_hour(text: str) -> int:
    """A whole local hour as people type it: ``9``, ``9am``, ``9 pm``, ``21:00``, ``07.00h``.

    Raises:
        ValueError: For anything else, minutes other than ``00`` included.
    """
    match = _HOUR_RE.match(" ".join(text.split()))
    if match is None:
        raise ValueError(f"{text!r} is not an hour, e.g. '9am' or '21:00'")
    hour, minutes, suffix = int(match.group(1)), match.group(2), (match.group(3) or "").lower()
    if minutes not in (None, "00"):
        raise ValueError(f"{text!r} is not a whole hour")
    if suffix.startswith(("a", "p")):
        if not 1 <= hour <= 12:
            raise ValueError(f"{text!r}: {hour} is not an hour of a 12-hour clock")
        hour = hour % 12 + (12 if suffix.startswith("p") else 0)
    if not 0 <= hour <= 23:
        raise ValueError(f"{text!r}: {hour} is not an hour between 0 and 23")
    return hour


def parse_quiet_hours(spec: str) -> QuietHours | None:
    """Parse ``QUIET_HOURS`` such as ``"21-8"`` (local hours, may wrap midnight).

    Each side is an hour as :func:`parse_hour` reads it, so ``22:00-07:00``, ``10pm-7am``
    and ``22 to 7`` work too.

    Returns:
        The quiet hours, or ``None`` for an empty setting.

    Raises:
        ValueError: For anything that is not ``START-END`` with two different hours 0-23.
    """
    text = spec.strip()
    if not text:
        return None
    match = _QUIET_RE.match(text)
    try:
        if match is None:
            raise ValueError("no START-END")
        start, end = (
            int(side) if side.isdigit() and len(side) <= 2 else parse_hour(side)
            for side in (match.group(1), match.group(2))
        )
    except ValueError:
        raise ValueError(
            f"QUIET_HOURS {spec!r} is not START-END in local hours, e.g. '21-8'"
        ) from None
    try:
        return QuietHours(start, end)
    except ValueError as exc:
        raise ValueError(f"QUIET_HOURS {spec!r}: {exc}") from None


# -- time zones ------------------------------------------------------------------------------


def _fold_text(text: str) -> str:
    """Lower-case, strip accents and treat ``_``/``-``/runs of spaces as one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[_\-]", " ", plain.casefold()).split())


#: Files in the tz database that are no merchant's zone: the server's own (``localtime``:
#: alerts would follow the host), a placeholder (``Factory``) and the rules template.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@lru_cache(maxsize=1)
def _zone_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Build ``{folded IANA name: name}`` and ``{folded city: name}`` from the tz database."""
    names = {
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    }
    by_name = {_fold_text(name).replace(" / ", "/"): name for name in names}
    by_name.update({name.casefold(): name for name in names})
    by_city: dict[str, str] = {}

    def rank(name: str) -> tuple[int, int, str]:
        primary = name.startswith(_CANONICAL_REGIONS)
        return (0 if primary else 1, name.count("/"), name)

    for name in sorted(names, key=rank):
        if "/" not in name or name.startswith(("Etc/", "posix/", "right/", "SystemV/")):
            continue
        by_city.setdefault(_fold_text(name.rsplit("/", 1)[1]), name)
    for alias, target in _ALIASES.items():
        if target in names:
            by_city[alias] = target
        elif target == "Europe/Kyiv" and "Europe/Kiev" in names:  # tzdata before 2022b
            by_city[alias] = by_city["kyiv"] = "Europe/Kiev"
    return by_name, by_city


def _offset_key(sign: str, hours: int, minutes: int) -> str:
    if minutes >= 60 or hours > 14 or (hours == 14 and minutes):
        raise ValueError(f"UTC offset {sign}{hours}:{minutes:02d} is out of range")
    if hours == minutes == 0:
        return "UTC"
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def parse_timezone(text: str) -> str:
    """Turn what a merchant typed into a canonical time-zone key for :func:`zone`.

    Accepts IANA names in any case (``europe/london``), city names from the tz database or a
    short alias list (``London``, ``new york``, ``São Paulo``, ``Kyiv``) and UTC offsets
    (``UTC+2``, ``+05:30``, ``GMT-3``, ``UTC``).

    Returns:
        An IANA name such as ``Europe/London``, ``UTC``, or a fixed offset like ``UTC+05:30``.

    Raises:
        ValueError: When the text matches no known zone.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty time zone")
    if raw.casefold() in _UTC_NAMES:
        return "UTC"
    match = _UTC_OFFSET_RE.match(raw)
    if match is not None:
        sign, hours, minutes = match.groups()
        return _offset_key(sign, int(hours), int(minutes or 0))
    by_name, by_city = _zone_tables()
    folded = _fold_text(raw)
    name_keys = (raw.casefold(), folded.replace(" / ", "/"), folded.replace(" ", "_"))
    for key in name_keys:  # Area/City names first ...
        if "/" in key and key in by_name:
            return by_name[key]
    for key in (folded, folded.removesuffix(" city")):  # ... then cities and aliases ...
        if key in by_city:
            return by_city[key]
    for key in name_keys:  # ... then bare legacy names such as "Japan" or "EST5EDT"
        if key in by_name:
            return by_name[key]
    raise ValueError(f"unknown time zone {text!r}")


_FIXED_RE = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")


@lru_cache(maxsize=512)
def zone(name: str) -> tzinfo:
    """Return the ``tzinfo`` for a key produced by :func:`parse_timezone`.

    Raises:
        ValueError: When the key is not a known zone.
    """
    if name == "UTC":
        return UTC
    match = _FIXED_RE.match(name)
    if match is not None:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# -- local time helpers ------------------------------------------------------------------


def _tz_of(dt: datetime) -> tzinfo:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: an aware datetime is required")
    return dt.tzinfo


def _attach(wall: datetime, tz: tzinfo) -> datetime:
    """Give a naive wall-clock time a zone, shifting nonexistent times forward (fold=0)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def normalise_local(local_dt: datetime) -> datetime:
    """Re-attach an aware local datetime's wall-clock time to its zone the canonical way.

    Nonexistent wall times (inside a spring-forward gap) move forward by the gap; ambiguous
    ones (inside a fall-back overlap) resolve to the first occurrence (``fold=0``).
    """
    return _attach(local_dt.replace(tzinfo=None), _tz_of(local_dt))


def _require_aware(name: str, dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {dt.isoformat()}")


# -- planning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSpec:
    """One planned alert: what it is about, when to send it (UTC) and its stable key."""

    key: str
    kind: AlertKind
    offset: timedelta
    target: datetime
    due_at: datetime


def _due_for(
    *,
    now: datetime,
    target_local: datetime,
    offset: timedelta,
    preferred_hour: int | None,
    quiet: QuietHours | None,
    limit: datetime,
) -> datetime:
    """Apply the planning rules to one alert; returns an aware local datetime.

    ``limit`` is the last moment the alert is still useful: the target itself, or the end of
    the go-live day.
    """
    tz = _tz_of(target_local)
    if offset % _DAY == timedelta(0):
        due = normalise_local(target_local - offset)  # calendar days: wall-clock arithmetic
    else:
        due = (target_local.astimezone(UTC) - offset).astimezone(tz)
    if preferred_hour is not None:
        moved = _attach(
            due.replace(tzinfo=None, hour=preferred_hour, minute=0, second=0, microsecond=0),
            tz,
        )
        if moved <= limit:  # same day only: never onto another offset's day
            due = moved
    if quiet is not None and quiet.contains(due):
        after = quiet.next_end(due)
        if after <= limit:
            due = after
        else:
            before = _attach(quiet.previous_start(due).replace(tzinfo=None) - _MINUTE, tz)
            if before >= now:
                due = before
    return due


def _targets(
    deadline: datetime | None, go_live: date | None, tz: tzinfo
) -> Iterable[tuple[AlertKind, datetime]]:
    if deadline is not None:
        _require_aware("deadline", deadline)
        yield "deadline", deadline.astimezone(tz)
    if go_live is not None:
        yield "golive", _attach(datetime.combine(go_live, time()), tz)


def plan_alerts(
    *,
    now: datetime,
    deadline: datetime | None,
    go_live: date | None,
    offsets: Sequence[timedelta],
    tz: str,
    preferred_hour: int | None,
    quiet: QuietHours | None,
) -> list[AlertSpec]:
    """Plan a merchant's alerts for the campaign deadline and their own go-live date.

    Args:
        now: The current moment (aware).
        deadline: The campaign deadline (aware), or ``None``.
        go_live: The merchant's go-live date; its target is local midnight starting that day.
        offsets: How long before each target to alert (from :func:`parse_offsets`).
        tz: The merchant's time-zone key (from :func:`parse_timezone`).
        preferred_hour: Local hour 0-23 the merchant likes messages at, or ``None``.
        quiet: Quiet hours (local), or ``None``.

    Returns:
        The alerts still to send, sorted by due time; keys like ``deadline:7d`` are unique and
        stable, so re-planning with the same inputs gives the same list. See the module
        docstring for how due times move.

    Raises:
        ValueError: For naive datetimes, an unknown zone, a bad hour or a negative offset.
    """
    _require_aware("now", now)
    if preferred_hour is not None and not 0 <= preferred_hour <= 23:
        raise ValueError(f"preferred hour {preferred_hour} is not between 0 and 23")
    tzinfo_ = zone(tz)
    labelled = sorted({(offset, format_offset(offset)) for offset in offsets})
    planned: list[AlertSpec] = []
    for kind, target_local in _targets(deadline, go_live, tzinfo_):
        # A go-live date is a whole day: its alerts are useful until that day ends.
        limit = (
            _attach(target_local.replace(tzinfo=None) + _DAY, tzinfo_) - _MINUTE
            if kind == "golive"
            else target_local
        )
        if limit < now:
            continue
        by_due: dict[datetime, AlertSpec] = {}
        earliest: datetime | None = None  # the due time of the smaller offsets so far
        for offset, label in labelled:  # smallest offset first wins a shared due time
            due = _due_for(
                now=now,
                target_local=target_local,
                offset=offset,
                preferred_hour=preferred_hour,
                quiet=quiet,
                limit=limit,
            ).astimezone(UTC)
            # A larger offset never comes after a smaller one: that happens only when the
            # smaller one moved back to the minute before quiet hours, past this one, which
            # the closer reminder then stands for (as for a shared due time).
            if due < now or due in by_due or (earliest is not None and due > earliest):
                continue
            earliest = due
            by_due[due] = AlertSpec(
                key=f"{kind}:{label}",
                kind=kind,
                offset=offset,
                target=target_local.astimezone(UTC),
                due_at=due,
            )
        planned.extend(by_due.values())
    planned.sort(key=lambda spec: (spec.due_at, spec.kind, spec.offset))
    return planned


def humanize_left(
    now: datetime, target: datetime, tz: str, *, all_day: bool = False
) -> tuple[HumanizeKey, int]:
    """Describe how long is left until ``target`` for templates to word.

    Calendar days are counted in the merchant's zone ``tz``.

    Args:
        now: The current moment (aware).
        target: The deadline (aware).
        tz: The merchant's time-zone key.
        all_day: Treat the target as a whole local day (a go-live date): only its date
            counts, so on that day it is ``("today", 0)`` rather than passed.

    Returns:
        ``("passed_days", n)`` once passed (``n`` calendar days ago, 0 = earlier today);
        ``("in_hours", n)`` when under 24 hours remain (rounded up, at least 1);
        otherwise ``("tomorrow", 1)`` or ``("in_days", n)``. With ``all_day``:
        ``("today", 0)``, ``("tomorrow", 1)``, ``("in_days", n)`` or ``("passed_days", n)``.
    """
    _require_aware("now", now)
    _require_aware("target", target)
    tzinfo_ = zone(tz)
    today = now.astimezone(tzinfo_).date()
    target_day = target.astimezone(tzinfo_).date()
    days = (target_day - today).days
    if all_day:
        if days < 0:
            return "passed_days", -days
        if days == 0:
            return "today", 0
        return ("tomorrow", 1) if days == 1 else ("in_days", days)
    left = target - now
    if left < timedelta(0):
        return "passed_days", max(0, -days)
    if left < _DAY:
        return "in_hours", max(1, math.ceil(left / timedelta(hours=1)))
    return ("tomorrow", 1) if days <= 1 else ("in_days", days)
