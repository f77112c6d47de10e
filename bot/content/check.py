"""``python -m bot content check|preview|coverage``: the editors' tools.

The check proves what the loader cannot see on its own: every template compiles and renders
with real view models, every interview path leads to a non-empty plan, every message fits
Telegram (4096 characters, HTML it accepts), and every platform x market pair gets a
platform-specific and a market-specific step.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError

from bot.botapi.tghtml import TelegramHTMLError, parse_html
from bot.content.loader import Content, ContentError, Problem, load_content
from bot.content.render import Renderer
from bot.domain.interview import Answer, Interview, State, begin, effective_answers, route
from bot.domain.plan import Mark, Progress, Selector, Step, select
from bot.views.model import Screen
from bot.views.screens import PLAN_PAGE_SIZE, Views

MAX_TEXT = 4096
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
STEP_VARIANTS = 60  # answer variants rendered per step (see plans())


@dataclass(frozen=True)
class CoverageRow:
    """Steps a platform x market pair gets."""

    platform: str
    market: str
    total: int
    platform_steps: tuple[str, ...]
    market_steps: tuple[str, ...]


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
        question = interview.question(qid)
        values: list[Answer]
        if question.kind == "one":
            values = list(question.options)
        elif question.kind == "many":
            values = [[o] for o in question.options]
            values.append(list(question.options))
        elif question.kind == "date":
            values = [(SAMPLE_NOW.date() + timedelta(days=30)).isoformat()]
        else:
            values = [TRICKY_SHOP_NAME[: question.max_length]]
        for value in values:
            nxt = dict(answers)
            nxt[qid] = value
            yield from walk(route(interview, qid, nxt), nxt)

    yield from walk(interview.start, {})


def _location(exc: BaseException, fallback: tuple[Path, int]) -> tuple[Path, int]:
    """The content file and line a template error points at."""
    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        return Path(exc.filename), exc.lineno or fallback[1]
    tb = exc.__traceback__
    found = fallback
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".md", ".j2", ".yaml")):
            found = (Path(filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


class Checker:
    """Runs every check over a loaded content tree."""

    def __init__(self, content: Content, *, deadline: datetime | None = None) -> None:
        self.content = content
        self.renderer = Renderer(content)
        self.views = Views(content, self.renderer)
        self.deadline = deadline or content.campaign.deadline
        self.problems: list[Problem] = []
        self._seen: set[tuple[str, int, str]] = set()
        options = {qid: q.options for qid, q in content.interview.questions.items() if q.is_choice}
        self.selector = Selector(content.steps, options)
        self._combos: list[tuple[dict[str, Answer], dict[str, Answer], int]] | None = None

    def report(self, path: Path, line: int, message: str) -> None:
        """Record a problem once."""
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

    def screen(self, screen_fn: Any, where: tuple[Path, int], what: str) -> Screen | None:
        """Render one screen; report undefined variables, bad HTML and excess length."""
        try:
            screen: Screen = screen_fn()
        except (TemplateError, KeyError, AttributeError, TypeError, ValueError) as exc:
            path, line = _location(exc, where)
            if path == where[0] and line != where[1] and path.suffix == ".md":
                line = where[1] + line - 1
            self.report(path, line, f"{what}: {type(exc).__name__}: {exc}")
            return None
        try:
            length = len(parse_html(screen.text).text)
        except TelegramHTMLError as exc:
            self.report(where[0], where[1], f"{what}: Telegram would reject the HTML: {exc}")
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
            result = []
            for combo in answer_combinations(interview):
                answers = effective_answers(interview, combo)
                result.append((combo, answers, self.selector.mask(answers)))
            self._combos = result
        return self._combos

    def plans(self) -> None:
        """Every interview path yields a plan; every screen of it renders and fits."""
        interview_file = self.content.root / "interview.yaml"
        steps = self.content.steps
        by_mask: dict[int, list[tuple[dict[str, Answer], dict[str, Answer]]]] = {}
        for combo, answers, mask in self.combos():
            if mask == 0:
                self.report(
                    interview_file, 1, f"empty plan for: {self._summary(combo, full=True)}"
                )
                continue
            group = by_mask.setdefault(mask, [])
            # Keep the first path and the one with the most ticks (longest reasons).
            if len(group) < 2:
                group.append((combo, answers))
            elif self._ticks(answers) > self._ticks(group[1][1]):
                group[1] = (combo, answers)
        referenced = {s.id: self._referenced_keys(s.id) for s in steps}
        rendered_steps: set[tuple[Any, ...]] = set()
        rendered_pages: set[tuple[Any, ...]] = set()
        variants: dict[tuple[str, str], int] = {}
        for lang in self.content.locales:
            for group in by_mask.values():
                for combo, answers in group:
                    plan = select(steps, answers)
                    progress = Progress(tuple(plan), {})
                    done = Progress(tuple(plan), {s.id: Mark("done", s.version) for s in plan})
                    pages = self.views.plan_pages(progress)
                    for page in range(pages):
                        chunk = plan[page * PLAN_PAGE_SIZE : (page + 1) * PLAN_PAGE_SIZE]
                        marker = (
                            lang,
                            page,
                            pages,
                            len(plan),
                            tuple((s.id, self.views.reason(lang, s, answers)) for s in chunk),
                        )
                        if marker in rendered_pages:
                            continue
                        rendered_pages.add(marker)
                        for label, prog in (("plan", progress), ("finished plan", done)):
                            self.screen(
                                lambda lang=lang, prog=prog, answers=answers, page=page: (
                                    self.views.plan(
                                        lang, answers, prog, SAMPLE_NOW, self.deadline, page=page
                                    )
                                ),
                                (interview_file, 1),
                                f"{label} page {page + 1} for {self._summary(combo)}",
                            )
                    for step in plan:
                        projection = tuple(
                            (k, str(answers.get(k))) for k in sorted(referenced[step.id])
                        )
                        step_marker = (lang, step.id, projection, self._ticks(answers) > 2)
                        if step_marker in rendered_steps:
                            continue
                        # A body that reads many answers has thousands of variants; a sample
                        # of them (first seen, plus every longest-reason one) bounds the
                        # time while the property test in tests/ samples the rest.
                        count = variants.get((lang, step.id), 0)
                        if count >= STEP_VARIANTS and self._ticks(answers) <= 2:
                            continue
                        variants[(lang, step.id)] = count + 1
                        rendered_steps.add(step_marker)
                        self._render_step(lang, step, answers, progress)

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
        )
        self.screen(
            lambda lang=lang: self.views.details(lang, step, answers),
            (text.path, text.details_line),
            f"details of {step.id}",
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
    def _reason_key(plan: list[Step], answers: Mapping[str, Answer]) -> tuple[str, ...]:
        keys = sorted({k for s in plan for k in s.when})
        return tuple(f"{k}={answers.get(k)}" for k in keys)

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
        for lang in self.content.locales:
            for returning, resuming in itertools.product((False, True), repeat=2):
                self.screen(
                    lambda lang=lang, r=returning, s=resuming: self.views.start(
                        lang,
                        first_name="<Ann & Co>",
                        returning=r,
                        resuming=s,
                        progress=None,
                        now=SAMPLE_NOW,
                        deadline=self.deadline,
                    ),
                    where,
                    "start",
                )
            for template, context in (
                ("help.html.j2", {}),
                ("error.html.j2", {}),
                ("privacy.html.j2", {"retention_days": None}),
                ("privacy.html.j2", {"retention_days": 90}),
                ("delete_cancelled.html.j2", {}),
                ("stats.html.j2", {"figures": dict.fromkeys(STATS_FIGURES, 12345)}),
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
                        ("date_far", {"date": "2040-01-01"}),
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
                for mask in grouped.get((platform, market), []):
                    plan = [s for i, s in enumerate(self.selector.steps) if mask >> i & 1]
                    totals.append(len(plan))
                    platform_steps.update(s.id for s in plan if s.scope == "platform")
                    market_steps.update(s.id for s in plan if s.scope == "market")
                rows.append(
                    CoverageRow(
                        platform,
                        market,
                        min(totals) if totals else 0,
                        tuple(sorted(platform_steps)),
                        tuple(sorted(market_steps)),
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
            kinds: set[str] = {s.scope for i, s in enumerate(self.selector.steps) if mask >> i & 1}
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

    def run(self) -> list[Problem]:
        """Every check."""
        self.compile_all()
        if self.problems:
            return self.problems
        self.fixed_screens()
        self.plans()
        self.coverage_rule()
        return self.problems


def load_checked(content_dir: Path, deadline: datetime | None = None) -> Content:
    """Load the tree for start-up: structure, every template compiles, fixed screens render.

    The exhaustive walk over every interview path is for ``content check`` (editors, CI);
    start-up stays fast. Raises ContentError naming each file and line.
    """
    content = load_content(content_dir)
    checker = Checker(content, deadline=deadline)
    checker.compile_all()
    if not checker.problems:
        checker.fixed_screens()
    if checker.problems:
        raise ContentError(checker.problems)
    return content


def check(
    content_dir: Path, deadline: datetime | None = None
) -> tuple[Content | None, list[Problem]]:
    """Load and check a content tree: (the content if it loaded, every problem)."""
    try:
        content = load_content(content_dir)
    except ContentError as exc:
        return None, exc.problems
    return content, Checker(content, deadline=deadline).run()
