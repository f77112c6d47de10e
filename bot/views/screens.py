"""View models → rendered screens (text + inline keyboard). Pure: no I/O, no Telegram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from markupsafe import Markup

from bot.content.facts import FactIndex
from bot.content.loader import DEFAULT_LOCALE, Content
from bot.content.render import Renderer
from bot.content.values import format_day, join_list, language_locale
from bot.domain.callbacks import (
    Alerts,
    Back,
    CancelEdit,
    Choose,
    Confirm,
    DeleteData,
    EditAnswer,
    MarkStep,
    NextStep,
    OpenStep,
    PickLanguage,
    PlanPage,
    ShowPlan,
    ShowProfile,
    SkipQuestion,
    encode,
)
from bot.domain.interview import (
    Answer,
    Interview,
    State,
    active_path,
    effective_answers,
    likely_path,
)
from bot.domain.plan import Progress, Source, Step, reasons
from bot.views.model import Button, Screen, shorten

PLAN_PAGE_SIZE = 8
#: What a guidance step's body and details can read (besides ``facts``): ``content check``
#: names them when a step reads something else.
STEP_VARIABLES = (
    "answers",
    "shop_name",
    "markets",
    "shop_markets",
    "market_names",
    "deadline",
    "facts",
)


def shop_name_of(answers: Mapping[str, Answer]) -> str | None:
    """The merchant's shop name, if they gave one."""
    value = answers.get("shop_name")
    return value if isinstance(value, str) else None


def format_date(value: date, code: str | None = None) -> str:
    """12 September 2023 / 12. September 2023 (Babel, in a content language code)."""
    return format_day(value, code)


def countdown(deadline: datetime, now: datetime, code: str | None = None) -> dict[str, Any]:
    """Calendar days to (or since) the deadline, in UTC."""
    days = (deadline.date() - now.date()).days
    return {"date": format_date(deadline.date(), code), "days": abs(days), "passed": days < 0}


def go_live_countdown(
    answers: Mapping[str, Answer], now: datetime, code: str | None = None
) -> dict[str, Any] | None:
    """Days to the merchant's own go-live date, when they gave one."""
    value = answers.get("go_live")
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    days = (day - now.date()).days
    return {"date": format_date(day, code), "days": abs(days), "passed": days < 0}


class Views:
    """Builds every screen from content and state; rendering goes through the Renderer."""

    def __init__(self, content: Content, renderer: Renderer) -> None:
        self.content = content
        self.r = renderer
        self._facts: FactIndex | None = None
        self._market_names: dict[str | None, dict[str, str]] = {}
        self._reasons: dict[
            tuple[str | None, str, tuple[tuple[str, tuple[str, ...]], ...]], str
        ] = {}
        self._order: dict[str, int] | None = None

    @property
    def interview(self) -> Interview:
        """The interview definition."""
        return self.content.interview

    # --- labels --------------------------------------------------------------------------

    def option_label(self, lang: str | None, qid: str, option: str) -> str:
        """An option's label."""
        return str(self.content.string(lang, f"questions.{qid}.options.{option}"))

    def answer_label(self, lang: str | None, qid: str, value: Answer) -> str:
        """How an answer reads in the profile (None: an optional question left out)."""
        question = self.interview.question(qid)
        if value is None or value == []:
            return str(self.content.string(lang, "plan.skipped"))
        if question.kind == "date" and isinstance(value, str):
            return format_date(date.fromisoformat(value), self.code(lang))
        if isinstance(value, list):
            # A list of answers, as the language writes a plain list (A, B, C / A、B、C).
            labels = [self.option_label(lang, qid, v) for v in value]
            return join_list(labels, self.code(lang), "unit")
        if question.is_choice:
            return self.option_label(lang, qid, value)
        return value

    def reason(self, lang: str | None, step: Step, answers: Mapping[str, Answer]) -> str:
        """Why a step applies, as HTML: "you sell on Shopify in the United Kingdom and you
        already sell on TikTok Shop" ("" when the step applies to everyone)."""
        hits = self.reason_key(step, answers)
        key = (lang, step.id, hits)
        cached = self._reasons.get(key)
        if cached is None:
            cached = self.reason_text(lang, dict(hits[:-1]), answers) if len(hits) > 1 else ""
            if len(self._reasons) < 50_000:
                self._reasons[key] = cached
        return cached

    def reason_key(
        self, step: Step, answers: Mapping[str, Answer]
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What a step's reason sentence depends on: each question whose answer made the
        step apply with the options that matched (in interview order), then the platform
        when a market matched (the platform clause takes the markets after it). Two answer
        sets with the same key read the same reason in every language."""
        found = reasons(step, answers)
        if self._order is None:
            self._order = {qid: i for i, qid in enumerate(self.interview.questions)}
        order = self._order
        hits = sorted(((k, tuple(v)) for k, v in found.items()), key=lambda kv: order[kv[0]])
        platform = answers.get("platform") if "market" in found else None
        return (*hits, ("", (str(platform),)))

    def reason_text(
        self, lang: str | None, hits: Mapping[str, Sequence[str]], answers: Mapping[str, Answer]
    ) -> str:
        """The reason sentence for ``hits`` (question id -> the options that matched)."""
        clauses: dict[str, str] = {}
        market_in = ""
        for qid, values in hits.items():
            phrases = [self.r.plain(lang, f"questions.{qid}.because.{v}") for v in values]
            if self.interview.question(qid).kind == "many":
                listed = self.and_list(lang, phrases)
                clauses[qid] = self.r.plain(lang, f"questions.{qid}.because_list", values=listed)
                if qid == "market":
                    market_in = self.r.plain(lang, "questions.market.because_in", values=listed)
            else:
                clauses[qid] = phrases[0]
        return self.r.render(
            lang, "reason.html.j2", clauses=clauses, market_in=market_in, answers=answers
        )

    def and_list(self, lang: str | None, items: Sequence[str]) -> str:
        """The items as "a", "a and b" or "a, b and c" in the merchant's language."""
        return join_list(list(items), self.code(lang))

    def code(self, lang: str | None) -> str:
        """The content language a merchant's language code reads in (English fallback)."""
        return self.content.locale(lang).code

    def day(self, lang: str | None, value: date) -> str:
        """A date written out in the merchant's language."""
        return format_date(value, self.code(lang))

    def market_labels(self, lang: str | None, answers: Mapping[str, Answer]) -> list[str]:
        """The merchant's markets by name."""
        markets = answers.get("market") or []
        return [self.option_label(lang, "market", m) for m in markets if isinstance(m, str)]

    def shop_markets(self, answers: Mapping[str, Answer]) -> list[str]:
        """The merchant's markets where TikTok Shop exists (``markets.<id>`` in facts.yaml)."""
        markets = answers.get("market") or []
        return [m for m in markets if isinstance(m, str) and m in self.content.shop_markets]

    def market_names(self, lang: str | None) -> dict[str, str]:
        """Every market id with its name in this language (for guidance: never a literal)."""
        if "market" not in self.interview.questions:
            return {}
        cached = self._market_names.get(lang)
        if cached is not None:
            return dict(cached)
        names: dict[str, str] = {}
        for market in self.interview.question("market").options:
            try:
                names[market] = str(self.content.string(lang, f"market_names.{market}"))
            except KeyError:
                names[market] = self.option_label(lang, "market", market)
        self._market_names[lang] = names
        return dict(names)

    def button(self, lang: str | None, key: str, data: str, **context: Any) -> Button:
        """A callback button labelled from strings."""
        return Button(self.r.plain(lang, f"buttons.{key}", **context), data)

    # --- interview -----------------------------------------------------------------------

    def question(self, lang: str | None, state: State, *, problem: str | None = None) -> Screen:
        """The question on screen, with its buttons."""
        assert state.current is not None
        question = self.interview.question(state.current)
        seq = len(state.path)
        value = state.answers.get(question.id)
        rows: list[tuple[Button, ...]] = []
        chosen: list[str] = []
        if question.is_choice:
            mark_on = str(self.content.string(lang, "marks.ticked"))
            mark_off = str(self.content.string(lang, "marks.unticked"))
            mark_chosen = str(self.content.string(lang, "marks.chosen"))
            buttons = []
            for option in question.options:
                label = self.option_label(lang, question.id, option)
                if question.kind == "many":
                    ticked = isinstance(value, list) and option in value
                    label = f"{mark_on if ticked else mark_off} {label}"
                    if ticked:
                        chosen.append(self.option_label(lang, question.id, option))
                elif value == option:
                    label = f"{mark_chosen} {label}"
                buttons.append(Button(label, encode(Choose(seq, question.id, option))))
            per_row = 2 if len(buttons) > 4 else 1
            rows.extend(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
        nav: list[Button] = []
        if state.path:
            nav.append(self.button(lang, "back", encode(Back(seq))))
        if question.kind == "many":
            nav.append(self.button(lang, "done_many", encode(Confirm(seq, question.id))))
        if question.optional:
            nav.append(self.button(lang, "skip", encode(SkipQuestion(seq, question.id))))
        if state.mode == "edit":
            cancel = str(self.content.string(lang, "edit.cancel"))
            nav.append(Button(cancel, encode(CancelEdit())))
        if nav:
            rows.append(tuple(nav))
        walked = len(state.path) + 1
        likely = likely_path(self.interview, state.answers)
        if state.mode == "edit" and question.id in likely:
            # Changing one answer: its place in the whole interview, not "Question 1".
            walked = likely.index(question.id) + 1
        text = self.r.render(
            lang,
            "question.html.j2",
            number=walked,
            total=max(walked, len(likely)),
            text=self.content.string(lang, f"questions.{question.id}.text"),
            chosen=chosen,
            problem=problem,
            edit=state.mode == "edit",
        )
        return Screen(text, tuple(rows))

    def hint(
        self, lang: str | None, state: State | None, *, media: bool = False, edited: bool = False
    ) -> Screen:
        """A short nudge when the merchant typed or sent something we cannot use here (or
        edited a message they sent: read once, as it was sent)."""
        in_interview = state is not None and state.current is not None
        kind = "edited" if edited else "media" if media else "plain"
        example = ""
        if kind == "plain" and state is not None and state.current is not None:
            question = self.interview.question(state.current)
            kind = question.kind
            if question.is_choice:
                names = [self.option_label(lang, question.id, o) for o in question.options[:2]]
                example = names[0] if question.kind == "one" else ", ".join(names)
        text = self.r.render(
            lang, "use_buttons.html.j2", kind=kind, example=example, in_interview=in_interview
        )
        return Screen(text)

    def problem(self, lang: str | None, key: str, values: Mapping[str, Any]) -> str:
        """A kind re-ask for a typed answer we could not use (dates written out in full)."""
        shown = {k: self.day(lang, v) if isinstance(v, date) else v for k, v in values.items()}
        full = key if "." in key else f"problems.{key}"  # a key of its own file: as it is
        return self.r.plain(lang, full, **shown)

    # --- profile, plan, steps -------------------------------------------------------------

    def profile(self, lang: str | None, answers: Mapping[str, Answer]) -> Screen:
        """Every answer on the merchant's branch, each with a Change button."""
        effective = effective_answers(self.interview, answers)
        on_path, _ = active_path(self.interview, answers)
        rows_view = []
        buttons: list[tuple[Button, ...]] = []
        for qid in on_path:
            label = str(self.content.string(lang, f"questions.{qid}.label"))
            rows_view.append(
                {"label": label, "value": self.answer_label(lang, qid, effective[qid])}
            )
            buttons.append(
                (
                    Button(
                        f"{self.r.plain(lang, 'buttons.change')}: {label}",
                        encode(EditAnswer(qid)),
                    ),
                )
            )
        buttons.append((self.button(lang, "show_plan", encode(ShowPlan())),))
        text = self.r.render(lang, "profile.html.j2", rows=rows_view)
        return Screen(text, tuple(buttons))

    def step_body(
        self,
        lang: str | None,
        step: Step,
        answers: Mapping[str, Answer],
        *,
        details: bool,
        now: datetime,
        deadline: datetime,
    ) -> str:
        """A guidance step's body (or details) rendered for this merchant.

        ``deadline`` is the campaign's (``campaign.yaml`` or ``DEADLINE``) as the countdown
        view {date, days, passed}: guidance names that date only through it.
        """
        text = self.content.step_text(lang, step.id)
        source = text.details if details else text.body
        if not source:
            return ""
        note, read_in = "", lang
        if self.content.outdated(lang, step.id):
            # The translation predates a factual change: the English text, said so.
            read_in = DEFAULT_LOCALE
            if not details:
                note = f"<i>{self.r.text(lang, 'language.stale_note')}</i>\n\n"
        origin = f"{text.path}:{'details' if details else 'body'}"
        return note + self.r.render_source(
            source,
            origin,
            str(text.path),
            lang=read_in,
            answers=dict(answers),
            shop_name=shop_name_of(answers),
            markets=self.market_labels(read_in, answers),
            shop_markets=self.shop_markets(answers),
            market_names=self.market_names(read_in),
            deadline=countdown(deadline, now, self.code(read_in)),
        )

    def plan_pages(self, progress: Progress) -> int:
        """How many pages the checklist takes."""
        return max(1, -(-len(progress.steps) // PLAN_PAGE_SIZE))

    def plan_page_of(self, progress: Progress) -> int:
        """The page that holds the next open step (0-based)."""
        step = progress.next_open()
        ids = [s.id for s in progress.steps]
        index = ids.index(step.id) if step is not None else 0
        return index // PLAN_PAGE_SIZE

    def plan(
        self,
        lang: str | None,
        answers: Mapping[str, Answer],
        progress: Progress,
        now: datetime,
        deadline: datetime,
        *,
        page: int | None = None,
    ) -> Screen:
        """The checklist, a page at a time: progress, countdown, each step with its reason."""
        pages = self.plan_pages(progress)
        page = self.plan_page_of(progress) if page is None else max(0, min(page, pages - 1))
        items = []
        buttons: list[tuple[Button, ...]] = []
        first = page * PLAN_PAGE_SIZE
        for step in progress.steps[first : first + PLAN_PAGE_SIZE]:
            status = progress.status(step.id)
            title = self.content.step_text(lang, step.id).title
            number = progress.position(step.id)
            mark = self.mark(lang, step, status)
            items.append(
                {
                    "number": number,
                    "kind": step.kind,
                    "title": title,
                    "mark": mark,
                    "minutes": step.minutes,
                    "reason": Markup(self.reason(lang, step, answers)),
                    "updated": progress.updated_since(step),
                }
            )
            if step.counted:
                label = self.r.plain(lang, "buttons.open_step", number=number, title=title)
            else:
                label = self.r.plain(lang, f"buttons.open_{step.kind}", title=title)
            buttons.append((Button(shorten(f"{mark} {label}"), encode(OpenStep(step.id))),))
        if pages > 1:
            nav: list[Button] = []
            if page > 0:
                nav.append(self.button(lang, "page_prev", encode(PlanPage(page - 1))))
            if page < pages - 1:
                nav.append(self.button(lang, "page_next", encode(PlanPage(page + 1))))
            buttons.append(tuple(nav))
        footer: list[Button] = []
        if not progress.finished:
            footer.append(self.button(lang, "next_step", encode(NextStep())))
        footer.append(self.button(lang, "profile", encode(ShowProfile())))
        footer.append(self.button(lang, "alerts", encode(Alerts("show"))))
        buttons.append(tuple(footer))
        text = self.r.render(
            lang,
            "plan.html.j2",
            items=items,
            progress=progress,
            page=page + 1,
            pages=pages,
            when=countdown(deadline, now, self.code(lang)),
            shop_name=shop_name_of(answers),
            go_live=go_live_countdown(answers, now, self.code(lang)),
        )
        return Screen(text, tuple(buttons))

    def mark(self, lang: str | None, step: Step, status: str) -> str:
        """The checklist mark: open / done / skipped, or a blocker's and background's own."""
        if step.kind == "step":
            return str(self.content.string(lang, f"marks.{status}"))
        key = f"{step.kind}_{'open' if status == 'open' else 'seen'}"
        return str(self.content.string(lang, f"marks.{key}"))

    def step(
        self,
        lang: str | None,
        step: Step,
        answers: Mapping[str, Answer],
        progress: Progress,
        now: datetime,
        deadline: datetime,
        *,
        intro: bool = False,
        marked: str = "done",
    ) -> Screen:
        """One step as its own message, with Done / Skip / Details / Back to plan.

        ``intro`` opens it with a word on the step just marked (``marked``: done or skipped).
        """
        status = progress.status(step.id)
        shop = shop_name_of(answers)
        intro_text = (
            self.r.render(
                lang, "next_intro.html.j2", progress=progress, shop_name=shop, marked=marked
            )
            if intro
            else ""
        )
        text = self.r.render(
            lang,
            "step.html.j2",
            number=progress.position(step.id),
            kind=step.kind,
            title=self.content.step_text(lang, step.id).title,
            body=Markup(
                self.step_body(lang, step, answers, details=False, now=now, deadline=deadline)
            ),
            intro=Markup(intro_text),
            flags=self.content.step_flags(lang, step, answers),
            reason=Markup(self.reason(lang, step, answers)),
            minutes=step.minutes,
            progress=progress,
            status=status,
            when=countdown(deadline, now, self.code(lang)),
        )
        second = (
            self.button(lang, "step_details", encode(MarkStep(step.id, "details"))),
            self.button(lang, "back_to_plan", encode(self._plan_at(progress, step))),
        )
        marks = self._marks_row(lang, step, status)
        return Screen(text, (marks, second) if marks else (second,))

    @property
    def facts(self) -> FactIndex:
        """Which facts each step cites (built on first use)."""
        if self._facts is None:
            self._facts = FactIndex(self.content, self.r.env)
        return self._facts

    def details(
        self,
        lang: str | None,
        step: Step,
        answers: Mapping[str, Answer],
        progress: Progress | None = None,
        *,
        now: datetime,
        deadline: datetime,
        today: date | None = None,
    ) -> Screen:
        """A step's background, uncertainty flags and sources, with the step's own buttons;
        with ``today``, the facts it cites that are past their review date, each with the day
        it was last confirmed."""
        body = self.step_body(lang, step, answers, details=True, now=now, deadline=deadline)
        overdue = self.facts.overdue(step.id, today) if today is not None else ()
        by_day: dict[date, list[str]] = {}
        for fact in overdue:
            values = by_day.setdefault(fact.checked, [])
            if fact.value not in values:
                values.append(fact.value)
        stale = [
            Markup(self.r.text(lang, "fact_age.item", values=values, date=self.day(lang, day)))
            for day, values in sorted(by_day.items())
        ]
        text = self.r.render(
            lang,
            "step_details.html.j2",
            title=self.content.step_text(lang, step.id).title,
            details=Markup(body),
            flags=self.content.step_flags(lang, step, answers),
            sources=[
                Source(src.url, src.title, self.r.plain(lang, "language.undated"))
                if src.date == "undated"
                else src
                for src in step.sources
            ],
            checked=self.day(lang, step.checked) if step.checked else "",
            stale=stale,
        )
        back = self.button(lang, "back_to_plan", encode(self._plan_at(progress, step)))
        marks = self._marks_row(lang, step, progress.status(step.id)) if progress else ()
        return Screen(text, (marks, (back,)) if marks else ((back,),))

    def _marks_row(self, lang: str | None, step: Step, status: str) -> tuple[Button, ...]:
        """Done and Skip on an open step, "Understood" on an open blocker, Undo on a marked
        one; nothing on background reading (it is not part of the progress)."""
        if step.kind == "background":
            return ()
        if status != "open":
            return (self.button(lang, "step_undo", encode(MarkStep(step.id, "undo"))),)
        if step.kind == "blocker":  # acknowledged, never "done" or skipped
            return (self.button(lang, "step_understood", encode(MarkStep(step.id, "done"))),)
        return (
            self.button(lang, "step_done", encode(MarkStep(step.id, "done"))),
            self.button(lang, "step_skip", encode(MarkStep(step.id, "skip"))),
        )

    def _plan_at(self, progress: Progress | None, step: Step) -> ShowPlan | PlanPage:
        """Back to the plan page that holds ``step``."""
        if progress is None or not any(s.id == step.id for s in progress.steps):
            return ShowPlan()
        index = next(i for i, s in enumerate(progress.steps) if s.id == step.id)
        return PlanPage(index // PLAN_PAGE_SIZE)

    def finished(
        self, lang: str | None, answers: Mapping[str, Answer], progress: Progress
    ) -> Screen:
        """Everything done: say so and what comes next."""
        text = self.r.render(
            lang,
            "finished.html.j2",
            progress=progress,
            shop_name=shop_name_of(answers),
        )
        keyboard = ((self.button(lang, "show_plan", encode(ShowPlan())),),)
        return Screen(text, keyboard)

    def start(
        self,
        lang: str | None,
        *,
        first_name: str | None,
        returning: bool,
        resuming: bool,
        progress: Progress | None,
        now: datetime,
        deadline: datetime,
    ) -> Screen:
        """The greeting."""
        text = self.r.render(
            lang,
            "start.html.j2",
            first_name=first_name,
            returning=returning,
            resuming=resuming,
            progress=progress,
            when=countdown(deadline, now, self.code(lang)),
        )
        keyboard: tuple[tuple[Button, ...], ...] = ()
        if progress is not None:
            row = [self.button(lang, "show_plan", encode(ShowPlan()))]
            if not progress.finished:
                row.insert(0, self.button(lang, "next_step", encode(NextStep())))
            keyboard = (tuple(row),)
        return Screen(text, keyboard)

    def delete_question(self, lang: str | None) -> Screen:
        """Are you sure? Two buttons."""
        keyboard = (
            (
                self.button(lang, "delete_yes", encode(DeleteData("yes"))),
                self.button(lang, "delete_no", encode(DeleteData("no"))),
            ),
        )
        return Screen(self.r.render(lang, "delete_confirm.html.j2"), keyboard)

    def simple(self, lang: str | None, template: str, **context: Any) -> Screen:
        """A template with no buttons (help, error)."""
        return Screen(self.r.render(lang, template, **context))

    # --- /language ---------------------------------------------------------------------------

    def native_name(self, code: str) -> str:
        """A shipped language's name in itself: Deutsch, English, português (Brasil)."""
        own = self.content.locales[code].strings.get("language_name")
        if isinstance(own, str) and own.strip():  # the translators' own spelling
            return own.strip()
        name = language_locale(code).get_display_name() or code
        return name[:1].upper() + name[1:]

    def language_picker(self, lang: str | None) -> Screen:
        """/language: the question with one button per shipped language, each in its own
        name (the merchant's current one marked)."""
        current = self.content.locale(lang).code
        mark = str(self.content.string(lang, "marks.chosen"))
        rows = tuple(
            (
                Button(
                    f"{mark} {self.native_name(code)}"
                    if code == current
                    else self.native_name(code),
                    encode(PickLanguage(code.lower())),
                ),
            )
            for code in self.content.shipped
        )
        text = "\n\n".join(
            (
                self.r.text(lang, "language.choose"),
                self.r.text(lang, "language.current", name=self.native_name(current)),
            )
        )
        return Screen(text, rows)
