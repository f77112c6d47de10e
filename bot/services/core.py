"""Use cases: load the merchant from SQL, ask the pure domain, save, return what to show.

Each public method is one short transaction, serialised per chat (advisory lock on
PostgreSQL), so two instances handling the same merchant act as one would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, insert
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.content.loader import Content, TypedWords
from bot.domain import callbacks, links
from bot.domain import interview as iv
from bot.domain.interview import State
from bot.domain.plan import Mark, Progress
from bot.domain.plan import select as select_steps
from bot.storage import erase as privacy
from bot.storage.db import Database
from bot.storage.models import Event, Merchant, Outbox, StepProgress, utcnow
from bot.views.calendar import CalendarEntry, build_calendar
from bot.views.screens import Document, Outcome, Screen, Views

_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]


def marks_of(rows: Iterable[StepProgress]) -> dict[str, Mark]:
    """Step marks (done / skipped) from their rows."""
    return {
        row.step_id: Mark(row.status, row.step_version)  # type: ignore[arg-type]
        for row in rows
        if row.status in ("done", "skipped")
    }


@dataclass(frozen=True)
class UserInfo:
    """Who sent the update (primitives only: handlers unpack the Telegram objects)."""

    id: int
    chat_id: int
    first_name: str | None = None
    language_code: str | None = None


class Feature(Protocol):
    """A feature beside the interview and plan (e.g. alerts), wired in by name.

    It owns the callback verb of its name, typed input while ``merchant.awaiting`` starts
    with ``<name>:``, and hears when a merchant's answers change.
    """

    async def press(
        self, user: UserInfo, message_id: int | None, action: callbacks.Action
    ) -> Outcome:
        """Handle one parsed button press."""
        ...

    async def text(self, session: AsyncSession, merchant: Merchant, typed: str) -> Outcome:
        """Handle typed input the feature asked for."""
        ...

    async def answers_changed(
        self, session: AsyncSession, merchant: Merchant, changed: set[str]
    ) -> None:
        """React to changed interview answers (in the same transaction)."""
        ...


class Services:
    """The bot's use cases; handlers call exactly one method per update."""

    # Features by name, e.g. {"alerts": AlertService(...)}; set by the wiring.
    extensions: dict[str, Feature]

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
        self.content = content
        self.views = views
        self.deadline = deadline
        self.clock = clock
        self.retention_days = retention_days
        self.extensions = {}
        self._typed_words: dict[str, TypedWords] = {}  # by locale shipped

    # --- loading ---------------------------------------------------------------------------

    async def merchant(self, session: AsyncSession, user: UserInfo) -> tuple[Merchant, bool]:
        """Load (or create on first contact) the merchant and note that they were seen."""
        return await self._merchant(session, user)

    async def _merchant(self, session: AsyncSession, user: UserInfo) -> tuple[Merchant, bool]:
        now = self.clock()
        merchant = await session.get(Merchant, user.id)
        created = merchant is None
        if merchant is None:
            merchant = Merchant(
                id=user.id,
                chat_id=user.chat_id,
                language_code=user.language_code,
                first_seen=now,
                last_seen=now,
                interview_version=self.content.interview.version,
            )
            session.add(merchant)
            await self._log(session, merchant, "first_contact")
        else:
            merchant.last_seen = now
            merchant.chat_id = user.chat_id
            if user.language_code:
                merchant.language_code = user.language_code
            if merchant.blocked:
                merchant.blocked = False
        return merchant, created

    def _state(self, merchant: Merchant) -> State:
        interview = self.content.interview
        answers = iv.clean_answers(interview, merchant.answers)
        current = merchant.current
        path = tuple(q for q in merchant.path if q in interview.questions)
        mode = merchant.mode if merchant.mode in ("interview", "edit", "done") else "interview"
        if current is not None and current not in interview.questions:
            return iv.begin(interview, answers)
        if mode == "done":
            walked, pending = iv.active_path(interview, answers)
            if pending is not None:  # content grew a question on this branch: ask it
                return iv.begin(interview, answers)
            return State(answers=answers, path=tuple(walked), current=None, mode="done")
        if current is None:
            return iv.begin(interview, answers)
        return State(answers=answers, path=path, current=current, mode=mode)  # type: ignore[arg-type]

    def _save_state(self, merchant: Merchant, state: State) -> None:
        merchant.answers = dict(state.answers)
        merchant.path = list(state.path)
        merchant.current = state.current
        merchant.mode = state.mode
        merchant.interview_version = self.content.interview.version

    async def _progress(self, session: AsyncSession, merchant: Merchant, state: State) -> Progress:
        rows = await session.exec(
            select(StepProgress).where(StepProgress.merchant_id == merchant.id)
        )
        return self.progress_of(self._answers(state), marks_of(rows))

    def progress_of(self, answers: dict[str, iv.Answer], marks: dict[str, Mark]) -> Progress:
        """The plan for these effective answers, with the merchant's marks on it."""
        return Progress(tuple(select_steps(self.content.steps, answers)), marks)

    def effective_answers(self, merchant: Merchant) -> dict[str, iv.Answer]:
        """The merchant's answers on their current branch of the interview."""
        return self._answers(self._state(merchant))

    def _typed(self, lang: str | None) -> TypedWords:
        code = self.content.locale(lang).code
        if code not in self._typed_words:
            self._typed_words[code] = self.content.typed_words(code)
        return self._typed_words[code]

    def _answers(self, state: State) -> dict[str, iv.Answer]:
        return iv.effective_answers(self.content.interview, state.answers)

    async def _log(
        self, session: AsyncSession, merchant: Merchant, kind: str, **data: Any
    ) -> None:
        # A Core insert: the row is write-only here, so the ORM would only add overhead
        # (an object to build, track and flush on the hottest path, every answer).
        conn = await session.connection()
        await conn.execute(
            insert(_EVENTS).values(merchant_id=merchant.id, kind=kind, at=self.clock(), data=data)
        )

    # --- entry points ----------------------------------------------------------------------

    async def start(self, user: UserInfo, payload: str | None = None) -> Outcome:
        """/start (optionally from a deep link): greet; resume the interview or show the plan."""
        interview = self.content.interview
        link = links.decode(payload, interview, set(self.content.step_index)) if payload else None
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, created = await self._merchant(session, user)
            state = self._state(merchant)
            lang = merchant.language_code
            now = self.clock()
            notes: list[Screen] = []
            if payload and link is None:
                notes.append(Screen(self.views.r.text(lang, "notices.link_invalid")))
            if link is not None and link.answers:
                # A link fills in what the merchant has not answered; it never overwrites.
                fresh = {k: v for k, v in link.answers.items() if k not in state.answers}
                if fresh:
                    state = iv.begin(interview, {**state.answers, **fresh})
                    labels = ", ".join(
                        self.views.answer_label(lang, k, v) for k, v in fresh.items()
                    )
                    notes.append(
                        Screen(self.views.r.text(lang, "notices.link_prefilled", values=labels))
                    )
                    await self._log(session, merchant, "deep_link", keys=sorted(fresh))
            if state.mode == "edit":
                state = iv.begin(interview, state.answers)
            self._save_state(merchant, state)
            progress = (
                await self._progress(session, merchant, state) if state.current is None else None
            )
            greeting = self.views.start(
                lang,
                first_name=user.first_name,
                returning=not created,
                resuming=bool(state.answers) and state.current is not None and not created,
                progress=progress,
                now=now,
                deadline=self.deadline,
            )
            if state.current is not None:
                if link is not None and link.step is not None:
                    notes.append(Screen(self.views.r.text(lang, "notices.link_step_later")))
                return Outcome(send=[greeting, *notes, self.views.question(lang, state)])
            assert progress is not None
            if link is not None and link.step is not None:
                step = next((s for s in progress.steps if s.id == link.step), None)
                if step is None:
                    notes.append(Screen(self.views.r.text(lang, "notices.no_step")))
                else:
                    answers = self._answers(state)
                    shown = self.views.step(lang, step, answers, progress, now, self.deadline)
                    return Outcome(send=[*notes, shown])
            return Outcome(send=[greeting, *notes])

    async def help(self, user: UserInfo) -> Outcome:
        """/help."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            return Outcome(send=[self.views.simple(merchant.language_code, "help.html.j2")])

    async def where_am_i(self, session: AsyncSession, merchant: Merchant) -> Screen:
        """The screen that shows where the merchant is now."""
        state = self._state(merchant)
        lang = merchant.language_code
        if state.current is not None:
            return self.views.question(lang, state)
        progress = await self._progress(session, merchant, state)
        return self.views.plan(lang, self._answers(state), progress, self.clock(), self.deadline)

    # --- buttons ---------------------------------------------------------------------------

    async def press(self, user: UserInfo, message_id: int | None, data: str | None) -> Outcome:
        """A button press: parse strictly, refuse stale or forged data without changing state."""
        action = callbacks.decode(data)
        if action is not None and action.verb in self.extensions:
            return await self.extensions[action.verb].press(user, message_id, action)
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            lang = merchant.language_code
            if action is None:
                screen = await self.where_am_i(session, merchant)
                return Outcome(
                    toast=self.views.r.plain(lang, "notices.unknown_button"), send=[screen]
                )
            if action.verb in ("choose", "confirm", "skip", "back"):
                return await self._interview_press(session, merchant, action)
            if action.verb == "edit":
                return self._edit(merchant, action.args[0])
            if action.verb == "privacy":
                return await self._confirm_delete(session, merchant, action.args[0])
            state = self._state(merchant)
            if state.current is not None:
                self._save_state(merchant, state)
                return Outcome(
                    toast=self.views.r.plain(lang, "notices.interview_first"),
                    send=[self.views.question(lang, state)],
                )
            if action.verb == "plan":
                return Outcome(send=[await self._plan_screen(session, merchant, state)])
            if action.verb == "page":
                page = int(action.args[0]) if action.args[0].isdigit() else 0
                screen = await self._plan_screen(session, merchant, state, page=page)
                return Outcome(edit=screen)
            if action.verb == "profile":
                return Outcome(send=[self.views.profile(lang, state.answers)])
            if action.verb == "next":
                return Outcome(send=[await self._next_screen(session, merchant, state)])
            if action.verb == "open":
                return await self._open(session, merchant, state, action.args[0])
            if action.verb == "mark":
                return await self._mark(session, merchant, state, *action.args)
            # A verb whose feature is not wired in this deployment.
            return Outcome(toast=self.views.r.plain(lang, "notices.unknown_button"))

    def _stale(self, merchant: Merchant, state: State) -> Outcome:
        lang = merchant.language_code
        send = [self.views.question(lang, state)] if state.current else []
        return Outcome(toast=self.views.r.plain(lang, "notices.stale_button"), send=send)

    async def _interview_press(
        self, session: AsyncSession, merchant: Merchant, action: callbacks.Action
    ) -> Outcome:
        """An interview button. It is fresh when it shows the question on screen at the
        position the merchant is at (path length); anything else is stale and changes nothing.
        Any message showing that same question may answer it: the outcome is the same.
        """
        state = self._state(merchant)
        lang = merchant.language_code
        interview = self.content.interview
        seq = action.args[0]
        fresh = state.current is not None and seq == str(len(state.path))
        if not fresh:
            if state.current is None:
                screen = await self.where_am_i(session, merchant)
                return Outcome(
                    toast=self.views.r.plain(lang, "notices.stale_button"), send=[screen]
                )
            return self._stale(merchant, state)
        new: State | None
        if action.verb == "back":
            new = iv.back(state)
        elif action.verb == "choose":
            qid, option = action.args[1], action.args[2]
            question = interview.questions.get(qid)
            if question is not None and question.kind == "many":
                new = iv.toggle(interview, state, qid, option)
            else:
                new = iv.choose(interview, state, qid, option)
        elif action.verb == "confirm":
            new = iv.confirm(interview, state, action.args[1])
            if new is None and state.current == action.args[1]:
                return Outcome(toast=self.views.r.plain(lang, "notices.pick_one_first"))
        else:
            new = iv.skip(interview, state, action.args[1])
        if new is None:
            return self._stale(merchant, state)
        return await self._moved(session, merchant, state, new, edit_in_place=True)

    async def _moved(
        self,
        session: AsyncSession,
        merchant: Merchant,
        old: State,
        new: State,
        *,
        edit_in_place: bool,
        problem: str | None = None,
    ) -> Outcome:
        """Save the new interview state and show what follows."""
        lang = merchant.language_code
        self._save_state(merchant, new)
        if new.answers != old.answers:
            merchant.last_progress = self.clock()
            await self._log(session, merchant, "answer", question=old.current)
            changed = {
                key
                for key in {*new.answers, *old.answers}
                if new.answers.get(key) != old.answers.get(key)
            }
            for feature in self.extensions.values():
                await feature.answers_changed(session, merchant, changed)
        if new.current is not None:
            screen = self.views.question(lang, new, problem=problem)
            return Outcome(edit=screen) if edit_in_place else Outcome(send=[screen])
        # Finished (or finished an edit): the answers become the profile, the plan follows.
        await self._log(session, merchant, "interview_done")
        profile = self.views.profile(lang, new.answers)
        plan = await self._plan_screen(session, merchant, new)
        if edit_in_place:
            return Outcome(edit=profile, send=[plan])
        return Outcome(send=[profile, plan])

    def _edit(self, merchant: Merchant, qid: str) -> Outcome:
        state = self._state(merchant)
        lang = merchant.language_code
        new = iv.edit(self.content.interview, state, qid) if state.mode == "done" else None
        if new is None:
            return (
                self._stale(merchant, state)
                if state.current
                else Outcome(toast=self.views.r.plain(lang, "notices.stale_button"))
            )
        self._save_state(merchant, new)
        return Outcome(edit=self.views.question(lang, new))

    # --- typed input -----------------------------------------------------------------------

    async def text(self, user: UserInfo, typed: str) -> Outcome:
        """Typed text: an answer when a question is open, else a short hint."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            feature = (merchant.awaiting or "").partition(":")[0]
            if feature in self.extensions:  # e.g. "alerts:tz": a typed time zone
                return await self.extensions[feature].text(session, merchant, typed)
            state = self._state(merchant)
            lang = merchant.language_code
            if state.current is None:
                return Outcome(send=[self.views.hint(lang, None)])
            interview = self.content.interview
            question = interview.question(state.current)
            words = self._typed(lang)
            new: State | None = None
            said = iv.normalise(typed[:100])
            if said in words.back:  # "back" typed instead of pressed
                new = iv.back(state)
            elif said in words.skip and question.optional:
                new = iv.skip(interview, state, question.id)
            elif question.kind in ("text", "date"):
                today = self.clock().date()
                result = (
                    iv.validate_text(question, typed)
                    if question.kind == "text"
                    else iv.validate_date(question, typed, today)
                )
                if isinstance(result, iv.TextProblem):
                    problem = self.views.problem(lang, result.key, result.values)
                    return Outcome(send=[self.views.question(lang, state, problem=problem)])
                new = iv.answer_text(interview, state, question.id, result)
            else:
                picked = iv.match_options(
                    question,
                    typed[:500],
                    self.content.option_labels(lang, question.id),
                    words.negations,
                )
                if not picked:
                    return Outcome(send=[self.views.hint(lang, state)])
                if question.kind == "one":
                    new = iv.choose(interview, state, question.id, picked[0])
                else:
                    ticked = iv.State(
                        answers={**state.answers, question.id: picked},
                        path=state.path,
                        current=state.current,
                        mode=state.mode,
                    )
                    new = iv.confirm(interview, ticked, question.id)
            if new is None:
                return Outcome(send=[self.views.hint(lang, state)])
            return await self._moved(session, merchant, state, new, edit_in_place=False)

    async def media(self, user: UserInfo) -> Outcome:
        """A sticker, photo or other non-text message: explain, change nothing."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            return Outcome(
                send=[self.views.hint(merchant.language_code, self._state(merchant), media=True)]
            )

    # --- operators -------------------------------------------------------------------------

    async def stats(self, user: UserInfo, admin_ids: tuple[int, ...]) -> Outcome:
        """/stats for ADMIN_IDS: the funnel at a glance. Others get the ordinary hint."""
        if user.id not in admin_ids:
            return await self.text(user, "/stats")
        week_ago = self.clock() - timedelta(days=7)
        async with self.db.session() as session:

            async def count(*where: Any, table: Any = Merchant) -> int:
                query = select(func.count()).select_from(table)
                for condition in where:
                    query = query.where(condition)
                return int((await session.exec(query)).one())

            figures = {
                "merchants": await count(),
                "active_week": await count(col(Merchant.last_seen) >= week_ago),
                "interview_done": await count(col(Merchant.mode) == "done"),
                "alerts_on": await count(col(Merchant.alerts_on).is_(True)),
                "blocked": await count(col(Merchant.blocked).is_(True)),
                "steps_done": await count(col(StepProgress.status) == "done", table=StepProgress),
                "alerts_pending": await count(col(Outbox.status) == "pending", table=Outbox),
                "alerts_sent": await count(col(Outbox.status) == "sent", table=Outbox),
                "alerts_failed": await count(col(Outbox.status) == "failed", table=Outbox),
            }
        return Outcome(
            send=[self.views.simple(user.language_code, "stats.html.j2", figures=figures)]
        )

    # --- privacy and calendar ------------------------------------------------------------

    async def privacy(self, user: UserInfo) -> Outcome:
        """/privacy: what is stored, why, and for how long."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            screen = self.views.simple(
                merchant.language_code, "privacy.html.j2", retention_days=self.retention_days
            )
            return Outcome(send=[screen])

    async def export(self, user: UserInfo) -> Outcome:
        """/export: a JSON file of everything stored about the merchant."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            await session.flush()
            data = await privacy.export_rows(session, merchant.id)
            lang = merchant.language_code
        document = Document(
            filename="my-data.json",
            data=privacy.export_json(data, self.clock()),
            caption=self.views.r.plain(lang, "privacy.export_caption"),
        )
        return Outcome(documents=[document])

    async def ask_delete(self, user: UserInfo) -> Outcome:
        """/delete: ask for confirmation first."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            return Outcome(send=[self.views.delete_question(merchant.language_code)])

    async def _confirm_delete(
        self, session: AsyncSession, merchant: Merchant, choice: str
    ) -> Outcome:
        lang = merchant.language_code
        if choice != "yes":
            return Outcome(edit=self.views.simple(lang, "delete_cancelled.html.j2"))
        await session.flush()
        session.expunge(merchant)  # erased below; the ORM must not write it back
        counts = await privacy.erase(session, merchant.id)
        return Outcome(edit=self.views.simple(lang, "deleted.html.j2", counts=counts))

    async def calendar(self, user: UserInfo) -> Outcome:
        """/calendar: an .ics file with the shutdown, the go-live date and scheduled alerts."""
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            state = self._state(merchant)
            answers = self._answers(state)
            rows = await session.exec(
                select(Outbox).where(Outbox.merchant_id == merchant.id, Outbox.status == "pending")
            )
            pending = sorted(rows, key=lambda r: r.due_at)
            lang = merchant.language_code
        go_live = answers.get("go_live")
        entries = [
            CalendarEntry(
                uid=f"deadline-{merchant.id}@storefront-migration-bot",
                summary=self.views.r.plain(lang, "calendar.deadline"),
                when=self.deadline.date(),
                description=self.views.r.plain(lang, "calendar.deadline_description"),
            )
        ]
        if isinstance(go_live, str):
            entries.append(
                CalendarEntry(
                    uid=f"golive-{merchant.id}@storefront-migration-bot",
                    summary=self.views.r.plain(lang, "calendar.go_live"),
                    when=date.fromisoformat(go_live),
                    remind_before=timedelta(days=7),
                )
            )
        entries.extend(
            CalendarEntry(
                uid=f"alert-{row.key.replace(':', '-')}-{merchant.id}@storefront-migration-bot",
                summary=self.views.r.plain(lang, "calendar.alert"),
                when=row.due_at,
            )
            for row in pending
        )
        data = build_calendar(
            entries, name=self.views.r.plain(lang, "calendar.name"), stamp=self.clock()
        )
        document = Document(
            filename="storefront-to-tiktok-shop.ics",
            data=data,
            caption=self.views.r.plain(lang, "calendar.caption"),
        )
        return Outcome(documents=[document])

    # --- plan and steps --------------------------------------------------------------------

    async def _plan_screen(
        self, session: AsyncSession, merchant: Merchant, state: State, *, page: int | None = None
    ) -> Screen:
        progress = await self._progress(session, merchant, state)
        return self.views.plan(
            merchant.language_code,
            self._answers(state),
            progress,
            self.clock(),
            self.deadline,
            page=page,
        )

    async def _next_screen(
        self,
        session: AsyncSession,
        merchant: Merchant,
        state: State,
        *,
        after: str | None = None,
        intro: bool = False,
    ) -> Screen:
        progress = await self._progress(session, merchant, state)
        answers = self._answers(state)
        lang = merchant.language_code
        step = progress.next_open(after)
        if step is None:
            return self.views.finished(lang, answers, progress)
        return self.views.step(
            lang, step, answers, progress, self.clock(), self.deadline, intro=intro
        )

    async def plan(self, user: UserInfo) -> Outcome:
        """/plan."""
        return await self._after_interview(user, "plan")

    async def next(self, user: UserInfo) -> Outcome:
        """/next."""
        return await self._after_interview(user, "next")

    async def profile(self, user: UserInfo) -> Outcome:
        """/profile."""
        return await self._after_interview(user, "profile")

    async def _after_interview(self, user: UserInfo, what: str) -> Outcome:
        async with self.db.session(lock_chat=user.chat_id) as session:
            merchant, _ = await self._merchant(session, user)
            state = self._state(merchant)
            lang = merchant.language_code
            if state.current is not None:
                self._save_state(merchant, state)
                notice = self.views.r.text(lang, "notices.interview_first")
                return Outcome(send=[Screen(notice), self.views.question(lang, state)])
            if what == "plan":
                return Outcome(send=[await self._plan_screen(session, merchant, state)])
            if what == "next":
                return Outcome(send=[await self._next_screen(session, merchant, state)])
            return Outcome(send=[self.views.profile(lang, state.answers)])

    async def _open(
        self, session: AsyncSession, merchant: Merchant, state: State, step_id: str
    ) -> Outcome:
        progress = await self._progress(session, merchant, state)
        lang = merchant.language_code
        step = next((s for s in progress.steps if s.id == step_id), None)
        if step is None:
            return Outcome(
                toast=self.views.r.plain(lang, "notices.no_step"),
                send=[await self._plan_screen(session, merchant, state)],
            )
        screen = self.views.step(
            lang, step, self._answers(state), progress, self.clock(), self.deadline
        )
        return Outcome(send=[screen])

    async def _mark(
        self, session: AsyncSession, merchant: Merchant, state: State, step_id: str, how: str
    ) -> Outcome:
        lang = merchant.language_code
        progress = await self._progress(session, merchant, state)
        step = next((s for s in progress.steps if s.id == step_id), None)
        if step is None or how not in ("done", "skip", "undo", "details"):
            key = "notices.no_step" if step is None else "notices.unknown_button"
            return Outcome(toast=self.views.r.plain(lang, key))
        answers = self._answers(state)
        if how == "details":
            return Outcome(send=[self.views.details(lang, step, answers)])
        now = self.clock()
        if how == "undo":
            await session.exec(
                delete(StepProgress).where(
                    col(StepProgress.merchant_id) == merchant.id,
                    col(StepProgress.step_id) == step_id,
                )
            )
            await self._log(session, merchant, "step_undo", step=step_id)
            progress = await self._progress(session, merchant, state)
            screen = self.views.step(lang, step, answers, progress, now, self.deadline)
            return Outcome(toast=self.views.r.plain(lang, "notices.step_reopened"), edit=screen)
        status = "done" if how == "done" else "skipped"
        row = await session.get(StepProgress, (merchant.id, step_id))
        if row is None:
            session.add(
                StepProgress(
                    merchant_id=merchant.id,
                    step_id=step_id,
                    status=status,
                    step_version=step.version,
                    at=now,
                )
            )
        else:
            row.status, row.step_version, row.at = status, step.version, now
        merchant.last_progress = now
        await self._log(session, merchant, f"step_{status}", step=step_id)
        await session.flush()
        progress = await self._progress(session, merchant, state)
        edited = self.views.step(lang, step, answers, progress, now, self.deadline)
        follow = await self._next_screen(session, merchant, state, after=step_id, intro=True)
        toast_key = "notices.step_done" if status == "done" else "notices.step_skipped"
        return Outcome(toast=self.views.r.plain(lang, toast_key), edit=edited, send=[follow])
