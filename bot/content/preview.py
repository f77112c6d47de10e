"""``content preview``: the plan a merchant with given answers would get, as screens.

Shared by the editors' command and the tests, so what an editor previews is what the tests
assert on and what the bot sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.content.loader import Content
from bot.domain.interview import Answer, Interview, effective_answers, route
from bot.domain.links import parse_answer_args
from bot.domain.plan import Progress, Step, select
from bot.views.model import Screen
from bot.views.screens import Views


@dataclass(frozen=True)
class Preview:
    """A previewed plan: the answers (given and assumed), the steps and every screen."""

    answers: dict[str, Answer]
    assumed: tuple[str, ...]  # questions the preview answered with their first option
    plan: tuple[Step, ...]
    profile: Screen
    overview: Screen
    steps: tuple[tuple[Screen, Screen], ...]  # (step, details) per step of the plan

    def screens(self) -> list[Screen]:
        """Every screen, in reading order."""
        return [self.overview, *(screen for pair in self.steps for screen in pair)]


def fill_defaults(
    interview: Interview, answers: dict[str, Answer]
) -> tuple[dict[str, Answer], tuple[str, ...]]:
    """Answer what was not said with each question's first option (on the path taken);
    return the answers and the questions so assumed."""
    filled = dict(answers)
    assumed: list[str] = []
    qid: str | None = interview.start
    while qid is not None:
        question = interview.question(qid)
        if qid not in filled:
            assumed.append(qid)
            if question.kind == "one":
                filled[qid] = question.options[0]
            elif question.kind == "many":
                filled[qid] = [question.options[0]]
            else:
                filled[qid] = None
        qid = route(interview, qid, filled)
    return filled, tuple(assumed)


def preview(
    content: Content,
    views: Views,
    items: Sequence[str],
    *,
    lang: str | None,
    now: datetime,
    deadline: datetime,
) -> Preview:
    """The plan for ``KEY=VALUE`` answers (ValueError names a bad one)."""
    given = parse_answer_args(content.interview, items)
    answers, assumed = fill_defaults(content.interview, given)
    effective = effective_answers(content.interview, answers)
    plan = tuple(select(content.steps, effective))
    progress = Progress(plan, {})
    return Preview(
        answers=answers,
        assumed=assumed,
        plan=plan,
        profile=views.profile(lang, answers),
        overview=views.plan(lang, effective, progress, now, deadline),
        steps=tuple(
            (
                views.step(lang, step, effective, progress, now, deadline),
                views.details(lang, step, effective, now=now, deadline=deadline, today=now.date()),
            )
            for step in plan
        ),
    )
