"""``python -m bot content check|preview|coverage``: the editors' tools.

The check proves what the loader cannot see on its own: every template compiles and renders
with real view models, every interview path leads to a non-empty plan, every message fits
Telegram (4096 characters, HTML it accepts), and every platform x market pair gets a
platform-specific and a market-specific step.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import itertools
import os
import pickle
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes
from markupsafe import Markup

from bot.alerts.planner import QuietHours, parse_offsets
from bot.alerts.screens import (
    AlertScreens,
    ChangedStep,
    PlanChangedView,
    ReminderView,
    Scheduled,
    SettingsView,
)
from bot.botapi.tghtml import ALLOWED_TAGS, TelegramHTMLError, parse_html
from bot.content.loader import DEFAULT_LOCALE, Content, ContentError, Problem, load_content
from bot.content.memo import TraceMemo, Unfrozen, split_context
from bot.content.render import STRING_ORIGIN, Renderer
from bot.domain.interview import (
    Answer,
    Interview,
    Question,
    State,
    begin,
    effective_answers,
    route,
)
from bot.domain.plan import Mark, Progress, Selector, Step, conflicts_in, select
from bot.views.model import Screen
from bot.views.screens import PLAN_PAGE_SIZE, STEP_VARIABLES, Views

MAX_TEXT = 4096
#: A language's own name is a button label (``/language``): plain, short text.
MAX_LANGUAGE_NAME = 40
_MARKUP = re.compile(r"[<>]|\{\{|\{%")
# A shop name that would break careless HTML, at the longest the interview accepts.
TRICKY_SHOP_NAME = 'Ann & Bob\'s <Shop> "Best"'
SAMPLE_NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
STATS_FIGURES = (
    "merchants",
    "active_week",
    "interview_done",
    "alerts_on",
    "blocked",
    "steps_done",
    "alerts_pending",
    "alerts_sent",
    "alerts_failed",
)
FAR_FUTURE = date(2100, 1, 1)  # every fact is past review then
STEP_VARIANTS = 60  # answer variants rendered per step (see plans())
PLATFORM_VARIANTS = 8  # answer variants per step and platform in platform_mentions()
#: Plans holding a step with this tag set a merchant up in their markets; the coverage rule
#: (a platform-specific and a market-specific step per platform x market) applies to them.
SETUP_TAG = "register"
#: Several-answer questions are walked one option at a time and all together; those with
#: more options than this (the markets) also in every pair.
PAIRS_FROM = 7


@dataclass(frozen=True)
class CoverageRow:
    """Steps a platform x market pair gets."""

    platform: str
    market: str
    total: int
    platform_steps: tuple[str, ...]
    market_steps: tuple[str, ...]
    #: Some merchant of this pair is being set up there (a ``register`` step in the plan);
    #: the coverage rule holds for these pairs only.
    setup: bool = True


def answer_combinations(interview: Interview) -> Iterator[dict[str, Answer]]:
    """Every path through the interview: each option of each question on the branch.

    Several-choice questions take each single option and all options together; typed
    questions take a sample answer (they never steer the plan). Skipping optional
    questions is covered by ``typed_variants``.
    """

    def walk(qid: str | None, answers: dict[str, Answer]) -> Iterator[dict[str, Answer]]:
        if qid is None:
            yield answers
            return
        for value in walk_values(interview.question(qid)):
            nxt = dict(answers)
            nxt[qid] = value
            yield from walk(route(interview, qid, nxt), nxt)

    yield from walk(interview.start, {})


def walk_values(question: Question) -> list[Answer]:
    """The answers :func:`answer_combinations` tries for one question."""
    if question.kind == "one":
        return list(question.options)
    if question.kind == "many":
        return [*([o] for o in question.options), list(question.options)]
    if question.kind == "date":
        return [(SAMPLE_NOW.date() + timedelta(days=30)).isoformat()]
    return [TRICKY_SHOP_NAME[: question.max_length]]


def routes_look_ahead(interview: Interview) -> bool:
    """Whether a question's branch depends on a question that can only come after it.

    When none does (the normal case), the path walked to build a set of answers is the
    merchant's active path for those answers, so the walk can compute the effective answers
    and the plan mask as it goes instead of re-walking every path from the start.
    """
    ahead: dict[str, set[str]] = {}

    def reachable(qid: str, seen: set[str]) -> set[str]:
        for candidate in interview.question(qid).routes:
            goto = candidate.goto
            if goto in interview.questions and goto not in seen:
                seen.add(goto)
                reachable(goto, seen)
        return seen

    for qid, question in interview.questions.items():
        ahead[qid] = reachable(qid, set())
        if qid in ahead[qid]:  # a loop: the walk's shortcut would not hold
            return True
        for candidate in question.routes:
            if candidate.keys & ahead[qid]:
                return True
    return False


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*?(/?)>")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def unbalanced_tag(source: str, first_line: int = 1) -> tuple[int, str] | None:
    """The first HTML tag a template opens and never closes (or closes out of order),
    with its line (``source`` starting at ``first_line`` of its file): where an editor
    must look when Telegram would reject the message."""
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)
    stack: list[tuple[str, int]] = []
    for match in _TAG.finditer(text):
        closing, tag, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        line = first_line + text.count("\n", 0, match.start())
        if self_closing:
            continue
        if not closing:
            stack.append((tag, line))
        elif stack and stack[-1][0] == tag:
            stack.pop()
        else:
            opened = f" (<{stack[-1][0]}> opened on line {stack[-1][1]})" if stack else ""
            return line, f"</{tag}> closes a tag that is not open here{opened}"
    if stack:
        tag, line = stack[-1]
        return line, f"<{tag}> is never closed"
    return None


def _hashable(value: Answer) -> Any:
    """An answer as a dict key (a several-choice answer's list as a tuple)."""
    return tuple(value) if isinstance(value, list) else value


_BYTE_OFFSET = re.compile(r" at byte offset \d+")


def html_problem(source: str, first_line: int = 1) -> tuple[int, str] | None:
    """The first tag in a template Telegram would reject (a tag it does not know, or one
    left open or closed out of order), with its line in the file (``source`` starting at
    its ``first_line``)."""
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), source)
    for match in _TAG.finditer(text):
        tag = match.group(2).lower()
        if tag not in ALLOWED_TAGS:
            line = first_line + text.count("\n", 0, match.start())
            allowed = "b, i, u, s, a, code, pre, blockquote"
            return line, (
                f"<{tag}> is not a tag Telegram accepts (use {allowed};"
                " blank lines and \u2022 bullets instead of paragraphs and lists)"
            )
    return unbalanced_tag(source, first_line)


#: Context values the string memo keys by value: equal values of these types print alike.
_PLAIN_TYPES = frozenset({str, int, bool, type(None), Markup})


class _TracingRenderer(Renderer):
    """The renderer, noting which template file produced the last message (for the check),
    and rendering nothing twice (see bot.content.memo for why a reused render is the one
    the bot would make).

    Memo keys: a message template's render is a function of the template (named by the
    merchant's language code and the template name: ``s`` and the locale context added by
    ``Renderer.render`` follow from the code) and of its context; a content template's
    (guidance body, string with variables) of its origin, source and language and of its
    context. Every context value is frozen into the key except ``answers`` and
    ``progress``, whose reads are traced.
    """

    last_file: Path | None = None

    def __init__(self, content: Content) -> None:
        super().__init__(content)
        self.memo = TraceMemo()
        self._texts: dict[tuple[Any, ...], str] = {}

    def render(self, code: str | None, name: str, **context: Any) -> str:
        template = self.template(code, name)
        self.last_file = Path(template.filename) if template.filename else None
        if not self.memo.worth(name):
            return super().render(code, name, **context)
        try:
            static = ("template", code, name, split_context(context))
        except Unfrozen:
            return super().render(code, name, **context)
        return self.memo.render(
            name, static, context, lambda ctx: Renderer.render(self, code, name, **ctx)
        )

    def text(self, code: str | None, key: str, **context: Any) -> str:
        # A string by key is a function of the language code, the key and the context
        # (content is fixed): a cheaper key than render_source's for the common case of
        # a few plain values (button labels, reason clauses).
        if any(type(v) not in _PLAIN_TYPES for v in context.values()):
            return super().text(code, key, **context)  # e.g. a list, or a float (-0.0)
        memo_key = (code, key, *((k, type(v), v) for k, v in sorted(context.items())))
        found = self._texts.get(memo_key)
        if found is None:
            found = self._texts[memo_key] = super().text(code, key, **context)
        return found

    def render_source(
        self,
        source: str,
        origin: str,
        filename: str | None = None,
        *,
        lang: str | None = None,
        **context: Any,
    ) -> str:
        if not self.memo.worth(origin):
            return super().render_source(source, origin, filename, lang=lang, **context)
        try:
            static = ("source", origin, source, filename, lang, split_context(context))
        except Unfrozen:
            return super().render_source(source, origin, filename, lang=lang, **context)
        return self.memo.render(
            origin,
            static,
            context,
            lambda ctx: Renderer.render_source(self, source, origin, filename, lang=lang, **ctx),
        )


def _location(exc: BaseException, fallback: tuple[Path, int]) -> tuple[Path, int]:
    """The content file and line a template error points at (a string's template as
    ``string:<lang>:<key>``: :meth:`Checker.report` finds its file and line)."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno or fallback[1]
    tb = exc.__traceback__
    found = fallback
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".md", ".j2", ".yaml")) or filename.startswith(STRING_ORIGIN):
            found = (Path(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _variable_hint(exc: BaseException, path: Path) -> str:
    """For a guidance step reading a variable it does not have: the ones it can read."""
    found = re.fullmatch(r"'(\w+)' is undefined", str(exc))
    if found is None or path.suffix != ".md":
        return ""
    close = difflib.get_close_matches(found.group(1), STEP_VARIABLES, n=1, cutoff=0.6)
    meant = f" (did you mean {close[0]}?)" if close else ""
    return f"; a step can read {', '.join(STEP_VARIABLES)}{meant}"


class _CheckViews(Views):
    """The screens, with each step's reason looked up by the answers it reads (see
    Checker._reason_key) instead of re-deriving domain.plan.reasons on every screen."""

    def __init__(self, content: Content, renderer: Renderer, checker: Checker) -> None:
        super().__init__(content, renderer)
        self._checker = checker
        self._sentences: dict[tuple[Any, ...], str] = {}

    def reason(self, lang: str | None, step: Step, answers: Mapping[str, Answer]) -> str:
        """Views.reason, remembered by language, step and reason_key (the key Views.reason
        itself caches by, unbounded here)."""
        key = (lang, step.id, self._checker._reason_key(step, answers))
        found = self._sentences.get(key)
        if found is None:
            found = self._sentences[key] = super().reason(lang, step, answers)
        return found


class Checker:
    """Runs every check over a loaded content tree."""

    def __init__(
        self, content: Content, *, deadline: datetime | None = None, jobs: int = 1
    ) -> None:
        self.content = content
        #: Processes the per-language walk may use (fork; see _in_parallel).
        self.jobs = jobs
        self._pending: tuple[int, int, int, list[str], Callable[[str], None]] | None = None
        self.renderer = _TracingRenderer(content)
        self.views: Views = _CheckViews(content, self.renderer, self)
        self.deadline = deadline or content.campaign.deadline
        self.problems: list[Problem] = []
        self._seen: set[tuple[str, int, str]] = set()
        self._reason_reads: dict[str, list[str]] = {}
        self._reason_keys: dict[tuple[Any, ...], Any] = {}
        self._parsed: dict[str, int | str] = {}  # text -> length, or why it is rejected
        options = {qid: q.options for qid, q in content.interview.questions.items() if q.is_choice}
        self.selector = Selector(content.steps, options)
        self._combos: list[tuple[dict[str, Answer], dict[str, Answer], int]] | None = None
        self._classes: dict[int, dict[str, Answer]] | None = None

    def report(self, path: Path, line: int, message: str) -> None:
        """Record a problem once (one in a string's template at that string's file and line)."""
        if str(path).startswith(STRING_ORIGIN):
            path, line, message = self._in_string(str(path), message)
        key = (str(path), line, message)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(Problem(path, line, message))

    # --- templates ---------------------------------------------------------------------------

    def compile_all(self) -> None:
        """Every message template and every guidance body compiles."""
        env = self.renderer.env
        assert env.loader is not None
        for name in env.loader.list_templates():
            try:
                env.get_template(name)
            except TemplateSyntaxError as exc:
                path, line = _location(exc, (self.content.root / "locales" / name, 1))
                self.report(path, line, f"template error: {exc.message}")
        for locale in self.content.locales.values():
            for step_id, text in locale.steps.items():
                for part, source, line in (
                    ("body", text.body, text.body_line),
                    ("details", text.details, text.details_line),
                ):
                    if not source:
                        continue
                    try:
                        self.renderer.from_source(source, f"{text.path}:{part}", str(text.path))
                    except TemplateSyntaxError as exc:
                        self.report(
                            text.path,
                            line + (exc.lineno or 1) - 1,
                            f"template error in {step_id} {part}: {exc.message}",
                        )

    def compile_strings(self) -> None:
        """Every string holding template code compiles, rendered by a screen or not (an
        unknown filter is found here, not by the merchant who meets it). Run after the
        screens, which report what they render with its context."""
        reported = {(str(p.path), p.line) for p in self.problems}
        for locale in self.content.locales.values():
            for key in locale.key_lines:
                value = locale.lookup(key)
                if not isinstance(value, str):
                    continue
                if "{" not in value:  # sent as written: Telegram's HTML parser must take it
                    self._string_markup(locale.code, key, value, reported)
                    continue
                path, line = self._string_at(locale.code, key)
                if (str(path), line) in reported:  # a screen rendering it said what is wrong
                    continue
                origin = f"{STRING_ORIGIN}{locale.code}:{key}"
                try:
                    self.renderer.from_source(value, origin)
                except TemplateSyntaxError as exc:
                    self.report(
                        Path(origin), 1, f"template error ({type(exc).__name__}): {exc.message}"
                    )

    def _string_markup(
        self, lang: str, key: str, value: str, reported: set[tuple[str, int]]
    ) -> None:
        """A string without template code that Telegram would not parse as HTML (a bare
        ``&`` or ``<``, a tag it does not know), at the string's line."""
        if "<" not in value and "&" not in value:
            return
        try:
            self._visible_length(value)
        except TelegramHTMLError as exc:
            path, line = self._string_at(lang, key)
            if (str(path), line) not in reported:
                reason = _BYTE_OFFSET.sub("", exc.reason).removeprefix("can't parse entities: ")
                self.report(path, line, f"Telegram would reject the HTML: {reason}")

    def _visible_length(self, text: str) -> int:
        """The length Telegram counts once it has parsed ``text`` (TelegramHTMLError if it
        would reject it). Remembered by the exact text: parse_html is a pure function of
        it, and many screens come out the same (a step reading only the market, for every
        status and platform)."""
        found = self._parsed.get(text)
        if found is None:
            try:
                found = len(parse_html(text).text)
            except TelegramHTMLError as exc:
                found = exc.reason
            self._parsed[text] = found
        if isinstance(found, str):
            raise TelegramHTMLError(found)
        return found

    def screen(
        self,
        screen_fn: Any,
        where: tuple[Path, int],
        what: str,
        source: str | None = None,
    ) -> Screen | None:
        """Render one screen; report undefined variables, bad HTML and excess length.

        A message template's problem is reported at that template's file (and, for HTML,
        at the line of the tag at fault); a guidance step's at its own file.
        """
        self.renderer.last_file = None
        try:
            screen: Screen = screen_fn()
        except (TemplateError, KeyError, AttributeError, TypeError, ValueError) as exc:
            if self._missing_string(exc):
                return None
            path, line = _location(exc, where)
            if path == where[0] and line != where[1] and path.suffix == ".md":
                line = where[1] + line - 1
            hint = self._fact_hint(path, line) or _variable_hint(exc, path)
            self.report(path, line, f"{what}: {type(exc).__name__}: {exc}{hint}")
            return None
        if where[0].suffix != ".md" and self.renderer.last_file is not None:
            where = (self.renderer.last_file, 1)
        try:
            length = self._visible_length(screen.text)
        except TelegramHTMLError as exc:
            # At the template line at fault, once for every answer variant that shows it.
            if source is not None:
                found = html_problem(source, where[1])
            else:
                found = html_problem(where[0].read_text(encoding="utf-8-sig"))
            if found is not None:
                self.report(where[0], found[0], f"Telegram would reject the HTML: {found[1]}")
            else:
                reason = _BYTE_OFFSET.sub("", exc.reason)
                self.report(
                    where[0],
                    where[1],
                    f"{what}: Telegram would reject the HTML once rendered ({reason});"
                    " check what the variables put into it",
                )
            length = len(screen.text)
        if length > MAX_TEXT:
            self.report(
                where[0], where[1], f"{what}: {length} characters, over Telegram's {MAX_TEXT}"
            )
        for row in screen.keyboard:
            for button in row:
                if button.data is not None and len(button.data.encode()) > 64:
                    self.report(where[0], where[1], f"{what}: button data over 64 bytes")
        return screen

    # --- plans -----------------------------------------------------------------------------

    def combos(self) -> list[tuple[dict[str, Answer], dict[str, Answer], int]]:
        """Every interview path: (raw answers, effective answers, applicable-steps mask)."""
        if self._combos is None:
            interview = self.content.interview
            if routes_look_ahead(interview):
                self._combos = [
                    (combo, answers, self.selector.mask(answers))
                    for combo in answer_combinations(interview)
                    for answers in (effective_answers(interview, combo),)
                ]
            else:
                self._combos = self._walk_combos()
        return self._combos

    def _walk_combos(self) -> list[tuple[dict[str, Answer], dict[str, Answer], int]]:
        """The same list as walking every path and re-deriving its effective answers and
        mask, computed along the walk (routes only look back: see routes_look_ahead)."""
        interview = self.content.interview
        selector = self.selector
        empty: dict[str, Answer] = {
            qid: [] if q.kind == "many" else None for qid, q in interview.questions.items()
        }
        keys = selector.keys
        result: list[tuple[dict[str, Answer], dict[str, Answer], int]] = []

        def walk(qid: str | None, answers: dict[str, Answer], partial: tuple[int, int]) -> None:
            if qid is None:
                effective = dict(empty)
                for key, value in answers.items():
                    effective[key] = list(value) if isinstance(value, list) else value
                for key in keys:
                    if key not in answers:
                        partial = selector.advance(partial, key, effective[key])
                result.append((answers, effective, selector.finish(partial)))
                return
            question = interview.question(qid)
            fed = qid in keys
            for value in walk_values(question):
                nxt = dict(answers)
                nxt[qid] = value
                state = selector.advance(partial, qid, value) if fed else partial
                walk(route(interview, qid, nxt), nxt, state)

        walk(interview.start, {}, selector.start())
        return result

    def plans(self) -> None:
        """Every interview path yields a plan; every screen of it renders and fits."""
        interview_file = self.content.root / "interview.yaml"
        steps = self.content.steps
        by_mask: dict[int, list[tuple[dict[str, Answer], dict[str, Answer], int]]] = {}
        for combo, answers, mask in self.combos():
            if mask == 0:
                self.report(
                    interview_file, 1, f"empty plan for: {self._summary(combo, full=True)}"
                )
                continue
            group = by_mask.setdefault(mask, [])
            # Keep the first path and the one with the most ticks (longest reasons).
            if len(group) < 2:
                group.append((combo, answers, self._ticks(answers)))
            else:
                ticks = self._ticks(answers)
                if ticks > group[1][2]:
                    group[1] = (combo, answers, ticks)
        referenced = {s.id: sorted(self._referenced_keys(s.id)) for s in steps}
        # Each path's plan is the same in every language: select it once. select() reads
        # the answers only through the steps' conditions (applies(): when, unless, only),
        # so two paths with equal answers to those questions get the same plan.
        condition_keys = sorted(
            {k for s in steps for conditions in (s.when, s.unless, s.only) for k in conditions}
        )
        selected: dict[tuple[Any, ...], list[Step]] = {}
        walked = []
        for group in by_mask.values():
            for combo, answers, ticks in group:
                relevant = tuple(_hashable(answers.get(k)) for k in condition_keys)
                plan = selected.get(relevant)
                if plan is None:
                    plan = selected[relevant] = select(steps, answers)
                progress = Progress(tuple(plan), {})
                done = Progress(tuple(plan), {s.id: Mark("done", s.version) for s in plan})
                pages = self.views.plan_pages(progress)
                # What each step's reason depends on (the same in every language).
                why = [self._reason_key(s, answers) for s in plan]
                walked.append((combo, answers, ticks, plan, progress, done, pages, why))
        langs = list(self.content.locales)
        state = (walked, referenced)
        if self.jobs > 1 and len(langs) > 1:
            self._in_parallel(langs, lambda lang: self._plans_in(lang, *state))
        else:
            for lang in langs:
                self._plans_in(lang, *state)

    def _in_parallel(self, langs: list[str], work: Callable[[str], None]) -> None:
        """``work`` for every language: the first here, now; the others in a forked child
        process that runs while this one goes on with the checks after plans(). The
        child's problems come back through a pipe when run() calls :meth:`_join`, which
        puts them where a single process would have reported them (after this
        language's, before the later checks'). The per-language work shares no state
        between languages (every marker holds the language; the memos only skip
        repeats), so the split changes nothing but the wall time. Without fork, or if
        the child fails, this process does the other languages itself at the join."""
        rest = langs[1:]
        # The child also runs contradictions() (language-free, next in run()'s order), so
        # its problems still come in a single process's order; the two halves balance.
        reader = -1
        pid = 0
        if hasattr(os, "fork"):
            reader, writer = os.pipe()
            # Everything made so far leaves the collector's reach: its passes would touch,
            # and so copy, every page the child shares with this process (and rescan the
            # walk's tables in both). _join gives them back.
            gc.freeze()
            pid = os.fork()
            if pid == 0:  # the child: its own problems only, then exit without cleanup
                os.close(reader)
                code = 1
                try:
                    self.problems = []
                    for lang in rest:
                        work(lang)
                    self.contradictions()  # next in run()'s order: see run()
                    with os.fdopen(writer, "wb") as out:
                        pickle.dump(self.problems, out)
                    code = 0
                finally:
                    os._exit(code)
            os.close(writer)
        work(langs[0])
        self._pending = (len(self.problems), pid, reader, rest, work)

    def _join(self) -> None:
        """Take in the other languages' problems (see :meth:`_in_parallel`)."""
        if self._pending is None:
            return
        mark, pid, reader, rest, work = self._pending
        self._pending = None
        gc.unfreeze()
        theirs: list[Problem] | None = None
        if pid:
            with os.fdopen(reader, "rb") as incoming:
                data = incoming.read()
            _, status = os.waitpid(pid, 0)
            if status == 0 and data:
                theirs = pickle.loads(data)  # our own child's output
        ours = self.problems
        if theirs is None:  # no child: the other languages here, reported on their own
            self.problems, self._seen = [], set()
            for lang in rest:
                work(lang)
            self.contradictions()
            theirs = self.problems
        # The order (and the once-only rule) of a single process: this process's
        # problems up to its first language, the other languages', then the rest.
        self.problems = ours[:mark]
        self._seen = {(str(p.path), p.line, p.message) for p in self.problems}
        for problem in (*theirs, *ours[mark:]):
            self.report(problem.path, problem.line, problem.message)

    def _plans_in(
        self,
        lang: str,
        walked: list[tuple[Any, ...]],
        referenced: Mapping[str, list[str]],
    ) -> None:
        """plans() for one language."""
        interview_file = self.content.root / "interview.yaml"
        rendered_steps: set[tuple[Any, ...]] = set()
        rendered_pages: dict[tuple[Any, ...], int] = {}
        variants: dict[tuple[str, str], int] = {}
        # Reason lengths by language, step and reason_key: the key is the one Views.reason
        # caches the sentence by, so the length is the one the plan page shows.
        reason_length: dict[tuple[Any, ...], int] = {}
        for combo, answers, ticks, plan, progress, done, pages, why in walked:
            for page in range(pages):
                first = page * PLAN_PAGE_SIZE
                chunk = plan[first : first + PLAN_PAGE_SIZE]
                # The same steps on the same page differ only in their reasons, and
                # every reason renders in reasons(): render the longest one seen.
                marker = (lang, page, pages, tuple(s.id for s in chunk))
                length = 0
                for step, key in zip(chunk, why[first : first + PLAN_PAGE_SIZE], strict=True):
                    found = reason_length.get((lang, step.id, key))
                    if found is None:
                        found = len(self.views.reason(lang, step, answers))
                        reason_length[(lang, step.id, key)] = found
                    length += found
                if rendered_pages.get(marker, -1) >= length:
                    continue
                rendered_pages[marker] = length
                for label, prog in (("plan", progress), ("finished plan", done)):
                    self.screen(
                        lambda lang=lang, prog=prog, answers=answers, page=page: self.views.plan(
                            lang, answers, prog, SAMPLE_NOW, self.deadline, page=page
                        ),
                        (interview_file, 1),
                        f"{label} page {page + 1} for {self._summary(combo)}",
                    )
            for step in plan:
                projection = tuple((k, str(answers.get(k))) for k in referenced[step.id])
                step_marker = (lang, step.id, projection, ticks > 2)
                if step_marker in rendered_steps:
                    continue
                # A body that reads many answers has thousands of variants; a sample
                # of them (first seen, plus every longest-reason one) bounds the
                # time while the property test in tests/ samples the rest.
                count = variants.get((lang, step.id), 0)
                if count >= STEP_VARIANTS and ticks <= 2:
                    continue
                variants[(lang, step.id)] = count + 1
                rendered_steps.add(step_marker)
                self._render_step(lang, step, answers, progress)

    def _reason_key(self, step: Step, answers: Mapping[str, Answer]) -> Any:
        """Views.reason_key, remembered by the answers it reads: those to the questions the
        step's ``when`` and ``only`` name (domain.plan.reasons), and the platform when one
        of them is the market."""
        keys = self._reason_reads.get(step.id)
        if keys is None:
            keys = sorted({*step.when, *step.only})
            if "market" in keys:
                keys.append("platform")
            self._reason_reads[step.id] = keys
        relevant = (step.id, *(_hashable(answers.get(k)) for k in keys))
        found = self._reason_keys.get(relevant)
        if found is None:
            found = self._reason_keys[relevant] = self.views.reason_key(step, answers)
        return found

    def _render_step(
        self, lang: str, step: Step, answers: dict[str, Answer], progress: Progress
    ) -> None:
        text = self.content.step_text(lang, step.id)
        self.screen(
            lambda lang=lang: self.views.step(
                lang, step, answers, progress, SAMPLE_NOW, self.deadline, intro=True
            ),
            (text.path, text.body_line),
            f"step {step.id}",
            text.body,
        )
        self.screen(
            # every cited fact past review: the longest details screen
            lambda lang=lang: self.views.details(
                lang, step, answers, now=SAMPLE_NOW, deadline=self.deadline, today=FAR_FUTURE
            ),
            (text.path, text.details_line),
            f"details of {step.id}",
            text.details,
        )

    @staticmethod
    def _ticks(answers: Mapping[str, Answer]) -> int:
        return sum(len(v) for v in answers.values() if isinstance(v, list))

    def _referenced_keys(self, step_id: str) -> set[str]:
        keys: set[str] = set()
        for locale in self.content.locales.values():
            text = locale.steps.get(step_id)
            if text is None:
                continue
            source = text.body + text.details
            keys.update(re.findall(r"answers\.(\w+)", source))
            keys.update(re.findall(r"answers\[['\"](\w+)['\"]\]", source))
            if "markets" in source:
                keys.add("market")
            if "shop_name" in source:
                keys.add("shop_name")
            if re.search(r"\banswers\b(?![.\[])", source):
                keys.update(self.content.interview.questions)
        return keys

    @staticmethod
    def _summary(combo: Mapping[str, Answer], *, full: bool = False) -> str:
        return ", ".join(
            f"{k}={v}" for k, v in combo.items() if full or k in ("platform", "market")
        )

    # --- fixed screens ---------------------------------------------------------------------

    def fixed_screens(self) -> None:
        """Greeting, help, interview questions, hints and problems render in every locale."""
        interview = self.content.interview
        where = (self.content.root / "locales", 1)
        # Countdowns read differently before and after the deadline: both, whatever DEADLINE.
        deadlines = (
            self.deadline,
            SAMPLE_NOW + timedelta(days=45),
            SAMPLE_NOW - timedelta(days=1),
        )
        sample = self.combos()[0][1]
        sample_plan = Progress(tuple(select(self.content.steps, sample)), {})
        for lang in self.content.locales:
            for returning, resuming, deadline in itertools.product(
                (False, True), (False, True), deadlines
            ):
                self.screen(
                    lambda lang=lang, r=returning, s=resuming, d=deadline: self.views.start(
                        lang,
                        first_name="<Ann & Co>",
                        returning=r,
                        resuming=s,
                        progress=None,
                        now=SAMPLE_NOW,
                        deadline=d,
                    ),
                    where,
                    "start",
                )
            for deadline in deadlines:
                self.screen(
                    lambda lang=lang, d=deadline: self.views.plan(
                        lang, sample, sample_plan, SAMPLE_NOW, d
                    ),
                    where,
                    "plan",
                )
            for template, context in (
                ("help.html.j2", {}),
                ("error.html.j2", {}),
                ("privacy.html.j2", {"retention_days": None}),
                ("privacy.html.j2", {"retention_days": 90}),
                ("delete_cancelled.html.j2", {}),
                ("stats.html.j2", {"figures": dict.fromkeys(STATS_FIGURES, 12345)}),
                (
                    "console_link.html.j2",
                    {"url": "https://bot.example.com/console/login?t=" + "x" * 120, "minutes": 10},
                ),
                ("console_link.html.j2", {"url": None, "minutes": 10}),
                (
                    "deleted.html.j2",
                    {"counts": {"merchant": 1, "step_progress": 9, "outbox": 4, "event": 99}},
                ),
            ):
                self.screen(
                    lambda lang=lang, t=template, c=context: self.views.simple(lang, t, **c),
                    where,
                    template,
                )
            self.screen(lambda lang=lang: self.views.delete_question(lang), where, "delete")
            state = begin(interview, {})
            for qid, question in interview.questions.items():
                path = tuple(q for q in interview.questions if q != qid)[:3]
                s = State(answers={}, path=path, current=qid)
                self.screen(
                    lambda lang=lang, s=s: self.views.question(lang, s), where, f"question {qid}"
                )
                self.screen(
                    lambda lang=lang, s=s: self.views.hint(lang, s), where, f"hint for {qid}"
                )
                if question.kind in ("text", "date"):
                    for key, values in (
                        ("empty", {}),
                        ("too_long", {"max": 60}),
                        ("pattern", {}),
                        ("date_unclear", {}),
                        ("date_past", {"date": "2020-01-01"}),
                        ("date_impossible", {"typed": "31.02.2027", "date": date(2027, 2, 28)}),
                        ("date_far", {"date": "2040-01-01"}),
                        ("unknown_options", {"names": ["Narnia <b>", "🇹🇭"]}),
                        (
                            "date_ambiguous",
                            {
                                "typed": "01/02/2027",
                                "day_first": date(2027, 2, 1),
                                "month_first": date(2027, 1, 2),
                            },
                        ),
                    ):
                        self.screen(
                            lambda lang=lang, s=s, k=key, v=values: self.views.question(
                                lang, s, problem=self.views.problem(lang, k, v)
                            ),
                            where,
                            f"problem {key}",
                        )
            self.screen(
                lambda lang=lang, state=state: self.views.hint(lang, state, media=True),
                where,
                "media hint",
            )
            self.screen(lambda lang=lang: self.views.hint(lang, None), where, "plain hint")
            for edited_in in (state, None):
                self.screen(
                    lambda lang=lang, s=edited_in: self.views.hint(lang, s, edited=True),
                    where,
                    "edited message",
                )
        self.alert_screens()
        self.language_screens()

    def _in_string(self, origin: str, message: str) -> tuple[Path, int, str]:
        """A problem in the template of the string ``string:<lang>:<key>``: at the string's
        file and line, naming the key, and for an unknown variable the ones English uses."""
        _, lang, key = origin.split(":", 2)
        path, line = self._string_at(lang, key)
        message = f"{key}: {message}"
        if "UndefinedError" in message:
            try:
                english = str(self.content.string(DEFAULT_LOCALE, key))
                names = sorted(meta.find_undeclared_variables(self.renderer.env.parse(english)))
            except (KeyError, TemplateError):
                names = []
            if names:
                uses = ", ".join("{{ " + name + " }}" for name in names)
                message += f"; this text can use what the English one uses: {uses}"
        return path, line, message

    def _fact_hint(self, path: Path, line: int) -> str:
        """For a template line citing a fact ``facts.yaml`` does not have: which one, and
        the nearest one it does have ("" when the line cites none)."""
        try:
            source = path.read_text(encoding="utf-8").splitlines()[line - 1]
        except (OSError, IndexError, UnicodeDecodeError):
            return ""
        known = self.content.fact_info
        for cited in re.findall(r"\bfacts((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", source):
            name = cited.lstrip(".")
            if name in known or any(k.startswith(f"{name}.") for k in known):
                continue
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
            meant = f": did you mean facts.{close[0]}?" if close else ""
            return f"; there is no facts.{name} in facts.yaml{meant}"
        return ""

    def _missing_string(self, exc: BaseException) -> bool:
        """Report a string the bot reads that English lacks, once, where to add it (the
        nearest existing parent key in the English strings); False for other errors."""
        if not isinstance(exc, KeyError) or not exc.args or not isinstance(exc.args[0], str):
            return False
        key = exc.args[0]
        english = self.content.locales[DEFAULT_LOCALE]
        if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)+", key):
            return False
        try:
            english.lookup(key)
        except KeyError:
            pass
        else:
            return False
        parts = key.split(".")
        for depth in range(len(parts) - 1, 0, -1):
            parent = ".".join(parts[:depth])
            children = [at for k, at in english.key_lines.items() if k.startswith(f"{parent}.")]
            if children:
                path, first = min(children, key=lambda at: at[1])
                self.report(
                    path,
                    first - 1,  # the parent's own line, just above its first string
                    f"missing string {key}: add it under `{parent}` (the bot uses it;"
                    " other languages fall back to English)",
                )
                return True
        strings = self.content.root / "locales" / DEFAULT_LOCALE / "strings.yaml"
        self.report(
            strings,
            1,
            f"missing string {key}: add it (the bot uses it; other languages fall back to"
            " English)",
        )
        return True

    def _string_at(self, lang: str, key: str) -> tuple[Path, int]:
        """The file and line of the string a language reads for ``key`` (its own, or the
        English it falls back to)."""
        for code in (self.content.locale(lang).code, DEFAULT_LOCALE):
            found = self.content.locales[code].key_lines.get(key)
            if found is not None:
                return found
        return self.content.root / "locales" / lang, 1

    def language_screens(self) -> None:
        """/language in every locale: each language's own name (a plain button label), the
        picker and its messages render as valid Telegram HTML within the limits, reported
        at the string's file and line."""
        for code in self.content.shipped:
            name = self.views.native_name(code)
            path, line = self.content.locales[code].key_lines.get(
                "language_name", (self.content.root / "locales" / code, 1)
            )
            problem = None
            if _MARKUP.search(name):
                problem = "is a button label, plain text: no HTML, {{ }} or {% %}"
            elif len(name) > MAX_LANGUAGE_NAME:
                problem = f"is {len(name)} characters, over {MAX_LANGUAGE_NAME} for a button"
            if problem is not None:
                self.report(path, line, f"language_name {name!r} {problem}")
        for lang in self.content.locales:
            current = self.views.native_name(self.content.locale(lang).code)
            for key, context in (
                ("language.choose", {}),
                ("language.current", {"name": current}),
                ("language.switched", {}),
                ("language.unknown", {}),
                ("language.stale_note", {}),
            ):
                where = self._string_at(lang, key)
                self.screen(
                    lambda lang=lang, k=key, c=context: Screen(self.views.r.text(lang, k, **c)),
                    where,
                    f"/language {key}",
                    source=str(self.content.string(lang, key)),
                )
            self.screen(
                lambda lang=lang: self.views.language_picker(lang),
                self._string_at(lang, "language.choose"),
                "/language picker",
            )

    def alert_screens(self) -> None:
        """Every reminder screen renders and fits, in every locale, with sample data."""
        screens = AlertScreens(self.views)
        where = (self.content.root / "locales", 1)
        offsets = parse_offsets("30d,7d,1d,0d")
        local = SAMPLE_NOW + timedelta(days=3)
        scheduled = (
            Scheduled("deadline", "7d", False, local),
            Scheduled("golive", "1d", True, local),
            Scheduled("nudge", "", False, local),
        )
        progress = Progress(tuple(self.content.steps[:3]), {})
        done = Progress(
            tuple(self.content.steps[:2]),
            {s.id: Mark("done", s.version) for s in self.content.steps[:2]},
        )
        for lang in self.content.locales:
            # Go-live dates with every go-live sentence: reminders ahead, only the day
            # itself, none left (today), passed.
            today = SAMPLE_NOW.date()
            go_lives: tuple[tuple[date | None, tuple[timedelta, ...]], ...] = (
                (None, ()),
                (today + timedelta(days=40), offsets),
                (today + timedelta(days=1), (timedelta(0),)),
                (today, ()),
                (today - timedelta(days=3), ()),
            )
            for on, quiet, (go_live, ahead), deadline in itertools.product(
                (True, False),
                (QuietHours(21, 8), None),
                go_lives,
                (SAMPLE_NOW + timedelta(days=10), SAMPLE_NOW - timedelta(days=1000)),
            ):
                view = SettingsView(
                    on=on,
                    tz="America/Los_Angeles",
                    hour=9 if on else None,
                    quiet=quiet,
                    nudge_on=on,
                    nudge_days=7,
                    go_live=go_live,
                    deadline=deadline,
                    now=SAMPLE_NOW,
                    offsets=offsets,
                    scheduled=scheduled if on else (),
                    golive_ahead=ahead,
                    in_interview=not on and go_live is None,  # /alerts before the plan
                )
                self.screen(
                    lambda lang=lang, view=view: screens.settings(lang, view, notice="Saved."),
                    where,
                    "reminder settings",
                )
            for problem in (None, "Narnia <b>"):
                self.screen(
                    lambda lang=lang, p=problem: screens.zone_prompt(lang, "UTC", problem=p),
                    where,
                    "time zone prompt",
                )
            self.screen(lambda lang=lang: screens.zones(lang, "Europe/Berlin"), where, "zones")
            for hour in (None, 9):
                self.screen(lambda lang=lang, h=hour: screens.hours(lang, h, "UTC"), where, "hour")
            for quiet in (None, QuietHours(22, 7)):
                self.screen(
                    lambda lang=lang, q=quiet: screens.quiet_hours(lang, q, "UTC"),
                    where,
                    "quiet hours",
                )
            self.screen(lambda lang=lang: screens.resume(lang), where, "reminders resume")
            everything = tuple(
                ChangedStep(s.id, self.content.step_text(lang, s.id).title, i % 2 == 0, i % 3 == 0)
                for i, s in enumerate(self.content.steps)
            )
            for changed in (everything[:1], everything):
                view_changed = PlanChangedView(steps=changed, shop_name=TRICKY_SHOP_NAME)
                self.screen(
                    lambda lang=lang, v=view_changed: screens.plan_changed(lang, v),
                    where,
                    "plan changed notice",
                )
            lefts = (("today", 0), ("tomorrow", 1), ("in_hours", 5), ("in_days", 12))
            for kind, left, prog, step in itertools.product(
                ("deadline", "golive", "nudge"), lefts, (progress, done), (True, False)
            ):
                reminder = ReminderView(
                    kind=kind,
                    left=left,
                    when=SAMPLE_NOW.date(),
                    progress=prog,
                    step_title="A step title that is rather long, as some are" if step else None,
                    step_minutes=45 if step else None,
                    shop_name=TRICKY_SHOP_NAME,
                    row_id=2**31 - 1,
                )
                self.screen(
                    lambda lang=lang, view=reminder: screens.reminder(lang, view),
                    where,
                    f"{kind} reminder",
                )

    def broadcast_templates(self) -> None:
        """Every operator broadcast template (``templates/broadcasts/*.html.j2``) renders, as
        valid Telegram HTML under the limit, in every locale, for each kind of merchant."""
        folder = self.content.root / "locales" / "en" / "templates" / "broadcasts"
        names = sorted(p.name for p in folder.glob("*.html.j2"))
        samples = [
            {
                "shop_name": TRICKY_SHOP_NAME,
                "done": 3,
                "total": 14,
                "finished": False,
                "next_step": "A step title that is rather long, as some are",
            },
            {"shop_name": None, "done": 0, "total": 0, "finished": False, "next_step": None},
            {"shop_name": None, "done": 14, "total": 14, "finished": True, "next_step": None},
        ]
        for lang in self.content.locales:
            for name in names:
                for sample in samples:
                    self.screen(
                        lambda lang=lang, name=name, sample=sample: Screen(
                            self.renderer.render(lang, f"broadcasts/{name}", **sample)
                        ),
                        (folder / name, 1),
                        f"broadcast template {name}",
                    )

    # --- coverage ----------------------------------------------------------------------------

    def coverage(self) -> list[CoverageRow]:
        """For each platform x market: the steps a typical merchant gets, by kind."""
        interview = self.content.interview
        rows: list[CoverageRow] = []
        grouped: dict[tuple[str, str], list[int]] = {}
        for combo, _, mask in self.combos():
            markets = combo.get("market")
            if isinstance(markets, list) and len(markets) == 1:
                grouped.setdefault((str(combo.get("platform")), markets[0]), []).append(mask)
        for platform in interview.question("platform").options:
            for market in interview.question("market").options:
                platform_steps: set[str] = set()
                market_steps: set[str] = set()
                totals = []
                setup = False
                for mask in grouped.get((platform, market), []):
                    plan = [s for i, s in enumerate(self.selector.steps) if mask >> i & 1]
                    totals.append(len(plan))
                    setup = setup or any(SETUP_TAG in s.tags for s in plan)
                    platform_steps.update(s.id for s in plan if s.scope == "platform")
                    market_steps.update(s.id for s in plan if s.scope == "market")
                rows.append(
                    CoverageRow(
                        platform,
                        market,
                        min(totals) if totals else 0,
                        tuple(sorted(platform_steps)),
                        tuple(sorted(market_steps)),
                        setup,
                    )
                )
        return rows

    def coverage_rule(self) -> None:
        """Every platform x market pair gets a platform step and a market step on every path."""
        missing: dict[tuple[str, str], set[str]] = {}
        for combo, _, mask in self.combos():
            markets = combo.get("market")
            if not isinstance(markets, list) or len(markets) != 1:
                continue
            pair = (str(combo.get("platform")), markets[0])
            plan = [s for i, s in enumerate(self.selector.steps) if mask >> i & 1]
            if not any(SETUP_TAG in s.tags for s in plan):
                continue  # not being set up there (already selling, blocked, no Shop there)
            kinds: set[str] = {s.scope for s in plan}
            for kind in ("platform", "market"):
                if kind not in kinds:
                    missing.setdefault(pair, set()).add(kind)
        for (platform, market), absent in sorted(missing.items()):
            self.report(
                self.content.root / "guidance",
                0,
                f"coverage: platform={platform} market={market} has a plan without a "
                + " or ".join(sorted(f"{k}-specific" for k in absent))
                + " step on some interview path",
            )

    def market_literals(self) -> None:
        """Guidance never spells out a market in template code.

        Whether TikTok Shop exists for the merchant comes from facts.yaml (``shop_markets``),
        so a string naming a market without TikTok Shop (``'elsewhere'``) is refused: adding
        a market to interview.yaml and facts.yaml must never leave it "not available". Market
        names inside ``{{ }}`` / ``{% %}`` (an id-to-name table) are refused too: they go
        stale when a market is added; names come from ``market_names[id]`` or ``markets``.
        Plain text about one market ("In Germany ...") and tests for one market id
        (``'de' in answers.market``) are fine.
        """
        question = self.content.interview.questions.get("market")
        if question is None:
            return
        no_shop = set(question.options) - set(self.content.shop_markets)
        names: set[str] = set()
        for code in self.content.locales:
            names.update(self.views.market_names(code).values())
        names -= {self.views.market_names(None)[m] for m in no_shop}
        env = self.renderer.env
        named: set[tuple[Path, int]] = set()
        for locale in self.content.locales.values():
            for step_id, text in locale.steps.items():
                for source, first in (
                    (text.body, text.body_line),
                    (text.details, text.details_line),
                ):
                    if not source:
                        continue
                    try:
                        tree = env.parse(source)
                    except TemplateSyntaxError:
                        continue
                    for const in tree.find_all(nodes.Const):
                        value = const.value
                        if not isinstance(value, str):
                            continue
                        line = first + (const.lineno or 1) - 1
                        if value in no_shop:
                            self.report(
                                text.path,
                                line,
                                f"{step_id}: {value!r} is a market without TikTok Shop, written"
                                " into the template: test `shop_markets` (the merchant's markets"
                                " with a `markets.<id>` entry in facts.yaml) instead, so a market"
                                " added later is not told TikTok Shop is unavailable",
                            )
                        found = next((n for n in sorted(names) if n in value), None)
                        if found is not None and (text.path, line) not in named:
                            named.add((text.path, line))  # once per line, not per name
                            self.report(
                                text.path,
                                line,
                                f"{step_id}: a market name ({found!r}) is written into template"
                                " code: use `market_names[id]` (or `markets`), which follow"
                                " interview.yaml and strings.yaml",
                            )

    # --- answer classes and contradictions ------------------------------------------------

    def answer_classes(self) -> dict[int, dict[str, Answer]]:
        """Every distinct plan the conditions can make: plan mask -> one answer set giving it.

        Walks the interview along its branches with every option of one-answer questions
        and, for several-answer ones, every combination (or, for long lists, each option,
        each pair and all together). Answer sets that leave the same steps possible and the
        same branches ahead are one class, so the walk stays small.
        """
        if self._classes is not None:
            return self._classes
        interview = self.content.interview
        selector = self.selector
        route_keys = sorted(
            {k for q in interview.questions.values() for r in q.routes for k in r.keys}
        )
        asked: set[str] = set()
        found: dict[int, dict[str, Answer]] = {}
        # (question, partial state, answers that steer the route) -> representative answers
        layer: dict[tuple[Any, ...], dict[str, Answer]] = {
            (interview.start, selector.start(), ()): {}
        }
        while layer:
            following: dict[tuple[Any, ...], dict[str, Answer]] = {}
            for (qid, partial, _), answers in layer.items():
                if qid is None:
                    for key in selector.keys:
                        if key not in answers:
                            partial = selector.advance(partial, key, None)
                    found.setdefault(selector.finish(partial), answers)
                    continue
                asked.add(qid)
                question = interview.question(qid)
                for value in self._class_values(question.id):
                    nxt = dict(answers)
                    nxt[qid] = value
                    state = (
                        selector.advance(partial, qid, value) if question.is_choice else partial
                    )
                    goto = route(interview, qid, nxt)
                    steer = tuple(str(nxt.get(k)) for k in route_keys)
                    following.setdefault((goto, state, steer), nxt)
            layer = following
        self._classes = found
        return found

    def _class_values(self, qid: str) -> list[Answer]:
        question = self.content.interview.question(qid)
        if question.kind == "one":
            return list(question.options)
        if question.kind == "many":
            options = list(question.options)
            pairs = (
                [list(c) for c in itertools.combinations(options, 2)]
                if len(options) >= PAIRS_FROM
                else []
            )
            return [*([o] for o in options), *pairs, options]
        if question.kind == "date":
            return [(SAMPLE_NOW.date() + timedelta(days=30)).isoformat(), None]
        return [TRICKY_SHOP_NAME[: question.max_length], None]

    def contradictions(self) -> None:
        """No plan the conditions can make is empty or holds two steps one declares in
        ``conflicts`` (e.g. a register step in an already-selling merchant's plan)."""
        steps = self.selector.steps
        reported: set[tuple[str, str]] = set()
        declared: list[tuple[int, int]] = []
        for index, step in enumerate(steps):
            if step.conflicts:
                names = set(step.conflicts)
                others = sum(1 << i for i, s in enumerate(steps) if s.names & names)
                declared.append((1 << index, others))
        for mask, answers in self.answer_classes().items():
            if mask and not any(mask & bit and mask & others for bit, others in declared):
                continue
            plan = [s for i, s in enumerate(steps) if mask >> i & 1]
            if not plan:
                self.report(
                    self.content.root / "interview.yaml",
                    1,
                    f"empty plan for: {self._summary(answers, full=True)}",
                )
                continue
            for declaring, other in conflicts_in(plan):
                if (declaring, other) in reported:
                    continue
                reported.add((declaring, other))
                text = self.content.step_text(None, declaring)
                self.report(
                    text.path,
                    1,
                    f"conflicts: {declaring} and {other} are both in the plan for: "
                    + self._summary(answers, full=True),
                )

    def reasons(self) -> None:
        """Every reason sentence a step can show renders, in every locale: each answer its
        conditions name, alone, in pairs and all together, with every platform."""
        interview = self.content.interview
        platforms: list[Answer] = list(interview.question("platform").options)
        for step in self.content.steps:
            conditions = {**step.when, **step.only}
            choices: list[list[tuple[str, list[str]]]] = []
            for key, allowed in conditions.items():
                values = sorted(allowed)
                subsets = [[v] for v in values]
                if interview.question(key).kind == "many" and len(values) > 1:
                    subsets += [list(c) for c in itertools.combinations(values, 2)]
                    subsets.append(values)
                choices.append([(key, v) for v in subsets])
            for combo in itertools.product(*choices):
                hits = dict(combo)
                for platform in platforms if "market" in hits else [None]:
                    answers: dict[str, Answer] = {**hits}
                    for key, values in hits.items():
                        if interview.question(key).kind == "one":
                            answers[key] = values[0]
                    if platform is not None and "platform" not in hits:
                        answers["platform"] = platform
                    for lang in self.content.locales:
                        try:
                            self.views.reason(lang, step, answers)
                        except (TemplateError, KeyError, AttributeError, TypeError) as exc:
                            text = self.content.step_text(lang, step.id)
                            self.report(
                                *_location(exc, (text.path, 1)),
                                f"reason for {step.id}: {type(exc).__name__}: {exc}",
                            )

    def platform_mentions(self) -> None:
        """Platform steps never talk about a platform the merchant does not use: for every
        answer class, every ``scope: platform`` step of its plan is rendered (body and
        details, every locale; up to PLATFORM_VARIANTS answer variants per step and
        platform) for that class's platform, and no other platform's name (its option
        label) may appear in it, unless the step lists that platform in ``mentions`` (a
        neutral mention)."""
        interview = self.content.interview
        if "platform" not in interview.questions:
            return
        options = interview.question("platform").options
        names: dict[str, re.Pattern[str]] = {}
        for option in options:
            for locale in self.content.locales:
                label = self.content.string(locale, f"questions.platform.options.{option}")
                if isinstance(label, str) and label.strip():
                    names.setdefault(
                        option, re.compile(rf"(?<!\w){re.escape(label.strip())}(?!\w)")
                    )
        for step in self.content.steps:
            for unknown in sorted(step.mentions - set(options)):
                self.report(
                    self.content.step_text(None, step.id).path,
                    1,
                    f"mentions: {unknown!r} is not a platform option"
                    f" (one of {', '.join(options)})",
                )
        steps = self.selector.steps
        platform_steps = [i for i, s in enumerate(steps) if s.scope == "platform"]
        any_platform_step = sum(1 << i for i in platform_steps)
        seen: set[tuple[Any, ...]] = set()
        variants: dict[tuple[str, str], int] = {}
        referenced = {s.id: sorted(self._referenced_keys(s.id)) for s in steps}
        for mask, raw in self.answer_classes().items():
            platform = raw.get("platform")
            if not isinstance(platform, str) or not mask & any_platform_step:
                continue
            others = {o: n for o, n in names.items() if o != platform}
            todo: list[Step] = []
            for index in platform_steps:
                step = steps[index]
                if not mask >> index & 1 or variants.get((step.id, platform), 0) >= (
                    PLATFORM_VARIANTS
                ):
                    continue
                marker = (step.id, platform, tuple(str(raw.get(k)) for k in referenced[step.id]))
                if marker in seen:
                    continue
                seen.add(marker)
                variants[(step.id, platform)] = variants.get((step.id, platform), 0) + 1
                todo.append(step)
            if not todo:
                continue
            answers = effective_answers(interview, raw)
            plan = [s for i, s in enumerate(steps) if mask >> i & 1]
            progress = Progress(tuple(plan), {})
            for step in todo:
                allowed = {o: n for o, n in others.items() if o not in step.mentions}
                for lang in self.content.locales:
                    self._mentions_in(lang, step, answers, progress, platform, allowed)

    def _mentions_in(
        self,
        lang: str,
        step: Step,
        answers: dict[str, Answer],
        progress: Progress,
        platform: str,
        names: Mapping[str, re.Pattern[str]],
    ) -> None:
        try:
            shown = self.views.step(
                lang, step, answers, progress, SAMPLE_NOW, self.deadline, intro=True
            ).text
            shown += (
                "\n"
                + self.views.details(
                    lang, step, answers, now=SAMPLE_NOW, deadline=self.deadline, today=FAR_FUTURE
                ).text
            )
        except (TemplateError, KeyError, AttributeError, TypeError, ValueError):
            return  # reported by plans()
        text = self.content.step_text(lang, step.id)
        for option, pattern in names.items():
            found = pattern.search(shown)
            if found is None:
                continue
            name = found.group(0)
            path, line = text.path, 1
            for source, first in ((text.body, text.body_line), (text.details, text.details_line)):
                hit = pattern.search(source) if source else None
                if hit is not None:
                    line = first + source.count("\n", 0, hit.start())
                    break
            else:
                lines = path.read_text(encoding="utf-8").splitlines()
                line = next((i for i, t in enumerate(lines, 1) if pattern.search(t)), 1)
            self.report(
                path,
                line,
                f"step {step.id} names {name} to a merchant on {platform}: show it only to"
                f" {option} merchants (a `when` condition, or an `if` in the text), or add"
                f" `mentions: [{option}]` to the front matter if the mention is neutral",
            )

    def run(self) -> list[Problem]:
        """Every check."""
        self.compile_all()
        self.market_literals()
        if self.problems:
            return self.problems
        self.fixed_screens()
        self.broadcast_templates()
        self.plans()  # with jobs > 1, the other languages go on in a child process,
        if self._pending is None:  # and the contradictions after them (the two halves
            self.contradictions()  # then take about as long as each other)
        self.reasons()
        self.platform_mentions()
        self.coverage_rule()
        self._join()
        self.compile_strings()
        return self.problems


@cache
def _code_hash() -> str:
    """A hash of the code that decides what passes the check (checker, renderer, screens)."""
    here = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in ("content", "views", "domain", "alerts"):
        for path in sorted((here / folder).glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    """Where passing checks are remembered (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "storefront-migration-bot"


def _passed_marker(content: Content) -> Path:
    key = hashlib.sha256(f"{content.hash}|{_code_hash()}".encode()).hexdigest()[:16]
    return cache_dir() / f"content-check-ok-{key}"


def remember_pass(content: Content) -> None:
    """Note that this content (checked by this code) passed.

    The deadline is not part of the key: it only changes the numbers in countdowns, and
    the check renders the countdown screens with a deadline ahead and one past anyway.
    """
    marker = _passed_marker(content)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{content.hash}\n", encoding="utf-8")
    except OSError:  # a read-only home only costs the next start the full check
        pass


@contextlib.contextmanager
def _batch_collection() -> Iterator[None]:
    """While the check runs, collect young objects less often.

    The walk makes millions of short-lived objects while its memo tables grow large; with
    the default thresholds the collector's older generations rescan those tables again and
    again (a quarter of the check's CPU, more when forked: measured in benchmarks/README).
    The thresholds come back afterwards, so a bot that checked its content at start-up
    runs with the defaults.
    """
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def load_checked(content_dir: Path, deadline: datetime | None = None) -> Content:
    """Load the tree for start-up and refuse anything ``content check`` would reject.

    The full check walks every interview path (seconds); a pass is remembered by the tree's
    hash and the checking code's hash, so a start with content that already
    passed (e.g. in CI, or at the previous start) only loads it. Raises ContentError naming
    each file and line.
    """
    content = load_content(content_dir)
    if _passed_marker(content).exists():
        return content
    with _batch_collection():
        problems = Checker(content, deadline=deadline).run()
    if problems:
        raise ContentError(problems)
    remember_pass(content)
    return content


def check(
    content_dir: Path, deadline: datetime | None = None, *, jobs: int = 1
) -> tuple[Content | None, list[Problem]]:
    """Load and check a content tree: (the content if it loaded, every problem).

    ``jobs`` > 1 lets the per-language walk run in forked processes (the command line
    does; start-up, inside a running application with threads, does not)."""
    try:
        content = load_content(content_dir)
    except ContentError as exc:
        return None, exc.problems
    with _batch_collection():
        problems = Checker(content, deadline=deadline, jobs=jobs).run()
    if not problems:
        remember_pass(content)
    return content, problems
