"""Pure reminder rules: outbox keys, which rows a merchant should have, and how stored rows
are brought in line with that plan.

Outbox keys carry their target so that a moved deadline or go-live date makes new rows
instead of touching rows already sent: ``deadline:7d@20230912T0000``, ``golive:1d@20270331``,
``snooze:<key>`` (one snooze row per alert, reused when snoozed again) and
``nudge@<yyyymmdd>`` (the optional weekly nudge) and ``changed@<content hash>`` (one "your plan
changed" notice per merchant per content release). ``bc:<campaign id>`` rows belong to operator
broadcasts (bot.broadcast) and are left alone here.

Re-planning is idempotent: planned rows that have not been sent are upserted, pending rows
no longer planned are cancelled (an overdue or snoozed row for a target still ahead is kept),
and sent rows are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from bot.alerts.planner import QuietHours, plan_alerts, zone

SNOOZE = "snooze:"
NUDGE = "nudge@"
CHANGED = "changed@"
#: Operator broadcasts (``bc:<campaign id>``): not reminders; re-planning never touches them.
BROADCAST = "bc:"


@dataclass(frozen=True)
class KeyInfo:
    """What an outbox key says: kind, offset label, target stamp, snoozed or not."""

    kind: str  # deadline | golive | nudge | changed
    offset: str  # e.g. 7d ("" for nudges)
    target: str  # e.g. 20230912T0000, 20270331 or the nudge's date
    snoozed: bool


def parse_key(key: str) -> KeyInfo | None:
    """Split an outbox key; ``None`` for keys this version does not know."""
    if key.startswith(CHANGED):
        release = key.removeprefix(CHANGED)
        return KeyInfo("changed", "", release, False) if release else None
    snoozed = key.startswith(SNOOZE)
    base = key.removeprefix(SNOOZE)
    if base.startswith(NUDGE):
        return KeyInfo("nudge", "", base.removeprefix(NUDGE), snoozed)
    head, _, target = base.partition("@")
    kind, _, offset = head.partition(":")
    if kind not in ("deadline", "golive") or not offset or not target:
        return None
    return KeyInfo(kind, offset, target, snoozed)


def useful_until(key: str) -> datetime | None:
    """Until when a reminder is worth sending (retries stop there); ``None`` for unknown keys.

    A deadline reminder until the deadline; a go-live reminder until its day has ended
    everywhere (rendering cancels it earlier, at the end of the day in the merchant's zone); a
    snooze as long as the reminder it repeats; a nudge until the end of the day after its own.
    """
    info = parse_key(key)
    try:
        if info is None or info.kind == "changed":  # no date in the key: see the service
            return None
        if info.kind == "deadline":
            return datetime.strptime(info.target, "%Y%m%dT%H%M").replace(tzinfo=UTC)
        day = datetime.strptime(info.target, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    if info.kind == "golive":
        return day + timedelta(days=1, hours=12)  # midnight at UTC-12
    return day + timedelta(days=2)


def target_stamp(kind: str, target: datetime | date) -> str:
    """The target part of an outbox key (UTC minute for the deadline, date for go-live)."""
    if kind == "golive":
        return f"{target:%Y%m%d}"
    assert isinstance(target, datetime)
    return f"{target.astimezone(UTC):%Y%m%dT%H%M}"


def nudge_key(due: datetime) -> str:
    """The key of the nudge due then."""
    return f"{NUDGE}{due:%Y%m%d}"


def changed_key(content_hash: str) -> str:
    """The key of the "your plan changed" notice for one content release."""
    return f"{CHANGED}{content_hash}"


def changed_steps(previous: Mapping[str, int], current: Mapping[str, int]) -> tuple[str, ...]:
    """Steps of a new release that merchants should hear about: new ones, and those whose
    ``version`` went up (a lower version, e.g. a rolled-back release, is no news)."""
    return tuple(
        step_id
        for step_id, version in current.items()
        if step_id not in previous or version > previous[step_id]
    )


def snooze_key(key: str) -> str:
    """The one snooze row of an alert (a snoozed alert snoozed again keeps its key)."""
    return key if key.startswith(SNOOZE) else f"{SNOOZE}{key}"


@dataclass(frozen=True)
class Settings:
    """A merchant's reminder settings, as the rules need them (no SQL, no Telegram)."""

    on: bool
    blocked: bool
    tz: str
    preferred_hour: int | None
    quiet: QuietHours | None
    nudge_on: bool
    last_progress: datetime | None
    first_seen: datetime


@dataclass(frozen=True)
class Campaign:
    """What every merchant's reminders are planned against."""

    deadline: datetime
    offsets: tuple[timedelta, ...]
    nudge_after: timedelta


def out_of_quiet(settings: Settings, due: datetime) -> datetime:
    """``due`` moved to the merchant's preferred hour and out of their quiet hours."""
    local = due.astimezone(zone(settings.tz))
    if settings.preferred_hour is not None:
        moved = local.replace(hour=settings.preferred_hour, minute=0, second=0, microsecond=0)
        local = moved if moved >= local else moved + timedelta(days=1)
    if settings.quiet is not None and settings.quiet.contains(local):
        local = settings.quiet.next_end(local)
    return local.astimezone(UTC)


def next_nudge(settings: Settings, campaign: Campaign, now: datetime) -> datetime:
    """When the next nudge goes out: a while after the last progress, never in the past."""
    last = settings.last_progress or settings.first_seen
    due = last + campaign.nudge_after
    if due < now:
        due = now + campaign.nudge_after
    return out_of_quiet(settings, due)


def planned(
    settings: Settings, campaign: Campaign, go_live: date | None, now: datetime
) -> dict[str, datetime]:
    """The rows the merchant should have now: outbox key -> due time (UTC)."""
    if not settings.on or settings.blocked:
        return {}
    specs = plan_alerts(
        now=now,
        deadline=campaign.deadline,
        go_live=go_live,
        offsets=campaign.offsets,
        tz=settings.tz,
        preferred_hour=settings.preferred_hour,
        quiet=settings.quiet,
    )
    rows: dict[str, datetime] = {}
    for spec in specs:
        target: datetime | date = go_live if spec.kind == "golive" and go_live else spec.target
        rows[f"{spec.key}@{target_stamp(spec.kind, target)}"] = spec.due_at
    if settings.nudge_on:
        due = next_nudge(settings, campaign, now)
        rows[nudge_key(due)] = due
    return rows


def live_targets(deadline: datetime, go_live: date | None, now: datetime) -> set[str]:
    """Target stamps whose alerts may still be sent (for keeping overdue rows)."""
    live = set()
    if deadline >= now:
        live.add(target_stamp("deadline", deadline))
    if go_live is not None:
        live.add(target_stamp("golive", go_live))
    return live


@dataclass(frozen=True)
class Stored:
    """A stored outbox row as the reconciler sees it."""

    status: str  # pending | sent | failed | cancelled
    due_at: datetime


class Change(Enum):
    """What happens to one row."""

    ADD = "add"  # a new planned row
    RESCHEDULE = "reschedule"  # pending again (if it was not), due at the planned time
    CANCEL = "cancel"  # no longer planned


@dataclass(frozen=True)
class Reconciled:
    """One row to change: its key, what to do, and the due time for ADD / RESCHEDULE."""

    key: str
    change: Change
    due_at: datetime | None = None


def reconcile(
    plan: Mapping[str, datetime],
    stored: Mapping[str, Stored],
    *,
    settings: Settings,
    live: set[str],
    now: datetime,
) -> Sequence[Reconciled]:
    """The changes that bring stored rows in line with ``plan`` (sent rows never change).

    A pending row that is no longer planned is kept when it is a snooze, or overdue, for a
    target still ahead (the deadline or the go-live date it was planned for) and the
    merchant still wants reminders; otherwise it is cancelled. Nudges are never kept; a
    "your plan changed" notice is kept for as long as the merchant wants reminders.
    """
    changes: list[Reconciled] = []
    for key, due in plan.items():
        row = stored.get(key)
        if row is None:
            changes.append(Reconciled(key, Change.ADD, due))
        elif row.status != "sent":
            changes.append(Reconciled(key, Change.RESCHEDULE, due))
    wanted = settings.on and not settings.blocked
    for key, row in stored.items():
        if key in plan or row.status != "pending" or key.startswith(BROADCAST):
            continue
        info = parse_key(key)
        if info is not None and info.kind == "changed":  # not planned here: kept while wanted
            if not wanted:
                changes.append(Reconciled(key, Change.CANCEL))
            continue
        keep = (
            info is not None
            and wanted
            and info.kind != "nudge"
            and info.target in live
            and (info.snoozed or row.due_at <= now)
        )
        if not keep:
            changes.append(Reconciled(key, Change.CANCEL))
    return changes
