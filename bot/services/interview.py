"""The conversation: /start, /help, typed text, media, and the interview's buttons."""

from __future__ import annotations

from bot.domain import interview as iv
from bot.domain import links
from bot.domain.callbacks import Back, CancelEdit, Choose, Confirm, EditAnswer, SkipQuestion
from bot.domain.interview import Interview, State
from bot.services.core import Core, Turn, UserInfo
from bot.storage.models import Mode
from bot.views.model import Outcome, Screen, as_typed_reply
from bot.views.screens import Views

InterviewButton = Choose | Confirm | SkipQuestion | Back
# Activity-log kinds: a step deep link followed before the answers were in, and its opening.
STEP_LINK = "step_link"
STEP_LINK_OPENED = "step_link_opened"


class InterviewService:
    """Greeting, questions and answers; the finished interview hands over to the plan."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def views(self) -> Views:
        """The live release's screens."""
        return self.core.views

    @property
    def interview(self) -> Interview:
        """The live release's interview."""
        return self.core.content.interview

    async def start(self, user: UserInfo, payload: str | None = None) -> Outcome:
        """/start (optionally from a deep link): greet; resume the interview or show the plan."""
        async with self.core.turn(user, repeatable=True) as turn:
            return await self._start(turn, user, payload)

    async def _start(self, turn: Turn, user: UserInfo, payload: str | None) -> Outcome:
        core, views = self.core, self.views
        link = (
            links.decode(payload, self.interview, set(core.content.step_index))
            if payload
            else None
        )
        lang = turn.lang
        notes: list[Screen] = await core.leave_change(turn)  # /start while changing an answer
        state = turn.state
        if payload and link is None:
            notes.append(Screen(views.r.text(lang, "notices.link_invalid")))
        if link is not None and link.answers:
            # A link fills in what the merchant has not answered; it never overwrites.
            fresh = {k: v for k, v in link.answers.items() if k not in state.answers}
            if fresh:
                state = iv.begin(self.interview, {**state.answers, **fresh})
                labels = ", ".join(views.answer_label(lang, k, v) for k, v in fresh.items())
                notes.append(Screen(views.r.text(lang, "notices.link_prefilled", values=labels)))
                await turn.log("deep_link", keys=sorted(fresh))
        turn.save(state)
        progress = await core.progress(turn) if state.current is None else None
        greeting = views.start(
            lang,
            first_name=user.first_name,
            # Nothing answered yet (a command before /start, or after /delete): the welcome
            # of a first visit, not "Welcome back".
            returning=not turn.created and (bool(state.answers) or state.current is None),
            resuming=bool(state.answers) and state.current is not None and not turn.created,
            progress=progress,
            now=turn.now,
            deadline=core.deadline,
        )
        if state.current is not None:
            if link is not None and link.step is not None:
                # Remembered in the activity log; opened when the answers are in.
                await turn.log(STEP_LINK, step=link.step)
                notes.append(Screen(views.r.text(lang, "notices.link_step_later")))
            await turn.log("question_shown", question=state.current)
            return Outcome(send=[greeting, *notes, views.question(lang, state)])
        assert progress is not None
        if link is not None and link.step is not None:
            shown = await self._linked_step(turn, link.step)
            return Outcome(send=[*notes, shown])
        return Outcome(send=[greeting, *notes])

    async def _linked_step(self, turn: Turn, step_id: str) -> Screen:
        """The step a deep link pointed to, or a note that it is not in the plan."""
        core = self.core
        progress = await core.progress(turn)
        step = next((s for s in progress.steps if s.id == step_id), None)
        if step is None:
            return Screen(self.views.r.text(turn.lang, "notices.no_step"))
        return self.views.step(turn.lang, step, turn.answers, progress, turn.now, core.deadline)

    async def help(self, user: UserInfo) -> Outcome:
        """/help."""
        async with self.core.turn(user, repeatable=True) as turn:
            return Outcome(send=[self.views.simple(turn.lang, "help.html.j2")])

    async def media(self, user: UserInfo) -> Outcome:
        """A sticker, photo or other non-text message: explain, change nothing."""
        async with self.core.turn(user, repeatable=True) as turn:
            return Outcome(send=[self.views.hint(turn.lang, turn.state, media=True)])

    async def edited(self, user: UserInfo) -> Outcome:
        """A message the merchant edited: say the edit changed nothing, and what to do."""
        async with self.core.turn(user, repeatable=True) as turn:
            return Outcome(send=[self.views.hint(turn.lang, turn.state, edited=True)])

    async def text(self, user: UserInfo, typed: str) -> Outcome:
        """Typed text: what a feature asked for, an answer to the open question, or a hint."""
        core, views = self.core, self.views
        async with core.turn(user) as turn:
            feature = (turn.merchant.awaiting or "").partition(":")[0]
            if feature in core.typed_input:  # e.g. "alerts:tz": a typed time zone
                handled = await core.typed_input[feature].typed(turn, typed)
                if handled is not None:
                    return handled
            state, lang = turn.state, turn.lang
            if turn.merchant.current is None and turn.merchant.mode != Mode.DONE:
                # No question was ever shown (a first message, or the first after /delete):
                # a greeting and the first question, not a hint about buttons not on screen.
                return await self._start(turn, user, None)
            if state.current is None:
                for after in core.after_interview:
                    handled = await after.typed(turn, typed)
                    if handled is not None:
                        return handled
                return Outcome(send=[views.hint(lang, None)])
            reading = self._read(turn, state, typed)
            match reading:
                case iv.Moved(state=new, note=note):
                    problem = views.problem(lang, note.key, note.values) if note else None
                    return await self._moved(turn, new, edit_in_place=False, problem=problem)
                case iv.Refused(problem=problem):
                    shown = views.problem(lang, problem.key, problem.values)
                    return Outcome(send=[views.question(lang, state, problem=shown)])
                case iv.NotUnderstood():
                    return Outcome(send=[views.hint(lang, state)])
                case iv.CancelChange():
                    return as_typed_reply(await self._cancel_edit(turn))

    def _read(self, turn: Turn, state: State, typed: str) -> iv.Reading:
        """The typed answer read in the merchant's language (English understood too); when
        that leaves some of it unread, in each other shipped language, and the reading that
        understood most wins: "Mexiko" or "31. März 2027" on an English screen."""
        core, qid = self.core, state.current
        assert qid is not None
        mine = core.content.locale(turn.lang).code
        places = self.interview.question(qid).places
        best: iv.Reading | None = None
        for code in (mine, *(c for c in core.content.shipped if c != mine)):
            reading = iv.read_typed(
                self.interview,
                state,
                typed,
                words=core.typed_words(code),
                labels=core.content.option_labels(code, qid),
                today=turn.now.date(),
                languages=tuple(dict.fromkeys((code, "en"))),
                place_labels=core.content.option_labels(code, places[0]) if places else None,
            )
            if best is None or iv.reading_rank(reading) > iv.reading_rank(best):
                best = reading
            if (
                iv.reading_rank(best) == iv.UNDERSTOOD_ALL
                or self.interview.question(qid).kind == "text"
            ):
                break
        assert best is not None
        return best

    async def press(self, user: UserInfo, button: InterviewButton) -> Outcome:
        """An interview button. It is fresh when it shows the question on screen at the
        position the merchant is at (path length); anything else is stale and changes nothing.
        Any message showing that same question may answer it: the outcome is the same.
        """
        core, interview = self.core, self.interview
        async with core.turn(user) as turn:
            state = turn.state
            if state.current is None or button.seq != len(state.path):
                if self._already_done(state, button):  # a repeated tap: nothing new
                    return Outcome(toast=core.toast(turn, "notices.already_answered"))
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

    def _already_done(self, state: State, button: InterviewButton) -> bool:
        """Whether an out-of-date button asks for what the merchant's answers already say."""
        match button:
            case Choose(question=qid, option=option):
                question = self.interview.questions.get(qid)
                return (
                    question is not None
                    and question.kind == "one"
                    and state.answers.get(qid) == option
                )
            case Confirm(question=qid):
                return qid in state.answers and qid != state.current
        return False

    async def edit(self, user: UserInfo, button: EditAnswer | CancelEdit) -> Outcome:
        """Change one answer (a Change button on the profile), or cancel the change."""
        core = self.core
        async with core.turn(user) as turn:
            state = turn.state
            if isinstance(button, CancelEdit):
                return await self._cancel_edit(turn)
            new = iv.edit(self.interview, state, button.question) if state.mode == "done" else None
            if new is None:
                if state.current:
                    return core.stale(turn)
                return Outcome(toast=core.toast(turn, "notices.stale_button"))
            turn.save(new)
            return Outcome(edit=self.views.question(turn.lang, new))

    async def _cancel_edit(self, turn: Turn) -> Outcome:
        """Cancel on a change screen: the answers as they were, back on the profile."""
        restored = iv.cancel_edit(self.interview, turn.state)
        if restored is None:
            return Outcome(toast=self.core.toast(turn, "notices.stale_button"))
        toast = self.core.toast(turn, "edit.cancelled")
        if restored.answers != turn.state.answers:  # ticks already changed: undo them
            outcome = await self._moved(turn, restored, edit_in_place=True)
            return Outcome(edit=outcome.edit, send=outcome.send, toast=toast)
        turn.save(restored)
        return Outcome(edit=self.views.profile(turn.lang, restored.answers), toast=toast)

    async def _moved(
        self, turn: Turn, new: State, *, edit_in_place: bool, problem: str | None = None
    ) -> Outcome:
        """Save the new interview state and show what follows."""
        old = turn.state
        lang = turn.lang
        turn.save(new)
        if new.answers != old.answers:
            turn.merchant.last_progress = turn.now
            await turn.log("answer", question=old.current)
            changed = iv.changed_answers(self.core.content.interview, old.answers, new.answers)
            for listener in self.core.listeners:
                await listener.answers_changed(turn, changed)
        if new.current is not None:
            screen = self.views.question(lang, new, problem=problem)
            await turn.log("question_shown", question=new.current)
            return Outcome(edit=screen) if edit_in_place else Outcome(send=[screen])
        # Finished (or finished an edit): the answers become the profile, the plan follows,
        # and the step a deep link pointed to while the questions were open.
        await turn.log("interview_done")
        profile = self.views.profile(lang, new.answers)
        follow = [await self.core.plan_screen(turn)]
        linked = await turn.last_event(STEP_LINK, STEP_LINK_OPENED)
        if linked is not None and linked.kind == STEP_LINK:
            step_id = linked.step or ""
            await turn.log(STEP_LINK_OPENED, step=step_id)
            follow.append(await self._linked_step(turn, step_id))
        if edit_in_place:
            return Outcome(edit=profile, send=follow)
        return Outcome(send=[profile, *follow])
