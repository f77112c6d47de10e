"""What every use case shares: the per-update unit of work (:class:`Turn`) and the helpers
that read a merchant's plan.

Each use case opens exactly one turn: one short unit of work that loads (or creates, on
first contact) the merchant and reads their interview state against today's content, and
writes what changed at its end. Two instances handling the same merchant act as one would
(on PostgreSQL the write is conditional on the merchant's row being as read, else the update
is handled again: bot.storage.merchant_row); a restart continues exactly where the merchant
was. The turn records the update's id with the merchant, so an update handled
again after its turn committed changes nothing (:class:`Repeated`, :func:`handled_already`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.content.loader import Content
from bot.delivery import DELIVERY
from bot.domain import interview as iv
from bot.domain.interview import State, TypedWords
from bot.domain.plan import Mark, Progress
from bot.domain.plan import select as select_steps
from bot.storage import merchant_row, turn_reads
from bot.storage.db import Database, Unit
from bot.storage.merchant_row import StoredMerchant
from bot.storage.models import Event, Merchant, Mode, StepStatus, utcnow
from bot.views.model import Outcome, Screen
from bot.views.screens import Views

_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
#: Clocks of two instances may differ by this much (see :func:`handled_already`).
CLOCK_SKEW = timedelta(minutes=1)
#: Activity-log kind: a step was shown on its own (what typed "done" or "skip" applies to).
STEP_SHOWN = "step_opened"  # a step shown to the merchant (funnel, and typed done/skip)


@dataclass(frozen=True)
class Live:
    """One content release as the services use it: the tree, its screens and its deadline.

    Swapped as a whole (one reference) when the content is reloaded; an update reads the one
    that was live when its turn opened, from start to end (see :meth:`Core.turn`).
    """

    content: Content
    views: Views
    deadline: datetime
    # Per-release caches (a locale's typed words).
    typed_words: dict[str, TypedWords] = field(default_factory=dict, compare=False)


# The release an update pinned when its turn opened (per task: PTB runs each update in its own).
_PINNED: ContextVar[tuple[int, Live] | None] = ContextVar("bot_live_release", default=None)


@dataclass(frozen=True)
class Logged:
    """A logged event as a turn reads it back (:meth:`Turn.last_event`)."""

    kind: str
    step: str | None


@dataclass(frozen=True)
class UserInfo:
    """Who sent the update (primitives only: handlers unpack the Telegram objects)."""

    id: int
    chat_id: int
    first_name: str | None = None
    language_code: str | None = None


class MarkRow(Protocol):
    """A step_progress row as :func:`marks_of` reads it (an ORM object or a Core row)."""

    @property
    def step_id(self) -> str:
        """The step."""
        ...

    @property
    def status(self) -> StepStatus:
        """Done or skipped."""
        ...

    @property
    def step_version(self) -> int:
        """The step's version when it was marked."""
        ...


def marks_of(rows: Iterable[MarkRow]) -> dict[str, Mark]:
    """Step marks (done / skipped) from their rows."""
    return {
        row.step_id: Mark(row.status.value, row.step_version)
        for row in rows
        if row.status in (StepStatus.DONE, StepStatus.SKIPPED)
    }


def funnel_columns(answers: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(platform, markets, shop_status) as the event and merchant columns hold them.

    ``markets`` is the market ids wrapped in commas (``,uk,de,``: filter with LIKE '%,uk,%').
    """
    platform, status, markets = (
        answers.get("platform"),
        answers.get("shop_status"),
        answers.get("market"),
    )
    joined = f",{','.join(markets)}," if isinstance(markets, list) and markets else None
    return (
        platform if isinstance(platform, str) else None,
        joined[:255] if joined else None,
        status if isinstance(status, str) else None,
    )


def with_id(ids: str | None, item: str) -> str:
    """A comma-wrapped id list (``,a,b,``) with ``item`` in it (the funnel columns)."""
    if ids and f",{item}," in ids:
        return ids
    return f"{ids or ','}{item},"


class Repeated(Exception):
    """The update's turn committed before (it is handled again: its process died before the
    inbox recorded it done, or its reply failed after the commit). Nothing was changed; the
    outcome shows the merchant where they are. Raised as the turn opens, so the service never
    runs; the error handler (handlers.errors) delivers the outcome."""

    def __init__(self, update_id: int, outcome: Outcome) -> None:
        super().__init__(f"update {update_id} was handled already")
        self.update_id = update_id
        self.outcome = outcome


def handled_already(merchant: Merchant, update_id: int, received: datetime | None) -> bool:
    """Whether a turn for this update (or a later one) committed for the merchant already.

    Telegram's update ids grow per bot, so an id at or below the recorded one was handled,
    with one exception: after a week without updates Telegram picks the next id at random
    (it may be lower). An update that arrived after the merchant's last turn cannot have
    been handled by it, so a lower id counts only if the merchant's last turn came after the
    update was received (``last_seen`` is written by every turn, with ``last_update_id``).
    """
    last = merchant.last_update_id
    if last is None or update_id > last:
        return False
    return received is None or merchant.last_seen >= received - CLOCK_SKEW


class Turn:
    """One update's unit of work: the session, the merchant, their interview state."""

    def __init__(
        self,
        unit: Unit,
        merchant: Merchant,
        *,
        stored: StoredMerchant | None,
        content: Content,
        now: datetime,
    ) -> None:
        self._unit = unit
        self.merchant = merchant
        # The merchant as loaded (written back by Core at commit: write_merchant), or None
        # for one created in this turn (first contact: in the session, the ORM inserts it).
        self._stored = stored
        self.created = stored is None
        self.now = now
        self._content = content
        self._events: list[dict[str, Any]] = []  # logged, written by write_events()
        self.state = iv.resume(
            content.interview,
            merchant.answers,
            merchant.path,
            merchant.current,
            merchant.mode,
            merchant.edit_before,
        )

    @property
    def session(self) -> AsyncSession:
        """The ORM session in the turn's transaction (made when first asked for: most turns
        need none; the merchant row and the events are written by Core)."""
        return self._unit.session

    @property
    def connection(self) -> AsyncConnection:
        """The turn's Core connection (its transaction)."""
        return self._unit.connection

    async def synced_connection(self) -> AsyncConnection:
        """The turn's Core connection, once what an ORM session holds (if one was made: a
        merchant created in this turn, rows added or changed) is sent: for Core statements
        that read or write rows the session may hold. The loaded merchant's own columns go
        at the end (:meth:`write`), not now."""
        await self._unit.flush()
        return self._unit.connection

    @property
    def lang(self) -> str | None:
        """The merchant's language: chosen with /language, else as Telegram reports it."""
        return self.merchant.lang

    @property
    def answers(self) -> dict[str, iv.Answer]:
        """The merchant's effective answers (those on their current branch)."""
        return iv.effective_answers(self._content.interview, self.state.answers)

    def save(self, state: State) -> None:
        """Make ``state`` the merchant's interview state (written at commit)."""
        self.state = state
        merchant = self.merchant
        merchant.answers = dict(state.answers)
        merchant.path = list(state.path)
        merchant.current = state.current
        merchant.mode = Mode(state.mode)
        merchant.edit_before = dict(state.before) if state.before is not None else None
        merchant.interview_version = self._content.interview.version
        merchant.platform, merchant.markets, merchant.shop_status = funnel_columns(state.answers)

    async def log(
        self, kind: str, *, question: str | None = None, step: str | None = None, **data: Any
    ) -> None:
        """Record a funnel event in this transaction, with the merchant's platform, markets
        and TikTok Shop status as they are now (columns operators filter on)."""
        # A Core insert at the end of the turn (write_events): the row is write-only here, so
        # the ORM would only add overhead, and one statement carries all of a turn's events.
        platform, joined, status = funnel_columns(self.state.answers)
        self._count(kind, question)
        self._events.append(
            {
                "merchant_id": self.merchant.id,
                "kind": kind,
                "at": self.now,
                "data": data,
                "question": question,
                "step": step,
                "platform": platform,
                "shop_status": status,
                "markets": joined,
            }
        )

    def _count(self, kind: str, question: str | None) -> None:
        """Keep the merchant's funnel columns (read by the operator console)."""
        merchant = self.merchant
        if question and kind in ("question_shown", "answer"):
            merchant.reached = with_id(merchant.reached, question)
            if kind == "answer":
                merchant.answered = with_id(merchant.answered, question)
        elif kind == "plan_opened" and merchant.plan_opened_at is None:
            merchant.plan_opened_at = self.now
        elif kind == "step_done" and merchant.step_done_at is None:
            merchant.step_done_at = self.now

    async def write_events(self) -> None:
        """Insert the events logged so far now, all in one statement (before reading them
        back by SQL: :meth:`last_event`). At the end of the turn they go with the merchant's
        write instead (:meth:`write`)."""
        if not self._events:
            return
        rows, self._events = self._events, []
        if self.created:
            await self.session.flush()  # a new merchant's row goes first
        conn = self.connection
        # Rows as parameters (executemany: one statement), not .values(rows): a multi-row
        # VALUES has no cache key, so it would be compiled again on every update.
        await conn.execute(insert(_EVENTS), rows[0] if len(rows) == 1 else rows)

    async def write(self) -> None:
        """The turn's writes, as it ends: the merchant's changed columns with the events
        logged (PostgreSQL: one statement, on condition that the row is as this turn read
        it, else :class:`~bot.storage.merchant_row.Conflict`). A merchant created in this
        turn is the session's to insert; their events follow it."""
        if self._stored is None:
            await self.write_events()
            return
        rows, self._events = self._events, []
        await self._stored.write(self._unit, rows)

    async def write_merchant(self) -> None:
        """Write the loaded merchant's changed columns now (one UPDATE, or none): only
        before reading the merchant back by SQL (the rest goes at the end: :meth:`write`).
        In the turn's transaction, so it is undone if the turn fails."""
        if self._stored is not None and self._stored.changes():
            await self._unit.begin_now()
            await self._stored.write(self._unit)

    async def flush(self) -> None:
        """Write what this turn changed so far (the merchant, rows added to the session),
        before reading it back by SQL (an export)."""
        await self.write_merchant()
        await self._unit.flush()

    async def erasing(self) -> None:
        """The merchant's data is about to be erased: write nothing of theirs at commit."""
        self._events.clear()
        if self._stored is None:  # new in this turn: inserted, then left to the erasure
            await self.session.flush()
            self.session.expunge(self.merchant)
        self._stored = None

    async def last_event(self, *kinds: str) -> Logged | None:
        """The merchant's latest logged event of one of these kinds: one this turn logged
        (not written yet: they go with the merchant's write), else the latest stored
        (bot.storage.turn_reads)."""
        for event in reversed(self._events):
            if event["kind"] in kinds:
                return Logged(event["kind"], event["step"])
        await self._unit.flush()  # a merchant created in this turn: their row goes first
        found = await turn_reads.last_event(self._unit, self.merchant.id, kinds)
        return None if found is None else Logged(*found)

    async def marks(self) -> dict[str, Mark]:
        """The merchant's step marks (bot.storage.turn_reads; marks this turn added through
        the ORM session are sent first)."""
        await self._unit.flush()
        return marks_of(await turn_reads.marks(self._unit, self.merchant.id))


class AnswersListener(Protocol):
    """A feature that reacts, in the same transaction, when a merchant's answers change."""

    async def answers_changed(self, turn: Turn, changed: set[str]) -> None:
        """``changed`` holds the question ids whose answers differ."""
        ...


class TypedInput(Protocol):
    """A feature that asked the merchant to type something (``merchant.awaiting``)."""

    async def typed(self, turn: Turn, text: str) -> Outcome | None:
        """Handle the typed text; ``None`` hands it on (the feature stopped waiting)."""
        ...


class Core:
    """Dependencies and helpers shared by the feature services."""

    def __init__(
        self,
        db: Database,
        content: Content,
        views: Views,
        *,
        deadline: datetime,
        clock: Callable[[], datetime] = utcnow,
        retention_days: int | None = None,
    ) -> None:
        self.db = db
        self._live = Live(content, views, deadline)
        self.clock = clock
        self.retention_days = retention_days
        # The hour new merchants' alerts arrive at (set by the wiring; None: any time).
        self.default_hour: int | None = None
        # Set by the wiring: features hearing about changed answers / owning typed input
        # while ``merchant.awaiting`` starts with ``<name>:``.
        self.listeners: list[AnswersListener] = []
        self.typed_input: dict[str, TypedInput] = {}
        # Set by the wiring: typed text once the interview is finished (done, skip, next...).
        self.after_interview: list[TypedInput] = []
        # Set by the wiring: screens of other features a command's name typed without the
        # slash opens or does once the plan is built ("alerts", "language", "stop").
        self.typed_commands: dict[str, Callable[[Turn], Awaitable[Outcome]]] = {}

    # --- the live content release -----------------------------------------------------------

    @property
    def live(self) -> Live:
        """The release this update runs on: pinned when its turn opened, else the newest."""
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] == id(self):
            return pinned[1]
        return self._live

    def swap(self, live: Live) -> None:
        """Make ``live`` the release every turn opened from now on uses (one assignment)."""
        self._live = live

    @property
    def content(self) -> Content:
        """The content tree of the live release."""
        return self.live.content

    @property
    def views(self) -> Views:
        """The screens of the live release."""
        return self.live.views

    @property
    def deadline(self) -> datetime:
        """The campaign deadline of the live release (with the operator's override)."""
        return self.live.deadline

    @asynccontextmanager
    async def turn(self, user: UserInfo, *, repeatable: bool = False) -> AsyncIterator[Turn]:
        """Open the update's unit of work: load or create the merchant.

        An update whose turn committed before (:func:`handled_already`) raises
        :class:`Repeated` here, so what it applies is not applied twice; ``repeatable``
        turns (a command that shows something: /help, /plan, /export) run again instead,
        so the merchant gets that reply at least once.
        """
        token = _PINNED.set((id(self), self.live))
        try:
            async with self._turn(user, repeatable) as turn:
                yield turn
        finally:
            _PINNED.reset(token)

    @asynccontextmanager
    async def _turn(self, user: UserInfo, repeatable: bool) -> AsyncIterator[Turn]:
        async with self.db.unit() as unit:
            now = self.clock()
            # The first statement reads the merchant; the last writes the changed columns
            # and the turn's events (Turn.write). One chat's turns stay in order across
            # processes: on PostgreSQL that write is conditional on the row being as read
            # (else Conflict, and the update is handled again), on SQLite the turn holds the
            # write lock. Core run by the driver, not the ORM (bot.storage.merchant_row):
            # the ORM was ~30 % of an update's CPU (issue 20).
            stored = await merchant_row.load(unit, user.id, lock_key=user.chat_id)
            # The update's id (from the inbox; None outside it), recorded in the merchant row
            # by the turn's one write: an update handled again changes nothing (Repeated).
            delivery = DELIVERY.get()
            update_id = delivery.update_id if delivery is not None else None
            if stored is None:
                merchant = Merchant(
                    id=user.id,
                    chat_id=user.chat_id,
                    language_code=user.language_code,
                    first_seen=now,
                    last_seen=now,
                    interview_version=self.content.interview.version,
                    preferred_hour=self.default_hour,
                    last_update_id=update_id,
                )
                unit.session.add(merchant)
            else:
                merchant = stored.merchant
                if (
                    delivery is not None
                    and delivery.again
                    and update_id is not None
                    and handled_already(merchant, update_id, delivery.received)
                ):
                    if not repeatable:
                        # Rolled back as the exception leaves the unit: nothing written.
                        seen = Turn(unit, merchant, stored=None, content=self.content, now=now)
                        raise Repeated(update_id, Outcome(send=[await self.where_am_i(seen)]))
                    # Runs again; the recorded id stays (a later update's may be it).
                elif update_id is not None:
                    merchant.last_update_id = update_id
                merchant.last_seen = now
                merchant.chat_id = user.chat_id
                if user.language_code:
                    merchant.language_code = user.language_code
                if merchant.blocked:
                    merchant.blocked = False
            turn = Turn(unit, merchant, stored=stored, content=self.content, now=now)
            if turn.created:
                await turn.log("first_contact")
            yield turn
            await turn.write()

    # --- reading the plan -------------------------------------------------------------------

    def progress_of(self, answers: dict[str, iv.Answer], marks: dict[str, Mark]) -> Progress:
        """The plan for these effective answers, with the merchant's marks on it."""
        return Progress(tuple(select_steps(self.content.steps, answers)), marks)

    async def progress(self, turn: Turn) -> Progress:
        """The merchant's plan with their marks."""
        return self.progress_of(turn.answers, await turn.marks())

    def effective_answers(self, merchant: Merchant) -> dict[str, iv.Answer]:
        """A merchant's answers on their current branch (outside a turn, e.g. alerts)."""
        state = iv.resume(
            self.content.interview,
            merchant.answers,
            merchant.path,
            merchant.current,
            merchant.mode,
            merchant.edit_before,
        )
        return iv.effective_answers(self.content.interview, state.answers)

    def typed_words(self, lang: str | None) -> TypedWords:
        """The locale's words with a meaning of their own (back, skip, negations)."""
        live = self.live
        code = live.content.locale(lang).code
        if code not in live.typed_words:
            live.typed_words[code] = live.content.typed_words(code)
        return live.typed_words[code]

    # --- screens several features show ---------------------------------------------------

    def toast(self, turn: Turn, key: str) -> str:
        """A short notice string (plain text) in the merchant's language."""
        return self.views.r.plain(turn.lang, key)

    async def plan_screen(self, turn: Turn, *, page: int | None = None) -> Screen:
        """The paged checklist (logged as the funnel's ``plan_opened``)."""
        progress = await self.progress(turn)
        await turn.log("plan_opened", page=page)
        return self.views.plan(
            turn.lang, turn.answers, progress, turn.now, self.deadline, page=page
        )

    async def next_screen(
        self, turn: Turn, *, after: str | None = None, intro: bool = False, marked: str = "done"
    ) -> Screen:
        """The next open step (or the finished screen); ``marked`` says how ``after`` was."""
        progress = await self.progress(turn)
        step = progress.next_open(after)
        if step is None:
            return self.views.finished(turn.lang, turn.answers, progress)
        await turn.log(STEP_SHOWN, step=step.id)
        return self.views.step(
            turn.lang,
            step,
            turn.answers,
            progress,
            turn.now,
            self.deadline,
            intro=intro,
            marked=marked,
        )

    async def where_am_i(self, turn: Turn) -> Screen:
        """The screen that shows where the merchant is now."""
        if turn.state.current is not None:
            return self.views.question(turn.lang, turn.state)
        return await self.plan_screen(turn)

    def stale(self, turn: Turn) -> Outcome:
        """A button from an older screen: a toast, and the question again if one is open."""
        send = [self.views.question(turn.lang, turn.state)] if turn.state.current else []
        return Outcome(toast=self.toast(turn, "notices.stale_button"), send=send)

    async def leave_change(self, turn: Turn) -> list[Screen]:
        """A command while an answer is being changed: the change is cancelled, as Cancel
        does (nothing ticked or chosen during it is kept), and a line says so; ``[]`` when
        no change is open."""
        state = turn.state
        restored = iv.cancel_edit(self.content.interview, state)
        if restored is None:
            return []
        turn.save(restored)
        changed = iv.changed_answers(self.content.interview, state.answers, restored.answers)
        if changed:  # ticks made during the change had moved the reminders: move them back
            for listener in self.listeners:
                await listener.answers_changed(turn, changed)
        return [Screen(self.views.r.text(turn.lang, "edit.cancelled"))]

    def interview_first(self, turn: Turn, *, as_toast: bool) -> Outcome | None:
        """While the interview is open, the plan cannot be shown: ask the question again."""
        state = turn.state
        if state.current is None:
            return None
        turn.save(state)
        question = self.views.question(turn.lang, state)
        if as_toast:
            return Outcome(toast=self.toast(turn, "notices.interview_first"), send=[question])
        notice = Screen(self.views.r.text(turn.lang, "notices.interview_first"))
        return Outcome(send=[notice, question])

    async def unknown_button(self, user: UserInfo) -> Outcome:
        """Stale or forged callback data: change nothing, show where the merchant is."""
        async with self.turn(user, repeatable=True) as turn:
            screen = await self.where_am_i(turn)
            return Outcome(toast=self.toast(turn, "notices.unknown_button"), send=[screen])
