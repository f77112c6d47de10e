"""Reminder use cases: the /alerts screen and its buttons, re-planning, rendering due rows.

Re-planning (:meth:`AlertService.replan`) runs on every settings change and whenever the
interview answers change (a new go-live date), in the merchant's own transaction; the rules
are pure (:mod:`bot.alerts.keys`). Rows are also checked again when rendered: an alert whose
merchant has switched reminders off, or whose target moved, is cancelled instead of sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy import insert as insert_rows
from sqlalchemy import select as select_rows
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts import keys
from bot.alerts.dispatcher import Claimed, Dispatcher, Prepared
from bot.alerts.keys import Change, Stored, parse_key, target_stamp
from bot.alerts.planner import (
    QuietHours,
    humanize_left,
    parse_hour,
    parse_quiet_hours,
    parse_timezone,
    plan_alerts,
    zone,
    zone_for_markets,
)
from bot.alerts.screens import (
    QUIET_OFF,
    ZONES,
    AlertScreens,
    ChangedStep,
    PlanChangedView,
    ReminderView,
    Scheduled,
)
from bot.alerts.screens import SettingsView as SettingsScreen
from bot.content.render import Renderer
from bot.domain.callbacks import MAX_INT, Alerts
from bot.domain.interview import likely_path
from bot.domain.plan import Mark
from bot.services.core import Core, Turn, UserInfo, marks_of
from bot.storage.db import get_locked
from bot.storage.models import (
    Awaiting,
    ContentRelease,
    Merchant,
    Mode,
    Outbox,
    OutboxStatus,
    StepProgress,
)
from bot.storage.upsert import insert
from bot.views.model import Outcome, Screen, as_typed_reply
from bot.views.screens import shop_name_of

log = logging.getLogger(__name__)

CHANGE_NOTICE_USEFUL = timedelta(days=7)  # retries of a "your plan changed" notice stop then

# Re-planning's statements: Core on the turn's connection, not the ORM (issue 20: a typed
# answer that moves the go-live date needs no ORM session, which cost 1-2 ms of CPU). Each
# kind of change is one statement for all its rows (executemany), as the ORM's flush batched.
_OUTBOX: Table = Outbox.__table__  # type: ignore[attr-defined]
_PLANNED = select_rows(_OUTBOX.c.id, _OUTBOX.c.key, _OUTBOX.c.status, _OUTBOX.c.due_at).where(
    _OUTBOX.c.merchant_id == bindparam("merchant_id")
)
_ADD = insert_rows(_OUTBOX)  # rows: merchant_id, key, due_at, status, attempts, unanswered
_ROW = _OUTBOX.c.id == bindparam("row_id")
# A pending row due at another time.
_MOVE = update(_OUTBOX).where(_ROW).values(due_at=bindparam("new_due"))
# A row no longer pending (cancelled, failed...; never a sent one): pending again, its tries
# forgotten.
_REVIVE = (
    update(_OUTBOX)
    .where(_ROW)
    .values(
        status=OutboxStatus.PENDING,
        attempts=0,
        error=None,
        unanswered=0,
        due_at=bindparam("new_due"),
    )
)
_CANCEL = (
    update(_OUTBOX).where(_ROW).values(status=OutboxStatus.CANCELLED, error=bindparam("new_error"))
)


def go_live_of(answers: dict[str, Any]) -> date | None:
    """The merchant's go-live date, if they gave a valid one."""
    value = answers.get("go_live")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class AlertService:
    """The reminders feature: /alerts, its buttons and typed time zone, and the dispatcher's
    source of rendered rows."""

    def __init__(
        self,
        core: Core,
        *,
        offsets: Sequence[timedelta],
        quiet_default: QuietHours | None,
        nudge_after_days: int = 7,
        plan_change_notices: bool = True,
    ) -> None:
        """Wire the feature to the core and the operator's reminder settings."""
        self.core = core
        self.db = core.db
        self._screens = AlertScreens(core.views)
        self.quiet_default = quiet_default
        self.campaign = keys.Campaign(
            deadline=core.deadline,
            offsets=tuple(offsets),
            nudge_after=timedelta(days=nudge_after_days),
        )
        self.dispatcher: Dispatcher | None = None  # set by the wiring
        self.plan_change_notices = plan_change_notices
        # When each content release this process knows went live (retry horizon of notices).
        self.releases: dict[str, datetime] = {}

    @property
    def screens(self) -> AlertScreens:
        """The reminder screens of the live content release."""
        views = self.core.views
        if self._screens.views is not views:
            self._screens = AlertScreens(views)
        return self._screens

    @property
    def r(self) -> Renderer:
        """The live release's renderer."""
        return self.core.views.r

    def campaign_changed(self, offsets: Sequence[timedelta], nudge_after_days: int) -> None:
        """A reloaded content release: its deadline, reminder offsets and nudge period."""
        self.campaign = keys.Campaign(
            deadline=self.core.deadline,
            offsets=tuple(offsets),
            nudge_after=timedelta(days=nudge_after_days),
        )

    @property
    def deadline(self) -> datetime:
        """The campaign deadline (with the operator's override)."""
        return self.core.deadline

    @property
    def offsets(self) -> tuple[timedelta, ...]:
        """When reminders go out before a target."""
        return self.campaign.offsets

    # --- a merchant's settings, read for the pure rules -----------------------------------

    def quiet_of(self, merchant: Merchant) -> QuietHours | None:
        """The merchant's quiet hours: their own choice, off, or the operator's default."""
        return self.quiet_for(merchant.quiet_hours)

    def quiet_for(self, stored: str | None) -> QuietHours | None:
        """Quiet hours from a merchant's stored choice (``None``: the operator's default)."""
        if stored is None:
            return self.quiet_default
        if stored == QUIET_OFF:
            return None
        try:
            return parse_quiet_hours(stored)
        except ValueError:
            return self.quiet_default

    @staticmethod
    def zone_of(merchant: Merchant) -> str:
        """The merchant's time zone (UTC when the stored one is unknown)."""
        try:
            zone(merchant.timezone)
        except ValueError:
            return "UTC"
        return merchant.timezone

    def settings_of(self, merchant: Merchant) -> keys.Settings:
        """The merchant's reminder settings for the pure rules."""
        return keys.Settings(
            on=merchant.alerts_on,
            blocked=merchant.blocked,
            tz=self.zone_of(merchant),
            preferred_hour=merchant.preferred_hour,
            quiet=self.quiet_of(merchant),
            nudge_on=merchant.nudge_on,
            last_progress=merchant.last_progress,
            first_seen=merchant.first_seen,
        )

    def plan(self, merchant: Merchant, go_live: date | None, now: datetime) -> dict[str, datetime]:
        """The rows the merchant should have now: outbox key -> due time (UTC)."""
        return keys.planned(self.settings_of(merchant), self.campaign, go_live, now)

    # --- re-planning ------------------------------------------------------------------------

    async def answers_changed(self, turn: Turn, changed: set[str]) -> None:
        """A new go-live date moves the go-live alerts; a market answer proposes a time zone
        while the merchant has not chosen one (still UTC).

        Reminders off, there is nothing to move: every way of turning them off (the
        buttons, a block) cancels the pending rows in the same transaction, and the
        dispatcher drops a row whose merchant it finds off at send time. So these answers
        read no outbox (issue 20: on PostgreSQL a transaction and a SELECT, three round
        trips, for most merchants, who are mid-interview with reminders not yet on)."""
        merchant = turn.merchant
        markets = turn.state.answers.get("market")
        if "market" in changed and merchant.timezone == "UTC" and isinstance(markets, list):
            proposed = zone_for_markets(markets)
            if proposed is not None:
                merchant.timezone = proposed
                changed = {*changed, "timezone"}
        if changed & {"go_live", "timezone"} and merchant.alerts_on:
            await self.replan(turn)

    async def replan(self, turn: Turn) -> None:
        """Bring the turn's merchant's outbox rows in line with their settings (idempotent),
        in the turn's transaction."""
        await self.replan_on(await turn.synced_connection(), turn.merchant)

    async def replan_on(self, conn: AsyncConnection, merchant: Merchant) -> None:
        """Bring the merchant's outbox rows in line with their settings (idempotent), by
        Core statements on ``conn``, in its transaction.

        An ORM session in the same transaction must have sent what it holds first
        (:meth:`Turn.synced_connection` does), and the outbox rows it may have loaded are
        not refreshed: read them (again) after this, as the settings screen does.
        """
        now = self.core.clock()
        settings = self.settings_of(merchant)
        go_live = go_live_of(self.core.effective_answers(merchant))
        plan = keys.planned(settings, self.campaign, go_live, now)
        live = keys.live_targets(self.deadline, go_live, now) if merchant.alerts_on else set()
        found = await conn.execute(_PLANNED, {"merchant_id": merchant.id})
        rows = {row.key: row for row in found}
        stored = {key: Stored(row.status, row.due_at) for key, row in rows.items()}
        added: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        revived: list[dict[str, Any]] = []
        cancelled: list[dict[str, Any]] = []
        for item in keys.reconcile(plan, stored, settings=settings, live=live, now=now):
            row = rows.get(item.key)
            if item.change is Change.ADD:
                assert item.due_at is not None
                added.append(
                    {
                        "merchant_id": merchant.id,
                        "key": item.key,
                        "due_at": item.due_at,
                        "status": OutboxStatus.PENDING,
                        "attempts": 0,
                        "unanswered": 0,
                    }
                )
            elif item.change is Change.RESCHEDULE and row is not None:
                assert item.due_at is not None
                if row.status != OutboxStatus.PENDING:
                    revived.append({"row_id": row.id, "new_due": item.due_at})
                elif row.due_at != item.due_at:  # else nothing changes (the ORM sent nothing)
                    moved.append({"row_id": row.id, "new_due": item.due_at})
            elif row is not None:
                error = None if merchant.alerts_on else "off"
                cancelled.append({"row_id": row.id, "new_error": error})
        for statement, params in (
            (_ADD, added),
            (_MOVE, moved),
            (_REVIVE, revived),
            (_CANCEL, cancelled),
        ):
            if params:
                await conn.execute(statement, params)

    # --- content releases: "your plan changed" ---------------------------------------------

    async def content_released(self) -> int:
        """Record the live content tree as a release; on a new one, queue the notices.

        Runs at every start (and after a reload). The release row is inserted only if its
        hash is new (several instances starting at once: one inserts, the others find it),
        and in the same transaction every merchant with reminders on whose plan holds a
        step that is new or whose ``version`` went up since the previous release gets one
        outbox row ``changed@<hash>`` (unique per merchant: at most one notice per release),
        due at once or when their quiet hours end. The first release a database sees only
        sets the baseline. Returns the number of notices queued.
        """
        content = self.core.content
        versions = {step.id: step.version for step in content.steps}
        now = self.core.clock()
        async with self.db.session() as session:
            conn = await session.connection()
            table = ContentRelease.__table__  # type: ignore[attr-defined]
            inserted = await conn.execute(
                insert(table, postgres=self.db.is_postgres)
                .values(hash=content.hash, steps=versions, changed={}, at=now)
                .on_conflict_do_nothing(index_elements=["hash"])
            )
            if inserted.rowcount != 1:  # known: another instance (or an earlier start) did it
                found = await session.exec(
                    select(ContentRelease.at).where(ContentRelease.hash == content.hash)
                )
                self.releases[content.hash] = found.one()
                return 0
            self.releases[content.hash] = now
            before = await session.exec(
                select(ContentRelease)
                .where(ContentRelease.hash != content.hash)
                .order_by(col(ContentRelease.id).desc())
                .limit(1)
            )
            previous = before.first()
            if previous is None:
                log.info("content release %s recorded (the first: no notices)", content.hash)
                return 0
            changed = keys.changed_steps(previous.steps, versions)
            was = {step_id: int(previous.steps.get(step_id, 0)) for step_id in changed}
            await conn.execute(
                update(table).where(table.c.hash == content.hash).values(changed=was)
            )
            if not changed or not self.plan_change_notices:
                log.info(
                    "content release %s: %d step(s) changed since %s; no notices%s",
                    content.hash,
                    len(changed),
                    previous.hash,
                    "" if self.plan_change_notices else " (PLAN_CHANGE_NOTICES=false)",
                )
                return 0
            queued = await self._queue_notices(session, set(changed), now)
        log.info(
            "content release %s: %d step(s) changed since %s (%s); %d merchant(s) notified",
            content.hash,
            len(changed),
            previous.hash,
            ", ".join(changed),
            queued,
        )
        return queued

    async def _queue_notices(self, session: AsyncSession, changed: set[str], now: datetime) -> int:
        key = keys.changed_key(self.core.content.hash)
        found = await session.exec(
            select(Merchant).where(
                col(Merchant.alerts_on).is_(True),
                col(Merchant.blocked).is_(False),
                col(Merchant.mode) != Mode.INTERVIEW,
            )
        )
        rows = []
        for merchant in found.all():
            plan = self.core.progress_of(self.core.effective_answers(merchant), {})
            if not any(step.id in changed for step in plan.steps):
                continue
            due = keys.out_of_quiet(self.settings_of(merchant), now)
            rows.append(
                {
                    "merchant_id": merchant.id,
                    "key": key,
                    "due_at": due,
                    "status": OutboxStatus.PENDING,
                }
            )
        if not rows:
            return 0
        conn = await session.connection()
        table = Outbox.__table__  # type: ignore[attr-defined]
        for start in range(0, len(rows), 500):
            await conn.execute(
                insert(table, postgres=self.db.is_postgres)
                .values(rows[start : start + 500])
                .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
            )
        return len(rows)

    # --- entry points ---------------------------------------------------------------------

    async def command(self, user: UserInfo) -> Outcome:
        """/alerts: the settings screen."""
        async with self.core.turn(user, repeatable=True) as turn:
            turn.merchant.awaiting = None
            return Outcome(send=[await self.screen(turn)])

    async def opened(self, turn: Turn) -> Outcome:
        """The settings screen in a turn already open ("alerts" typed without the slash)."""
        turn.merchant.awaiting = None
        return Outcome(send=[await self.screen(turn)])

    async def typed_off(self, turn: Turn) -> Outcome:
        """ "stop" (or "turn alerts off") typed once the plan is built: alerts off, said so."""
        return await self._typed_switch(turn, on=False)

    async def typed_on(self, turn: Turn) -> Outcome:
        """ "turn alerts on" typed once the plan is built: alerts on, said so."""
        return await self._typed_switch(turn, on=True)

    async def typed_snooze(self, turn: Turn) -> Outcome:
        """ "snooze" typed once the plan is built: the alert sent last comes back in a day,
        as its Snooze button does (or a line saying it can't be)."""
        found = await turn.session.exec(
            select(Outbox)
            .where(Outbox.merchant_id == turn.merchant.id, Outbox.status == OutboxStatus.SENT)
            .order_by(col(Outbox.sent_at).desc())
            .limit(1)
        )
        row = found.first()
        if row is None or row.id is None:
            gone = self.r.text(turn.lang, "alerts.notices.snooze_gone")
            return Outcome(send=[Screen(gone)])
        return as_typed_reply(await self._snooze(turn, row.id))

    async def _typed_switch(self, turn: Turn, *, on: bool) -> Outcome:
        merchant = turn.merchant
        merchant.awaiting = None
        merchant.alerts_on = on
        merchant.blocked = False
        await self.replan(turn)
        told = self.r.text(turn.lang, f"alerts.notices.{'turned_on' if on else 'stopped'}")
        return Outcome(send=[Screen(told), await self.screen(turn)])

    async def press(self, user: UserInfo, button: Alerts) -> Outcome:
        """A press on a reminder button (each states what it sets, so none is stale)."""
        async with self.core.turn(user) as turn:
            merchant, lang = turn.merchant, turn.lang
            action, value = button.action, button.value
            merchant.awaiting = None  # a picker that takes typing sets it again below
            match action:
                case "show":
                    screen = await self.screen(turn)
                    return Outcome(edit=screen) if value == "edit" else Outcome(send=[screen])
                case "on" | "off" | "resume" if not value:
                    merchant.alerts_on = action != "off"
                    merchant.blocked = False
                    await self.replan(turn)
                    toast = self.r.plain(
                        lang, f"alerts.notices.turned_{'off' if action == 'off' else 'on'}"
                    )
                    screen = await self.screen(turn)
                    if action == "resume":
                        return Outcome(toast=toast, send=[screen])
                    return Outcome(toast=toast, edit=screen)
                case "stop" if not value:
                    merchant.alerts_on = False
                    await self.replan(turn)
                    return Outcome(toast=self.r.plain(lang, "alerts.notices.stopped"))
                case "nudge" if value in ("on", "off"):
                    merchant.nudge_on = value == "on"
                    await self.replan(turn)
                    return await self._saved(turn)
                case "tz":
                    return await self._zone_press(turn, value)
                case "hour":
                    if not value:
                        merchant.awaiting = Awaiting.HOUR
                        return Outcome(
                            edit=self.screens.hours(
                                lang, merchant.preferred_hour, self.zone_of(merchant)
                            )
                        )
                    if value == "any" or (value.isdigit() and int(value) in range(24)):
                        merchant.preferred_hour = None if value == "any" else int(value)
                        await self.replan(turn)
                        return await self._saved(turn)
                case "quiet":
                    if not value:
                        merchant.awaiting = Awaiting.QUIET
                        return Outcome(
                            edit=self.screens.quiet_hours(
                                lang, self.quiet_of(merchant), self.zone_of(merchant)
                            )
                        )
                    if value == QUIET_OFF:
                        merchant.quiet_hours = QUIET_OFF
                    else:
                        try:
                            merchant.quiet_hours = str(parse_quiet_hours(value))
                        except ValueError:
                            return self._unknown(turn)
                    await self.replan(turn)
                    return await self._saved(turn)
                case "snooze" if value.isdigit() and int(value) <= MAX_INT:
                    return await self._snooze(turn, int(value))
            return self._unknown(turn)

    async def typed(self, turn: Turn, text: str) -> Outcome | None:
        """Typed text while ``merchant.awaiting`` is ours: a time zone, an hour, quiet hours.

        After "Type my city" only a time zone is expected; on a picker screen text that is
        not understood is handed on to the interview when a question is open (the merchant
        left the screen), and otherwise the picker is shown again, saying what went wrong.
        """
        merchant, lang = turn.merchant, turn.lang
        awaiting, raw = merchant.awaiting, text.strip()[:64]
        tz = self.zone_of(merchant)
        if awaiting == Awaiting.HOUR:
            try:
                merchant.preferred_hour = parse_hour(raw)
            except ValueError:
                screen = self.screens.hours(lang, merchant.preferred_hour, tz, problem=raw)
                return self._not_typed(turn, screen)
        elif awaiting == Awaiting.QUIET:
            try:
                quiet = parse_quiet_hours(raw)
            except ValueError:
                quiet = None
            if quiet is None:
                screen = self.screens.quiet_hours(lang, self.quiet_of(merchant), tz, problem=raw)
                return self._not_typed(turn, screen)
            merchant.quiet_hours = str(quiet)
        else:
            try:
                merchant.timezone = parse_timezone(raw)
            except ValueError:
                if awaiting == Awaiting.ZONES:
                    return self._not_typed(turn, self.screens.zones(lang, tz, problem=raw))
                return Outcome(send=[self.screens.zone_prompt(lang, tz, problem=raw[:40])])
        merchant.awaiting = None
        await self.replan(turn)
        if awaiting in (Awaiting.HOUR, Awaiting.QUIET):
            notice = self.r.text(lang, "alerts.notices.saved")
        else:
            notice = self.r.text(lang, "alerts.notices.zone_set", zone=merchant.timezone)
        return Outcome(send=[await self.screen(turn, notice=notice)])

    @staticmethod
    def _not_typed(turn: Turn, screen: Screen) -> Outcome | None:
        """Typed text a picker did not understand: the picker again, or on to the interview."""
        if turn.merchant.current is not None:  # a question is on screen
            turn.merchant.awaiting = None
            return None
        return Outcome(send=[screen])

    async def chat_member(self, user: UserInfo, status: str) -> Outcome:
        """The bot was blocked (``kicked``/``left``) or allowed again (``member``)."""
        async with self.db.session() as session:
            merchant = await get_locked(session, Merchant, user.id, lock_key=user.chat_id)
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
            return Outcome(send=[self.screens.resume(merchant.lang)])

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
            .where(
                col(Outbox.merchant_id) == merchant_id,
                col(Outbox.status) == OutboxStatus.PENDING,
            )
            .values(
                status=OutboxStatus.CANCELLED, error="blocked", lease_owner=None, lease_until=None
            )
        )

    def useful_until(self, row: Claimed) -> datetime | None:
        """Until when a failing row is retried (see :func:`bot.alerts.keys.useful_until`);
        a "your plan changed" notice for a week after its release went live."""
        info = parse_key(row.key)
        if info is not None and info.kind == "changed":
            released = self.releases.get(info.target)
            return released + CHANGE_NOTICE_USEFUL if released is not None else None
        return keys.useful_until(row.key)

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """After a nudge went out, plan the next one."""
        for row in rows:
            info = parse_key(row.key)
            if info is None or info.kind != "nudge":
                continue
            merchant = await session.get(Merchant, row.merchant_id)
            if merchant is not None and merchant.nudge_on and merchant.alerts_on:
                settings = self.settings_of(merchant)
                due = keys.out_of_quiet(settings, self.core.clock() + self.campaign.nudge_after)
                key = keys.nudge_key(due)
                exists = await session.exec(
                    select(Outbox.id).where(Outbox.merchant_id == merchant.id, Outbox.key == key)
                )
                if exists.first() is None:
                    session.add(Outbox(merchant_id=merchant.id, key=key, due_at=due))

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Render claimed rows now (time left, progress and next step are current)."""
        now = self.core.clock()
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
            hashes = {
                info.target
                for row in rows
                if (info := parse_key(row.key)) is not None and info.kind == "changed"
            }
            releases: dict[str, ContentRelease] = {}
            if hashes:
                found_releases = await session.exec(
                    select(ContentRelease).where(col(ContentRelease.hash).in_(hashes))
                )
                releases = {r.hash: r for r in found_releases.all()}
            later = _superseded(rows)
            for row in rows:
                merchant = merchants.get(row.merchant_id)
                if merchant is None:
                    out.append(Prepared(row, 0, None, "no merchant"))
                    continue
                if row.id in later:  # a later reminder of the same date goes out now instead
                    out.append(Prepared(row, merchant.chat_id, None, "superseded"))
                    continue
                try:
                    info = parse_key(row.key)
                    if info is not None and info.kind == "changed":
                        release = releases.get(info.target)
                        screen, reason = self._render_changed(
                            merchant, marks.get(merchant.id, {}), release
                        )
                    else:
                        screen, reason = self._render(
                            merchant, marks.get(merchant.id, {}), row, now
                        )
                except Exception as exc:  # a broken row must not stop the others
                    log.exception("cannot render alert %s", row.key)
                    screen, reason = None, f"render failed: {type(exc).__name__}"
                out.append(Prepared(row, merchant.chat_id, screen, reason))
        return out

    def _render_changed(
        self, merchant: Merchant, marks: dict[str, Mark], release: ContentRelease | None
    ) -> tuple[Screen | None, str | None]:
        """The "your plan changed" notice as it reads now, or why it is no longer sent."""
        if not merchant.alerts_on or merchant.blocked:
            return None, "off"
        if release is None:
            return None, "unknown release"
        answers = self.core.effective_answers(merchant)
        plan = self.core.progress_of(answers, marks)
        changed = set(release.changed)
        lang = merchant.lang  # read at send time: a switch reaches queued reminders
        steps = tuple(
            ChangedStep(
                id=step.id,
                title=self.core.content.step_text(lang, step.id).title,
                new=release.changed.get(step.id) == 0,
                done=plan.status(step.id) != "open",
            )
            for step in plan.steps
            if step.id in changed
        )
        if not steps:
            return None, "no longer in the plan"
        view = PlanChangedView(steps=steps, shop_name=shop_name_of(answers))
        return self.screens.plan_changed(lang, view), None

    def _render(
        self, merchant: Merchant, marks: dict[str, Mark], row: Claimed, now: datetime
    ) -> tuple[Screen | None, str | None]:
        """The reminder as it reads now, or why it is no longer sent."""
        if not merchant.alerts_on or merchant.blocked:
            return None, "off"
        info = parse_key(row.key)
        if info is None:
            return None, "unknown key"
        answers = self.core.effective_answers(merchant)
        progress = self.core.progress_of(answers, marks)
        lang = merchant.lang  # read at send time: a switch reaches queued reminders
        tz = self.zone_of(merchant)
        left: tuple[str, int] = ("today", 0)
        when: date | None = None
        if info.kind == "nudge":
            last = merchant.last_progress
            if not merchant.nudge_on or (
                last is not None and now - last < self.campaign.nudge_after
            ):
                return None, "moved"
            if progress.finished:
                return None, "finished"
        elif info.kind == "golive":
            go_live = go_live_of(answers)
            if go_live is None or target_stamp("golive", go_live) != info.target:
                return None, "target moved"
            target = datetime.combine(go_live, datetime.min.time(), tzinfo=zone(tz))
            left = humanize_left(now, target, tz, all_day=True)
            if left[0] == "passed_days":
                return None, "passed"
            when = go_live
        else:
            if target_stamp("deadline", self.deadline) != info.target or self.deadline < now:
                return None, "target moved"
            left = humanize_left(now, self.deadline, tz)
            when = self.deadline.astimezone(zone(tz)).date()
        step = progress.next_open()
        view = ReminderView(
            kind=info.kind,
            left=left,
            when=when,
            progress=progress,
            step_title=self.core.content.step_text(lang, step.id).title if step else None,
            step_minutes=step.minutes if step else None,
            shop_name=shop_name_of(answers),
            row_id=row.id,
        )
        return self.screens.reminder(lang, view), None

    # --- screens --------------------------------------------------------------------------

    def _unknown(self, turn: Turn) -> Outcome:
        return Outcome(toast=self.core.toast(turn, "notices.unknown_button"))

    async def _saved(self, turn: Turn) -> Outcome:
        toast = self.core.toast(turn, "alerts.notices.saved")
        return Outcome(toast=toast, edit=await self.screen(turn))

    async def screen(self, turn: Turn, *, notice: str | None = None) -> Screen:
        """The /alerts screen: state, what is scheduled (local time) and the buttons."""
        merchant = turn.merchant
        tz = self.zone_of(merchant)
        tzinfo = zone(tz)
        await turn.session.flush()
        result = await turn.session.exec(
            select(Outbox)
            .where(Outbox.merchant_id == merchant.id, Outbox.status == OutboxStatus.PENDING)
            .order_by(col(Outbox.due_at))
        )
        scheduled = tuple(
            Scheduled(info.kind, info.offset, info.snoozed, row.due_at.astimezone(tzinfo))
            for row in result.all()
            if (info := parse_key(row.key)) is not None
        )
        go_live = go_live_of(self.core.effective_answers(merchant))
        now = self.core.clock()
        quiet = self.quiet_of(merchant)
        # What the go-live sentence names: the reminders the planner would still send.
        ahead = plan_alerts(
            now=now,
            deadline=None,
            go_live=go_live,
            offsets=self.offsets,
            tz=tz,
            preferred_hour=merchant.preferred_hour,
            quiet=quiet,
        )
        view = SettingsScreen(
            on=merchant.alerts_on,
            tz=tz,
            hour=merchant.preferred_hour,
            quiet=quiet,
            nudge_on=merchant.nudge_on,
            nudge_days=self.campaign.nudge_after.days,
            go_live=go_live,
            deadline=self.deadline.astimezone(tzinfo),
            now=now.astimezone(tzinfo),
            offsets=self.offsets,
            scheduled=scheduled,
            golive_offered="go_live"
            in likely_path(self.core.content.interview, turn.state.answers),
            golive_ahead=tuple(spec.offset for spec in ahead),
            in_interview=turn.state.mode == "interview",
        )
        return self.screens.settings(turn.lang, view, notice=notice)

    async def _zone_press(self, turn: Turn, value: str) -> Outcome:
        merchant, lang = turn.merchant, turn.lang
        if not value:
            merchant.awaiting = Awaiting.ZONES
            return Outcome(edit=self.screens.zones(lang, self.zone_of(merchant)))
        if value == "type":
            merchant.awaiting = Awaiting.ZONE
            return Outcome(edit=self.screens.zone_prompt(lang, self.zone_of(merchant)))
        if value == "cancel":
            return Outcome(edit=await self.screen(turn))
        if value not in ZONES:
            return self._unknown(turn)
        merchant.timezone = ZONES[value]
        await self.replan(turn)
        return await self._saved(turn)

    async def _snooze(self, turn: Turn, row_id: int) -> Outcome:
        merchant, session = turn.merchant, turn.session
        row = await session.get(Outbox, row_id)
        info = parse_key(row.key) if row is not None else None
        if (
            row is None
            or row.merchant_id != merchant.id
            or info is None
            or info.kind == "nudge"
            or not merchant.alerts_on
        ):
            return Outcome(toast=self.core.toast(turn, "alerts.notices.snooze_gone"))
        key = keys.snooze_key(row.key)
        due = keys.out_of_quiet(self.settings_of(merchant), self.core.clock() + timedelta(days=1))
        found = await session.exec(
            select(Outbox).where(Outbox.merchant_id == merchant.id, Outbox.key == key)
        )
        snooze = found.first()
        if snooze is None:
            session.add(Outbox(merchant_id=merchant.id, key=key, due_at=due))
        else:  # snoozed again: the one snooze row goes out once more
            snooze.status, snooze.due_at, snooze.attempts = OutboxStatus.PENDING, due, 0
            snooze.unanswered = 0
            snooze.sent_at = snooze.error = snooze.lease_owner = snooze.lease_until = None
        return Outcome(toast=self.core.toast(turn, "alerts.notices.snoozed"))


def _superseded(rows: Sequence[Claimed]) -> set[int]:
    """Rows due together with a later reminder of the same date for the same merchant (the
    bot was away, or a dispatcher caught up): only the one due last is worth sending, else the
    merchant gets "closes in 23 hours" three times."""
    latest: dict[tuple[int, str, str], Claimed] = {}
    for row in rows:
        info = parse_key(row.key)
        if info is None or info.kind not in ("deadline", "golive"):
            continue
        key = (row.merchant_id, info.kind, info.target)
        if key not in latest or row.due_at > latest[key].due_at:
            latest[key] = row
    kept = {row.id for row in latest.values()}
    return {
        row.id
        for row in rows
        if (info := parse_key(row.key)) is not None
        and info.kind in ("deadline", "golive")
        and row.id not in kept
    }
