"""The reminder screens, pure: a small view model in, text and buttons out.

``content check`` renders each of them, in every locale, with sample data; the service only
gathers the view model (from SQL) and calls these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.alerts.planner import QuietHours, format_offset
from bot.domain.callbacks import Alerts, NextStep, OpenStep, ShowPlan, encode
from bot.domain.plan import Progress
from bot.views.model import Button, Screen
from bot.views.screens import Views

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
CHANGED_SHOWN = 8  # steps a "your plan changed" notice names; the rest as "and N more"


def offset_view(label: str) -> dict[str, Any]:
    """``7d`` as the templates want it."""
    return {"n": int(label[:-1] or 0), "unit": label[-1:] or "d"}


@dataclass(frozen=True)
class Scheduled:
    """One pending reminder, in the merchant's local time."""

    kind: str  # deadline | golive | nudge
    offset: str  # e.g. 7d ("" for nudges)
    snoozed: bool
    local: datetime


@dataclass(frozen=True)
class SettingsView:
    """Everything the /alerts screen shows."""

    on: bool
    tz: str
    hour: int | None
    quiet: QuietHours | None
    nudge_on: bool
    nudge_days: int
    go_live: date | None
    deadline: datetime  # in the merchant's time zone
    now: datetime  # in the merchant's time zone
    offsets: tuple[timedelta, ...]
    scheduled: tuple[Scheduled, ...] = ()
    golive_offered: bool = True  # the go-live question is on the merchant's path
    #: The go-live reminders still ahead, as the planner plans them now (largest first).
    golive_ahead: tuple[timedelta, ...] = ()
    in_interview: bool = False  # the questions are still open: no plan, no profile yet


@dataclass(frozen=True)
class ReminderView:
    """One reminder message as it goes out (rendered at send time)."""

    kind: str  # deadline | golive | nudge
    left: tuple[str, int]  # from planner.humanize_left
    when: date | None
    progress: Progress
    step_title: str | None
    step_minutes: int | None
    shop_name: str | None
    row_id: int


@dataclass(frozen=True)
class ChangedStep:
    """A step of the merchant's plan that a content release added or updated."""

    id: str
    title: str
    new: bool  # not in the release before (else: its version went up)
    done: bool  # the merchant had marked it done or skipped


@dataclass(frozen=True)
class PlanChangedView:
    """The "your plan changed" notice as it goes out (rendered at send time)."""

    steps: tuple[ChangedStep, ...]
    shop_name: str | None


class AlertScreens:
    """Builds every reminder screen through the shared Views (one jinja2 environment)."""

    def __init__(self, views: Views) -> None:
        self.views = views
        self.r = views.r

    def _button(
        self, lang: str | None, label: str, action: str, value: str = "", **kw: Any
    ) -> Button:
        text = self.r.plain(lang, f"alerts.buttons.{label}", **kw)
        return Button(text, encode(Alerts(action, value)))

    def settings(
        self, lang: str | None, view: SettingsView, *, notice: str | None = None
    ) -> Screen:
        """The /alerts screen: state, what is scheduled (local time) and the buttons."""
        scheduled = [
            {
                "kind": item.kind,
                "offset": offset_view(item.offset or "0d"),
                "snoozed": item.snoozed,
                "when": f"{self.views.day(lang, item.local.date())}, {item.local:%H:%M}",
            }
            for item in view.scheduled
        ]
        text = self.r.render(
            lang,
            "alerts.html.j2",
            on=view.on,
            notice=notice,
            deadline_passed=view.deadline < view.now,
            deadline=self.views.day(lang, view.deadline.date()),
            offsets=[offset_view(format_offset(o)) for o in view.offsets],
            golive=self.views.day(lang, view.go_live) if view.go_live else None,
            golive_offsets=[offset_view(format_offset(o)) for o in view.golive_ahead],
            golive_passed=view.go_live is not None and view.go_live < view.now.date(),
            zone=view.tz,
            local_now=f"{view.now:%H:%M}",
            hour=view.hour,
            quiet={"start": view.quiet.start, "end": view.quiet.end} if view.quiet else None,
            nudge=view.nudge_on,
            nudge_days=view.nudge_days,
            scheduled=scheduled,
            golive_offered=view.golive_offered,
            in_interview=view.in_interview,
        )
        toggle = (
            self._button(lang, "turn_off", "off")
            if view.on
            else self._button(lang, "turn_on", "on")
        )
        nudge = (
            self._button(lang, "nudge_off", "nudge", "off")
            if view.nudge_on
            else self._button(lang, "nudge_on", "nudge", "on")
        )
        back = "back_to_questions" if view.in_interview else "back_to_plan"
        keyboard = (
            (toggle,),
            (self._button(lang, "timezone", "tz"), self._button(lang, "hour", "hour")),
            (self._button(lang, "quiet", "quiet"), nudge),
            # Mid-interview, ShowPlan shows the open question (the plan follows the answers).
            (Button(self.r.plain(lang, f"buttons.{back}"), encode(ShowPlan())),),
        )
        return Screen(text, keyboard)

    def zones(self, lang: str | None, tz: str, *, problem: str | None = None) -> Screen:
        """Pick a time zone (or type one)."""
        text = self.r.render(lang, "alert_zone.html.j2", zone=tz, problem=problem, typing=False)
        buttons = [
            Button(self.r.plain(lang, f"alerts.zones.{zid}"), encode(Alerts("tz", zid)))
            for zid in ZONES
        ]
        rows = [tuple(buttons[i : i + 3]) for i in range(0, len(buttons), 3)]
        rows.append((self._button(lang, "type_zone", "tz", "type"),))
        rows.append((self._button(lang, "back", "show", "edit"),))
        return Screen(text, tuple(rows))

    def zone_prompt(self, lang: str | None, tz: str, *, problem: str | None = None) -> Screen:
        """Type a city, a zone name or an offset."""
        text = self.r.render(lang, "alert_zone.html.j2", zone=tz, problem=problem, typing=True)
        return Screen(text, ((self._button(lang, "cancel", "tz", "cancel"),),))

    def hours(
        self, lang: str | None, hour: int | None, tz: str, *, problem: str | None = None
    ) -> Screen:
        """Pick the preferred hour (or type one)."""
        text = self.r.render(lang, "alert_hour.html.j2", hour=hour, zone=tz, problem=problem)
        buttons = [self._button(lang, "hour_label", "hour", str(h), hour=h) for h in HOURS]
        rows = [tuple(buttons[i : i + 4]) for i in range(0, len(buttons), 4)]
        rows.append((self._button(lang, "any_hour", "hour", "any"),))
        rows.append((self._button(lang, "back", "show", "edit"),))
        return Screen(text, tuple(rows))

    def quiet_hours(
        self, lang: str | None, quiet: QuietHours | None, tz: str, *, problem: str | None = None
    ) -> Screen:
        """Pick quiet hours, none, or type them."""
        text = self.r.render(
            lang,
            "alert_quiet.html.j2",
            quiet={"start": quiet.start, "end": quiet.end} if quiet else None,
            zone=tz,
            problem=problem,
        )
        buttons = [
            self._button(lang, "quiet_label", "quiet", f"{s}-{e}", start=s, end=e)
            for s, e in QUIET_CHOICES
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((self._button(lang, "quiet_off", "quiet", QUIET_OFF),))
        rows.append((self._button(lang, "back", "show", "edit"),))
        return Screen(text, tuple(rows))

    def resume(self, lang: str | None) -> Screen:
        """After the merchant unblocked the bot: offer to turn reminders back on."""
        text = self.r.render(lang, "alert_resume.html.j2")
        return Screen(text, ((self._button(lang, "resume", "resume"),),))

    def plan_changed(self, lang: str | None, view: PlanChangedView) -> Screen:
        """One short notice naming the steps of the merchant's plan a new release changed."""
        shown = view.steps[:CHANGED_SHOWN]
        text = self.r.render(
            lang,
            "plan_changed.html.j2",
            steps=shown,
            more=len(view.steps) - len(shown),
            shop_name=view.shop_name,
        )
        first: tuple[Button, ...] = (
            (
                Button(
                    self.r.plain(lang, "plan_changed.open_step"),
                    encode(OpenStep(view.steps[0].id)),
                ),
            )
            if len(view.steps) == 1
            else (Button(self.r.plain(lang, "plan_changed.open_plan"), encode(ShowPlan())),)
        )
        return Screen(text, (first, (self._button(lang, "stop", "stop"),)))

    def reminder(self, lang: str | None, view: ReminderView) -> Screen:
        """A reminder message: time left, progress, the next step, snooze and stop."""
        step = (
            {"title": view.step_title, "minutes": view.step_minutes}
            if view.step_title is not None
            else None
        )
        text = self.r.render(
            lang,
            "alert.html.j2",
            kind=view.kind,
            left=view.left,
            date=self.views.day(lang, view.when) if view.when else "",
            progress=view.progress,
            step=step,
            shop_name=view.shop_name,
        )
        first: list[Button] = []
        if step is not None:
            first.append(
                Button(self.r.plain(lang, "alerts.buttons.open_next"), encode(NextStep()))
            )
        if view.kind != "nudge":
            first.append(self._button(lang, "snooze", "snooze", str(view.row_id)))
        keyboard = (tuple(first), (self._button(lang, "stop", "stop"),))
        return Screen(text, tuple(row for row in keyboard if row))
