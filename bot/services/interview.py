"""The conversation: /start, /help, typed text, media, and the interview's buttons."""

from __future__ import annotations

from bot.domain import interview as iv
from bot.domain import links
from bot.domain.callbacks import Back, Choose, Confirm, EditAnswer, SkipQuestion
from bot.domain.interview import State
from bot.services.core import Core, Turn, UserInfo
from bot.views.model import Outcome, Screen

InterviewButton = Choose | Confirm | SkipQuestion | Back


class InterviewService:
    """Greeting, questions and answers; the finished interview hands over to the plan."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.views = core.views
        self.interview = core.content.interview

    async def start(self, user: UserInfo, payload: str | None = None) -> Outcome:
        """/start (optionally from a deep link): greet; resume the interview or show the plan."""
        core, views = self.core, self.views
        link = (
            links.decode(payload, self.interview, set(core.content.step_index))
            if payload
            else None
        )
        async with core.turn(user) as turn:
            lang = turn.lang
            state = turn.state
            notes: list[Screen] = []
            if payload and link is None:
                notes.append(Screen(views.r.text(lang, "notices.link_invalid")))
            if link is not None and link.answers:
                # A link fills in what the merchant has not answered; it never overwrites.
                fresh = {k: v for k, v in link.answers.items() if k not in state.answers}
                if fresh:
                    state = iv.begin(self.interview, {**state.answers, **fresh})
                    labels = ", ".join(views.answer_label(lang, k, v) for k, v in fresh.items())
                    notes.append(
                        Screen(views.r.text(lang, "notices.link_prefilled", values=labels))
                    )
                    await turn.log("deep_link", keys=sorted(fresh))
            if state.mode == "edit":
                state = iv.begin(self.interview, state.answers)
            turn.save(state)
            progress = await core.progress(turn) if state.current is None else None
            greeting = views.start(
                lang,
                first_name=user.first_name,
                returning=not turn.created,
                resuming=bool(state.answers) and state.current is not None and not turn.created,
                progress=progress,
                now=turn.now,
                deadline=core.deadline,
            )
            if state.current is not None:
                if link is not None and link.step is not None:
                    notes.append(Screen(views.r.text(lang, "notices.link_step_later")))
                await turn.log("question_shown", question=state.current)
                return Outcome(send=[greeting, *notes, views.question(lang, state)])
            assert progress is not None
            if link is not None and link.step is not None:
                step = next((s for s in progress.steps if s.id == link.step), None)
                if step is None:
                    notes.append(Screen(views.r.text(lang, "notices.no_step")))
                else:
                    shown = views.step(lang, step, turn.answers, progress, turn.now, core.deadline)
                    return Outcome(send=[*notes, shown])
            return Outcome(send=[greeting, *notes])

    async def help(self, user: UserInfo) -> Outcome:
        """/help."""
        async with self.core.turn(user) as turn:
            return Outcome(send=[self.views.simple(turn.lang, "help.html.j2")])

    async def media(self, user: UserInfo) -> Outcome:
        """A sticker, photo or other non-text message: explain, change nothing."""
        async with self.core.turn(user) as turn:
            return Outcome(send=[self.views.hint(turn.lang, turn.state, media=True)])

    async def text(self, user: UserInfo, typed: str) -> Outcome:
        """Typed text: what a feature asked for, an answer to the open question, or a hint."""
        core, views = self.core, self.views
        async with core.turn(user) as turn:
            feature = (turn.merchant.awaiting or "").partition(":")[0]
            if feature in core.typed_input:  # e.g. "alerts:tz": a typed time zone
                return await core.typed_input[feature].typed(turn, typed)
            state, lang = turn.state, turn.lang
            if state.current is None:
                return Outcome(send=[views.hint(lang, None)])
            reading = iv.read_typed(
                self.interview,
                state,
                typed,
                words=core.typed_words(lang),
                labels=core.content.option_labels(lang, state.current),
                today=turn.now.date(),
            )
            match reading:
                case iv.Moved(state=new):
                    return await self._moved(turn, new, edit_in_place=False)
                case iv.Refused(problem=problem):
                    shown = views.problem(lang, problem.key, problem.values)
                    return Outcome(send=[views.question(lang, state, problem=shown)])
                case iv.NotUnderstood():
                    return Outcome(send=[views.hint(lang, state)])

    async def press(self, user: UserInfo, button: InterviewButton) -> Outcome:
        """An interview button. It is fresh when it shows the question on screen at the
        position the merchant is at (path length); anything else is stale and changes nothing.
        Any message showing that same question may answer it: the outcome is the same.
        """
        core, interview = self.core, self.interview
        async with core.turn(user) as turn:
            state = turn.state
            if state.current is None or button.seq != len(state.path):
                if state.current is None:
                    screen = await core.where_am_i(turn)
                    return Outcome(toast=core.toast(turn, "notices.stale_button"), send=[screen])
                return core.stale(turn)
            new: State | None
            match button:
                case Back():
                    new = iv.back(state)
                case Choose(question=qid, option=option):
                    question = interview.questions.get(qid)
                    if question is not None and question.kind == "many":
                        new = iv.toggle(interview, state, qid, option)
                    else:
                        new = iv.choose(interview, state, qid, option)
                case Confirm(question=qid):
                    new = iv.confirm(interview, state, qid)
                    if new is None and state.current == qid:
                        return Outcome(toast=core.toast(turn, "notices.pick_one_first"))
                case SkipQuestion(question=qid):
                    new = iv.skip(interview, state, qid)
            if new is None:
                return core.stale(turn)
            return await self._moved(turn, new, edit_in_place=True)

    async def edit(self, user: UserInfo, button: EditAnswer) -> Outcome:
        """Change one answer (a Change button on the profile)."""
        core = self.core
        async with core.turn(user) as turn:
            state = turn.state
            new = iv.edit(self.interview, state, button.question) if state.mode == "done" else None
            if new is None:
                if state.current:
                    return core.stale(turn)
                return Outcome(toast=core.toast(turn, "notices.stale_button"))
            turn.save(new)
            return Outcome(edit=self.views.question(turn.lang, new))

    async def _moved(self, turn: Turn, new: State, *, edit_in_place: bool) -> Outcome:
        """Save the new interview state and show what follows."""
        old = turn.state
        lang = turn.lang
        turn.save(new)
        if new.answers != old.answers:
            turn.merchant.last_progress = turn.now
            await turn.log("answer", question=old.current)
            changed = {
                key
                for key in {*new.answers, *old.answers}
                if new.answers.get(key) != old.answers.get(key)
            }
            for listener in self.core.listeners:
                await listener.answers_changed(turn, changed)
        if new.current is not None:
            screen = self.views.question(lang, new)
            await turn.log("question_shown", question=new.current)
            return Outcome(edit=screen) if edit_in_place else Outcome(send=[screen])
        # Finished (or finished an edit): the answers become the profile, the plan follows.
        await turn.log("interview_done")
        profile = self.views.profile(lang, new.answers)
        plan = await self.core.plan_screen(turn)
        if edit_in_place:
            return Outcome(edit=profile, send=[plan])
        return Outcome(send=[profile, plan])
