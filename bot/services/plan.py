"""The plan: /plan, /next, /profile and the step buttons (open, done, skip, undo, details)."""

from __future__ import annotations

from sqlmodel import col, delete

from bot.domain.callbacks import MarkStep, NextStep, OpenStep, PlanPage, ShowPlan, ShowProfile
from bot.services.core import STEP_SHOWN, Core, Turn, UserInfo
from bot.storage.models import StepProgress, StepStatus
from bot.views.model import Outcome, Screen, as_typed_reply
from bot.views.screens import Views

PlanButton = ShowPlan | PlanPage | ShowProfile | OpenStep | MarkStep | NextStep


class PlanService:
    """The merchant's checklist and their progress through it."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def views(self) -> Views:
        """The live release's screens."""
        return self.core.views

    async def plan(self, user: UserInfo) -> Outcome:
        """/plan."""
        async with self.core.turn(user, repeatable=True) as turn:
            left = await self.core.leave_change(turn)
            if (asked := self.core.interview_first(turn, as_toast=False)) is not None:
                return asked
            return Outcome(send=[*left, await self.core.plan_screen(turn)])

    async def next(self, user: UserInfo) -> Outcome:
        """/next."""
        async with self.core.turn(user, repeatable=True) as turn:
            left = await self.core.leave_change(turn)
            if (asked := self.core.interview_first(turn, as_toast=False)) is not None:
                return asked
            return Outcome(send=[*left, await self.core.next_screen(turn)])

    async def profile(self, user: UserInfo) -> Outcome:
        """/profile."""
        async with self.core.turn(user, repeatable=True) as turn:
            left = await self.core.leave_change(turn)
            if (asked := self.core.interview_first(turn, as_toast=False)) is not None:
                return asked
            return Outcome(send=[*left, self.views.profile(turn.lang, turn.state.answers)])

    async def press(self, user: UserInfo, button: PlanButton) -> Outcome:
        """A plan or step button."""
        core = self.core
        async with core.turn(user) as turn:
            if (asked := core.interview_first(turn, as_toast=True)) is not None:
                return asked
            match button:
                case ShowPlan():
                    return Outcome(send=[await core.plan_screen(turn)])
                case PlanPage(page=page):
                    return Outcome(edit=await core.plan_screen(turn, page=page))
                case ShowProfile():
                    return Outcome(send=[self.views.profile(turn.lang, turn.state.answers)])
                case NextStep():
                    return Outcome(send=[await core.next_screen(turn)])
                case OpenStep(step=step_id):
                    return await self._open(turn, step_id)
                case MarkStep(step=step_id, how=how):
                    return await self._mark(turn, step_id, how)

    async def typed(self, turn: Turn, text: str) -> Outcome | None:
        """Typed once the plan is built: ``done`` / ``skip`` / ``understood`` / ``details``
        on the step last shown, ``undo`` on the step marked last, ``next``, ``back`` (to
        the plan), a command's name without the slash ("plan", "my answers", "help");
        ``None`` for anything else."""
        words = self.core.typed_words(turn.lang)
        said = words.said(text)
        if said in words.next:
            return Outcome(send=[await self.core.next_screen(turn)])
        if said in words.back:
            return Outcome(send=[await self.core.plan_screen(turn)])
        if said in words.undo:
            return await self._typed_undo(turn)
        if said in words.details or said in words.understood:
            shown = await turn.last_event(STEP_SHOWN)
            progress = await self.core.progress(turn)
            step = next((s for s in progress.steps if shown and s.id == shown.step), None)
            if step is None:
                return None
            if said in words.details:
                return await self._mark(turn, step.id, "details")
            if progress.status(step.id) != "open":
                return None
            if step.counted:  # "ok" on a step that is work does not mark it done: say how
                notice = self.views.r.text(turn.lang, "typed_notices.understood_work")
                return Outcome(send=[Screen(notice)])
            return Outcome(send=(await self._mark(turn, step.id, "done")).send)
        if said in words.done or said in words.skip:
            return await self._typed_mark(turn, "done" if said in words.done else "skip")
        return await self._typed_command(turn, words.command(said))

    async def _typed_mark(self, turn: Turn, how: str) -> Outcome | None:
        """``done`` / ``skip`` typed: the step last shown, else the next open one."""
        shown = await turn.last_event(STEP_SHOWN)
        step_id = (shown.step or "") if shown is not None else ""
        progress = await self.core.progress(turn)
        in_plan = any(step.id == step_id for step in progress.steps)
        status = progress.status(step_id) if in_plan else None
        if status not in ("open", "skipped" if how == "done" else "open"):
            step = progress.next_open()
            if step is None:
                return None
            step_id = step.id
        outcome = await self._mark(turn, step_id, how)
        # The next step opens with a word on the one just marked; nothing to edit in place.
        return Outcome(send=outcome.send)

    async def _typed_undo(self, turn: Turn) -> Outcome | None:
        """``undo`` typed: the step marked last opens again (if it is still marked)."""
        marked = await turn.last_event("step_done", "step_skipped", "step_undo")
        if marked is None or marked.kind == "step_undo" or not marked.step:
            return None
        progress = await self.core.progress(turn)
        in_plan = any(step.id == marked.step for step in progress.steps)
        if not in_plan or progress.status(marked.step) == "open":
            return None
        reopened = as_typed_reply(await self._mark(turn, marked.step, "undo"))
        await turn.log(STEP_SHOWN, step=marked.step)  # on screen again: typed words are for it
        return reopened

    async def _typed_command(self, turn: Turn, command: str | None) -> Outcome | None:
        """A command typed without its slash: what the command shows."""
        if command == "plan":
            return Outcome(send=[await self.core.plan_screen(turn)])
        if command == "profile":
            return Outcome(send=[self.views.profile(turn.lang, turn.state.answers)])
        if command == "help":
            return Outcome(send=[self.views.simple(turn.lang, "help.html.j2")])
        if command is not None and command in self.core.typed_commands:
            return await self.core.typed_commands[command](turn)
        return None

    async def _open(self, turn: Turn, step_id: str) -> Outcome:
        core = self.core
        progress = await core.progress(turn)
        step = next((s for s in progress.steps if s.id == step_id), None)
        if step is None:
            return Outcome(
                toast=core.toast(turn, "notices.no_step"), send=[await core.plan_screen(turn)]
            )
        screen = self.views.step(turn.lang, step, turn.answers, progress, turn.now, core.deadline)
        await turn.log(STEP_SHOWN, step=step_id)
        return Outcome(send=[screen])

    async def _mark(self, turn: Turn, step_id: str, how: str) -> Outcome:
        core, views = self.core, self.views
        lang, now, answers = turn.lang, turn.now, turn.answers
        merchant_id = turn.merchant.id
        progress = await core.progress(turn)
        step = next((s for s in progress.steps if s.id == step_id), None)
        if step is None:
            return Outcome(toast=core.toast(turn, "notices.no_step"))
        if how == "details":
            return Outcome(
                send=[
                    views.details(
                        lang,
                        step,
                        answers,
                        progress,
                        now=now,
                        deadline=core.deadline,
                        today=now.date(),
                    )
                ]
            )
        if how == "undo":
            await turn.session.exec(
                delete(StepProgress).where(
                    col(StepProgress.merchant_id) == merchant_id,
                    col(StepProgress.step_id) == step_id,
                )
            )
            await turn.log("step_undo", step=step_id)
            progress = await core.progress(turn)
            screen = views.step(lang, step, answers, progress, now, core.deadline)
            return Outcome(toast=core.toast(turn, "notices.step_reopened"), edit=screen)
        status = StepStatus.DONE if how == "done" else StepStatus.SKIPPED
        row = await turn.session.get(StepProgress, (merchant_id, step_id))
        if row is not None and row.status == status and row.step_version == step.version:
            # A repeated tap (or a re-delivered press): the step is marked already.
            key = "step_already_done" if status == StepStatus.DONE else "step_already_skipped"
            return Outcome(toast=core.toast(turn, f"notices.{key}"))
        if row is None:
            turn.session.add(
                StepProgress(
                    merchant_id=merchant_id,
                    step_id=step_id,
                    status=status,
                    step_version=step.version,
                    at=now,
                )
            )
        else:
            row.status, row.step_version, row.at = status, step.version, now
        turn.merchant.last_progress = now
        await turn.log(f"step_{status}", step=step_id)
        await turn.session.flush()
        progress = await core.progress(turn)
        edited = views.step(lang, step, answers, progress, now, core.deadline)
        # A blocker or background step is acknowledged ("Understood"), not work done.
        read = status == StepStatus.DONE and not step.counted
        marked = "noted" if read else status.value
        follow = await core.next_screen(turn, after=step_id, intro=True, marked=marked)
        toast_key = "notices.step_done" if status == StepStatus.DONE else "notices.step_skipped"
        toast_key = "acknowledged.toast" if read else toast_key
        return Outcome(toast=core.toast(turn, toast_key), edit=edited, send=[follow])
