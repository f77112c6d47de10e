"""Alert subscriptions: the /alerts screen, its buttons, re-planning and rendering alerts.

Outbox keys carry their target so that a moved deadline or go-live date makes new rows
instead of touching rows already sent: ``deadline:7d@20230912T0000``, ``golive:1d@20270331``,
``snooze:<key>`` (one snooze row per alert, reused when snoozed again) and
``nudge@<yyyymmdd>`` (the optional weekly nudge).

Re-planning (:meth:`AlertService.replan`) runs on every settings change and, through
``Services._moved``, whenever the interview answers change (a new go-live date). It upserts
planned rows that have not been sent, cancels pending rows no longer planned and never
touches sent rows. Rows are also checked again when rendered: an alert whose merchant has
switched alerts off, or whose target moved, is cancelled instead of sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts.dispatcher import Claimed, Dispatcher, Prepared
from bot.alerts.planner import (
    QuietHours,
    format_offset,
    humanize_left,
    parse_quiet_hours,
    parse_timezone,
    plan_alerts,
    zone,
)
from bot.domain import callbacks
from bot.domain.plan import Mark
from bot.services.core import Services, UserInfo, marks_of
from bot.storage.models import Merchant, Outbox, StepProgress
from bot.views.screens import Button, Outcome, Screen, format_date, shop_name_of

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = [
    "AWAIT_ZONE",
    "HOURS",
    "QUIET_CHOICES",
    "ZONES",
    "AlertService",
    "KeyInfo",
    "parse_key",
    "target_stamp",
    "useful_until",
]

#: ``merchant.awaiting`` while we wait for a typed time zone.
AWAIT_ZONE = "alerts:tz"
#: The time zones offered as buttons (labels live in strings.alerts.yaml ``alerts.zones``).
ZONES: dict[str, str] = {
    "london": "Europe/London",
    "dublin": "Europe/Dublin",
    "lisbon": "Europe/Lisbon",
    "madrid": "Europe/Madrid",
    "paris": "Europe/Paris",
    "berlin": "Europe/Berlin",
    "rome": "Europe/Rome",
    "brussels": "Europe/Brussels",
    "new_york": "America/New_York",
    "chicago": "America/Chicago",
    "denver": "America/Denver",
    "los_angeles": "America/Los_Angeles",
    "mexico_city": "America/Mexico_City",
    "sao_paulo": "America/Sao_Paulo",
    "tokyo": "Asia/Tokyo",
    "bangkok": "Asia/Bangkok",
    "manila": "Asia/Manila",
    "kuala_lumpur": "Asia/Kuala_Lumpur",
    "jakarta": "Asia/Jakarta",
    "utc": "UTC",
}
HOURS = (7, 8, 9, 10, 12, 14, 17, 19)
QUIET_CHOICES = ((21, 8), (22, 7), (20, 9), (23, 7))
QUIET_OFF = "off"
_SNOOZE = "snooze:"
_NUDGE = "nudge@"


@dataclass(frozen=True)
class KeyInfo:
    """What an outbox key says: kind, offset label, target stamp, snoozed or not."""

    kind: str  # deadline | golive | nudge
    offset: str  # e.g. 7d ("" for nudges)
    target: str  # e.g. 20230912T0000, 20270331 or the nudge's date
    snoozed: bool


def parse_key(key: str) -> KeyInfo | None:
    """Split an outbox key; ``None`` for keys this version does not know."""
    snoozed = key.startswith(_SNOOZE)
    base = key.removeprefix(_SNOOZE)
    if base.startswith(_NUDGE):
        return KeyInfo("nudge", "", base.removeprefix(_NUDGE), snoozed)
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
        if info is None:
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


def _offset_view(label: str) -> dict[str, Any]:
    return {"n": int(label[:-1] or 0), "unit": label[-1:] or "d"}


class AlertService:
    """The alerts feature: owns the ``alerts`` callback verb and renders outbox rows."""

    def __init__(
        self,
        services: Services,
        *,
        offsets: Sequence[timedelta],
        quiet_default: QuietHours | None,
        nudge_after_days: int = 7,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Wire the feature to the core services and the operator's alert settings."""
        self.s = services
        self.db = services.db
        self.views = services.views
        self.r = services.views.r
        self.offsets = tuple(offsets)
        self.quiet_default = quiet_default
        self.nudge_after = timedelta(days=nudge_after_days)
        self.clock = clock or services.clock
        self.dispatcher: Dispatcher | None = None  # set by install()

    @property
    def deadline(self) -> datetime:
        """The campaign deadline (with the operator's override)."""
        return self.s.deadline

    # --- merchant settings ----------------------------------------------------------------

    def quiet_of(self, merchant: Merchant) -> QuietHours | None:
        """The merchant's quiet hours: their own choice, off, or the operator's default."""
        if merchant.quiet_hours is None:
            return self.quiet_default
        if merchant.quiet_hours == QUIET_OFF:
            return None
        try:
            return parse_quiet_hours(merchant.quiet_hours)
        except ValueError:
            return self.quiet_default

    def _zone_of(self, merchant: Merchant) -> str:
        try:
            zone(merchant.timezone)
        except ValueError:
            return "UTC"
        return merchant.timezone

    @staticmethod
    def _go_live(answers: dict[str, Any]) -> date | None:
        value = answers.get("go_live")
        if not isinstance(value, str):
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None

    # --- planning -------------------------------------------------------------------------

    def plan(self, merchant: Merchant, go_live: date | None, now: datetime) -> dict[str, datetime]:
        """The rows the merchant should have now: outbox key -> due time (UTC)."""
        if not merchant.alerts_on or merchant.blocked:
            return {}
        tz = self._zone_of(merchant)
        specs = plan_alerts(
            now=now,
            deadline=self.deadline,
            go_live=go_live,
            offsets=self.offsets,
            tz=tz,
            preferred_hour=merchant.preferred_hour,
            quiet=self.quiet_of(merchant),
        )
        planned: dict[str, datetime] = {}
        for spec in specs:
            target: datetime | date = go_live if spec.kind == "golive" and go_live else spec.target
            planned[f"{spec.key}@{target_stamp(spec.kind, target)}"] = spec.due_at
        if merchant.nudge_on:
            due = self._nudge_due(merchant, now)
            planned[f"{_NUDGE}{due:%Y%m%d}"] = due
        return planned

    def _nudge_due(self, merchant: Merchant, now: datetime) -> datetime:
        """When the next nudge goes out: a week after the last progress, never in the past."""
        last = merchant.last_progress or merchant.first_seen
        due = last + self.nudge_after
        if due < now:
            due = now + self.nudge_after
        return self._out_of_quiet(merchant, due)

    def _out_of_quiet(self, merchant: Merchant, due: datetime) -> datetime:
        tz = zone(self._zone_of(merchant))
        local = due.astimezone(tz)
        if merchant.preferred_hour is not None:
            moved = local.replace(hour=merchant.preferred_hour, minute=0, second=0, microsecond=0)
            local = moved if moved >= local else moved + timedelta(days=1)
        quiet = self.quiet_of(merchant)
        if quiet is not None and quiet.contains(local):
            local = quiet.next_end(local)
        return local.astimezone(UTC)

    def _live_targets(self, go_live: date | None, now: datetime) -> set[str]:
        """Target stamps whose alerts may still be sent (for keeping overdue rows)."""
        live = set()
        if self.deadline >= now:
            live.add(target_stamp("deadline", self.deadline))
        if go_live is not None:
            live.add(target_stamp("golive", go_live))
        return live

    async def answers_changed(
        self, session: AsyncSession, merchant: Merchant, changed: set[str]
    ) -> None:
        """A new go-live date moves the go-live alerts."""
        if "go_live" in changed:
            await self.replan(session, merchant)

    async def replan(self, session: AsyncSession, merchant: Merchant) -> None:
        """Bring the merchant's outbox rows in line with their settings (idempotent)."""
        now = self.clock()
        go_live = self._go_live(dict(self.s.effective_answers(merchant)))
        planned = self.plan(merchant, go_live, now)
        live = self._live_targets(go_live, now) if merchant.alerts_on else set()
        result = await session.exec(select(Outbox).where(Outbox.merchant_id == merchant.id))
        rows = {row.key: row for row in result.all()}
        for key, due in planned.items():
            row = rows.get(key)
            if row is None:
                session.add(Outbox(merchant_id=merchant.id, key=key, due_at=due))
            elif row.status != "sent":
                if row.status != "pending":
                    row.status, row.attempts, row.error = "pending", 0, None
                    row.unanswered = 0
                row.due_at = due
        for key, row in rows.items():
            if key in planned or row.status != "pending":
                continue
            info = parse_key(key)
            keep = (
                info is not None
                and merchant.alerts_on
                and not merchant.blocked
                and (
                    (info.snoozed and info.kind != "nudge" and info.target in live)
                    or (row.due_at <= now and info.kind != "nudge" and info.target in live)
                )
            )
            if not keep:
                row.status = "cancelled"
                row.error = None if merchant.alerts_on else "off"

    # --- entry points ---------------------------------------------------------------------

    async def command(self, user: UserInfo) -> Outcome:
        """/alerts: the settings screen."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self.s.merchant(session, user)
            merchant.awaiting = None
            return Outcome(send=[await self.screen(session, merchant)])

    async def press(
        self, user: UserInfo, message_id: int | None, action: callbacks.Action
    ) -> Outcome:
        """A press on an ``alerts`` button."""
        del message_id  # alert buttons are never stale: each one states what it sets
        arg = action.args[0] if action.args else "show"
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self.s.merchant(session, user)
            lang = merchant.language_code
            if arg != "tz-type":
                merchant.awaiting = None
            name, _, value = arg.partition("-")
            if name == "show":
                screen = await self.screen(session, merchant)
                return Outcome(edit=screen) if value == "edit" else Outcome(send=[screen])
            if arg in ("on", "off", "resume"):
                merchant.alerts_on = arg != "off"
                merchant.blocked = False
                await self.replan(session, merchant)
                toast = self.r.plain(
                    lang, f"alerts.notices.turned_{'off' if arg == 'off' else 'on'}"
                )
                screen = await self.screen(session, merchant)
                return (
                    Outcome(toast=toast, send=[screen])
                    if arg == "resume"
                    else Outcome(toast=toast, edit=screen)
                )
            if arg == "stop":
                merchant.alerts_on = False
                await self.replan(session, merchant)
                return Outcome(toast=self.r.plain(lang, "alerts.notices.stopped"))
            if name == "nudge" and value in ("on", "off"):
                merchant.nudge_on = value == "on"
                await self.replan(session, merchant)
                return await self._saved(session, merchant)
            if name == "tz":
                return await self._zone_press(session, merchant, value)
            if name == "hour":
                if not value:
                    return Outcome(edit=self._hour_screen(merchant))
                if value == "any" or (value.isdigit() and int(value) in range(24)):
                    merchant.preferred_hour = None if value == "any" else int(value)
                    await self.replan(session, merchant)
                    return await self._saved(session, merchant)
            if name == "quiet":
                if not value:
                    return Outcome(edit=self._quiet_screen(merchant))
                if value == QUIET_OFF:
                    merchant.quiet_hours = QUIET_OFF
                else:
                    try:
                        merchant.quiet_hours = str(parse_quiet_hours(value))
                    except ValueError:
                        return self._unknown(lang)
                await self.replan(session, merchant)
                return await self._saved(session, merchant)
            if name == "snooze" and value.isdigit():
                return await self._snooze(session, merchant, int(value))
            return self._unknown(lang)

    async def text(self, session: AsyncSession, merchant: Merchant, typed: str) -> Outcome:
        """Typed text while ``merchant.awaiting`` is ours: a time zone."""
        lang = merchant.language_code
        try:
            key = parse_timezone(typed[:64])
        except ValueError:
            return Outcome(send=[self._zone_prompt(merchant, problem=typed.strip()[:40])])
        merchant.timezone = key
        merchant.awaiting = None
        await self.replan(session, merchant)
        notice = self.r.text(lang, "alerts.notices.zone_set", zone=key)
        return Outcome(send=[await self.screen(session, merchant, notice=notice)])

    async def chat_member(self, user: UserInfo, status: str) -> Outcome:
        """The bot was blocked (``kicked``/``left``) or allowed again (``member``)."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant = await session.get(Merchant, user.id)
            if merchant is None:
                return Outcome()
            if status in ("kicked", "left", "banned"):
                merchant.blocked = True
                await self.blocked(session, merchant.id)
                return Outcome()
            was_blocked = merchant.blocked
            merchant.blocked = False
            if not was_blocked or merchant.alerts_on:
                return Outcome()
            stopped = await session.exec(
                select(Outbox.id)
                .where(Outbox.merchant_id == merchant.id, Outbox.error == "blocked")
                .limit(1)
            )
            if stopped.first() is None:
                return Outcome()
            lang = merchant.language_code
            text = self.r.render(lang, "alert_resume.html.j2")
            button = self._button(lang, "resume", "resume")
            return Outcome(send=[Screen(text, ((button,),))])

    # --- dispatcher hooks (bot.alerts.dispatcher.AlertSource) ---------------------------

    async def blocked(self, session: AsyncSession, merchant_id: int) -> None:
        """Telegram said 403: alerts off, merchant marked blocked, pending rows cancelled."""
        conn = await session.connection()
        await conn.execute(
            update(Merchant)
            .where(col(Merchant.id) == merchant_id)
            .values(alerts_on=False, blocked=True)
        )
        await conn.execute(
            update(Outbox)
            .where(col(Outbox.merchant_id) == merchant_id, col(Outbox.status) == "pending")
            .values(status="cancelled", error="blocked", lease_owner=None, lease_until=None)
        )

    def useful_until(self, row: Claimed) -> datetime | None:
        """Until when a failing row is retried (see :func:`useful_until`)."""
        return useful_until(row.key)

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """After a nudge went out, plan the next one."""
        for row in rows:
            info = parse_key(row.key)
            if info is None or info.kind != "nudge":
                continue
            merchant = await session.get(Merchant, row.merchant_id)
            if merchant is not None and merchant.nudge_on and merchant.alerts_on:
                due = self._out_of_quiet(merchant, self.clock() + self.nudge_after)
                key = f"{_NUDGE}{due:%Y%m%d}"
                exists = await session.exec(
                    select(Outbox.id).where(Outbox.merchant_id == merchant.id, Outbox.key == key)
                )
                if exists.first() is None:
                    session.add(Outbox(merchant_id=merchant.id, key=key, due_at=due))

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Render claimed rows now (time left, progress and next step are current)."""
        now = self.clock()
        out: list[Prepared] = []
        async with self.db.session() as session:
            ids = sorted({row.merchant_id for row in rows})
            found = await session.exec(select(Merchant).where(col(Merchant.id).in_(ids)))
            merchants = {m.id: m for m in found.all()}
            by_merchant: dict[int, list[StepProgress]] = {}
            done = await session.exec(
                select(StepProgress).where(col(StepProgress.merchant_id).in_(ids))
            )
            for mark in done.all():
                by_merchant.setdefault(mark.merchant_id, []).append(mark)
            marks = {merchant_id: marks_of(rows) for merchant_id, rows in by_merchant.items()}
            for row in rows:
                merchant = merchants.get(row.merchant_id)
                if merchant is None:
                    out.append(Prepared(row, 0, None, "no merchant"))
                    continue
                try:
                    screen, reason = self._render(merchant, marks.get(merchant.id, {}), row, now)
                except Exception as exc:  # a broken row must not stop the others
                    log.exception("cannot render alert %s", row.key)
                    screen, reason = None, f"render failed: {type(exc).__name__}"
                out.append(Prepared(row, merchant.chat_id, screen, reason))
        return out

    def _render(
        self, merchant: Merchant, marks: dict[str, Mark], row: Claimed, now: datetime
    ) -> tuple[Screen | None, str | None]:
        if not merchant.alerts_on or merchant.blocked:
            return None, "off"
        info = parse_key(row.key)
        if info is None:
            return None, "unknown key"
        answers = self.s.effective_answers(merchant)
        progress = self.s.progress_of(answers, marks)
        lang = merchant.language_code
        tz = self._zone_of(merchant)
        context: dict[str, Any] = {"kind": info.kind, "left": ("today", 0), "date": ""}
        if info.kind == "nudge":
            last = merchant.last_progress
            if not merchant.nudge_on or (last is not None and now - last < self.nudge_after):
                return None, "moved"
            if progress.finished:
                return None, "finished"
        elif info.kind == "golive":
            go_live = self._go_live(dict(answers))
            if go_live is None or target_stamp("golive", go_live) != info.target:
                return None, "target moved"
            target = datetime.combine(go_live, datetime.min.time(), tzinfo=zone(tz))
            left = humanize_left(now, target, tz, all_day=True)
            if left[0] == "passed_days":
                return None, "passed"
            context.update(left=left, date=format_date(go_live))
        else:
            if target_stamp("deadline", self.deadline) != info.target or self.deadline < now:
                return None, "target moved"
            left = humanize_left(now, self.deadline, tz)
            context.update(left=left, date=format_date(self.deadline.astimezone(zone(tz)).date()))
        step = progress.next_open()
        step_view = None
        if step is not None:
            title = self.s.content.step_text(lang, step.id).title
            step_view = {"title": title, "minutes": step.minutes}
        text = self.r.render(
            lang,
            "alert.html.j2",
            progress=progress,
            step=step_view,
            shop_name=shop_name_of(answers),
            **context,
        )
        first: list[Button] = []
        if step is not None:
            first.append(
                Button(self.r.plain(lang, "alerts.buttons.open_next"), callbacks.encode("next"))
            )
        if info.kind != "nudge":
            first.append(self._button(lang, "snooze", f"snooze-{row.id}"))
        keyboard = (tuple(first), (self._button(lang, "stop", "stop"),))
        return Screen(text, tuple(r for r in keyboard if r)), None

    # --- screens --------------------------------------------------------------------------

    def _button(self, lang: str | None, label: str, arg: str, **values: Any) -> Button:
        text = self.r.plain(lang, f"alerts.buttons.{label}", **values)
        return Button(text, callbacks.encode("alerts", arg))

    def _unknown(self, lang: str | None) -> Outcome:
        return Outcome(toast=self.r.plain(lang, "notices.unknown_button"))

    async def _saved(self, session: AsyncSession, merchant: Merchant) -> Outcome:
        toast = self.r.plain(merchant.language_code, "alerts.notices.saved")
        return Outcome(toast=toast, edit=await self.screen(session, merchant))

    async def screen(
        self, session: AsyncSession, merchant: Merchant, *, notice: str | None = None
    ) -> Screen:
        """The /alerts screen: state, what is scheduled (local time) and the buttons."""
        lang = merchant.language_code
        now = self.clock()
        tz = self._zone_of(merchant)
        tzinfo_ = zone(tz)
        await session.flush()
        result = await session.exec(
            select(Outbox)
            .where(Outbox.merchant_id == merchant.id, Outbox.status == "pending")
            .order_by(col(Outbox.due_at))
        )
        scheduled = []
        for row in result.all():
            info = parse_key(row.key)
            if info is None:
                continue
            local = row.due_at.astimezone(tzinfo_)
            scheduled.append(
                {
                    "kind": info.kind,
                    "offset": _offset_view(info.offset or "0d"),
                    "snoozed": info.snoozed,
                    "when": f"{format_date(local.date())}, {local:%H:%M}",
                }
            )
        go_live = self._go_live(dict(self.s.effective_answers(merchant)))
        quiet = self.quiet_of(merchant)
        text = self.r.render(
            lang,
            "alerts.html.j2",
            on=merchant.alerts_on,
            notice=notice,
            deadline_passed=self.deadline < now,
            deadline=format_date(self.deadline.astimezone(tzinfo_).date()),
            offsets=[_offset_view(format_offset(o)) for o in self.offsets],
            golive=format_date(go_live) if go_live else None,
            zone=tz,
            local_now=f"{now.astimezone(tzinfo_):%H:%M}",
            hour=merchant.preferred_hour,
            quiet={"start": quiet.start, "end": quiet.end} if quiet else None,
            nudge=merchant.nudge_on,
            nudge_days=self.nudge_after.days,
            scheduled=scheduled,
        )
        toggle = self._button(
            lang, *(("turn_off", "off") if merchant.alerts_on else ("turn_on", "on"))
        )
        keyboard = (
            (toggle,),
            (self._button(lang, "timezone", "tz"), self._button(lang, "hour", "hour")),
            (
                self._button(lang, "quiet", "quiet"),
                self._button(
                    lang,
                    *(
                        ("nudge_off", "nudge-off")
                        if merchant.nudge_on
                        else ("nudge_on", "nudge-on")
                    ),
                ),
            ),
            (Button(self.r.plain(lang, "buttons.back_to_plan"), callbacks.encode("plan")),),
        )
        return Screen(text, keyboard)

    def _zone_screen(self, merchant: Merchant) -> Screen:
        lang = merchant.language_code
        text = self.r.render(
            lang, "alert_zone.html.j2", zone=self._zone_of(merchant), problem=None, typing=False
        )
        buttons = [
            Button(
                self.r.plain(lang, f"alerts.zones.{zid}"), callbacks.encode("alerts", f"tz-{zid}")
            )
            for zid in ZONES
        ]
        rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
        rows.append((self._button(lang, "type_zone", "tz-type"),))
        rows.append((self._button(lang, "back", "show-edit"),))
        return Screen(text, tuple(rows))

    def _zone_prompt(self, merchant: Merchant, *, problem: str | None = None) -> Screen:
        lang = merchant.language_code
        text = self.r.render(
            lang, "alert_zone.html.j2", zone=self._zone_of(merchant), problem=problem, typing=True
        )
        return Screen(text, ((self._button(lang, "cancel", "tz-cancel"),),))

    async def _zone_press(self, session: AsyncSession, merchant: Merchant, value: str) -> Outcome:
        if not value:
            return Outcome(edit=self._zone_screen(merchant))
        if value == "type":
            merchant.awaiting = AWAIT_ZONE
            return Outcome(edit=self._zone_prompt(merchant))
        if value == "cancel":
            return Outcome(edit=await self.screen(session, merchant))
        if value not in ZONES:
            return self._unknown(merchant.language_code)
        merchant.timezone = ZONES[value]
        await self.replan(session, merchant)
        return await self._saved(session, merchant)

    def _hour_screen(self, merchant: Merchant) -> Screen:
        lang = merchant.language_code
        text = self.r.render(
            lang, "alert_hour.html.j2", hour=merchant.preferred_hour, zone=self._zone_of(merchant)
        )
        buttons = [self._button(lang, "hour_label", f"hour-{h}", hour=h) for h in HOURS]
        rows = [tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4)]
        rows.append((self._button(lang, "any_hour", "hour-any"),))
        rows.append((self._button(lang, "back", "show-edit"),))
        return Screen(text, tuple(rows))

    def _quiet_screen(self, merchant: Merchant) -> Screen:
        lang = merchant.language_code
        quiet = self.quiet_of(merchant)
        text = self.r.render(
            lang,
            "alert_quiet.html.j2",
            quiet={"start": quiet.start, "end": quiet.end} if quiet else None,
            zone=self._zone_of(merchant),
        )
        buttons = [
            self._button(lang, "quiet_label", f"quiet-{s}-{e}", start=s, end=e)
            for s, e in QUIET_CHOICES
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((self._button(lang, "quiet_off", f"quiet-{QUIET_OFF}"),))
        rows.append((self._button(lang, "back", "show-edit"),))
        return Screen(text, tuple(rows))

    async def _snooze(self, session: AsyncSession, merchant: Merchant, row_id: int) -> Outcome:
        lang = merchant.language_code
        row = await session.get(Outbox, row_id)
        info = parse_key(row.key) if row is not None else None
        if (
            row is None
            or row.merchant_id != merchant.id
            or info is None
            or info.kind == "nudge"
            or not merchant.alerts_on
        ):
            return Outcome(toast=self.r.plain(lang, "alerts.notices.snooze_gone"))
        key = row.key if info.snoozed else f"{_SNOOZE}{row.key}"
        due = self._out_of_quiet(merchant, self.clock() + timedelta(days=1))
        found = await session.exec(
            select(Outbox).where(Outbox.merchant_id == merchant.id, Outbox.key == key)
        )
        snooze = found.first()
        if snooze is None:
            session.add(Outbox(merchant_id=merchant.id, key=key, due_at=due))
        else:  # snoozed again: the one snooze row goes out once more
            snooze.status, snooze.due_at, snooze.attempts = "pending", due, 0
            snooze.unanswered = 0
            snooze.sent_at = snooze.error = snooze.lease_owner = snooze.lease_until = None
        return Outcome(toast=self.r.plain(lang, "alerts.notices.snoozed"))
