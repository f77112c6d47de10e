"""Property: for any answers, the plan is non-empty and every message Telegram would accept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.botapi.tghtml import parse_html
from bot.content.loader import Content, load_content
from bot.content.render import Renderer
from bot.domain.interview import Answer, effective_answers
from bot.domain.plan import Mark, Progress, Selector, applies, conflicts_in, select
from bot.views.model import Screen
from bot.views.screens import Views
from tests.conftest import REPO

CONTENT = load_content(REPO / "content")
VIEWS = Views(CONTENT, Renderer(CONTENT))
SELECTOR = Selector(
    CONTENT.steps,
    {qid: q.options for qid, q in CONTENT.interview.questions.items() if q.is_choice},
)
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def answers_strategy(content: Content) -> st.SearchStrategy[dict[str, Answer]]:
    fields: dict[str, st.SearchStrategy[Answer]] = {}
    for qid, question in content.interview.questions.items():
        if question.kind == "one":
            fields[qid] = st.sampled_from(question.options)
        elif question.kind == "many":
            fields[qid] = st.lists(st.sampled_from(question.options), min_size=1, unique=True)
        elif question.kind == "date":
            fields[qid] = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))
        else:
            fields[qid] = st.one_of(st.none(), st.text(min_size=1, max_size=question.max_length))
    return st.fixed_dictionaries(fields)


def fits(screen: Screen) -> None:
    parsed = parse_html(screen.text)  # raises on HTML Telegram would reject
    assert 0 < len(parsed.text) <= 4096
    for row in screen.keyboard:
        for button in row:
            assert button.data is None or len(button.data.encode()) <= 64
            assert len(button.text) <= 64, button.text


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=answers_strategy(CONTENT), done=st.integers(min_value=0, max_value=60))
def test_any_answers_make_a_plan_that_telegram_accepts(raw: dict[str, Answer], done: int) -> None:
    answers = effective_answers(CONTENT.interview, raw)
    plan = select(CONTENT.steps, answers)
    assert plan, raw
    # The content check's bit-mask fast path agrees with the plan selection.
    mask = SELECTOR.mask(answers)
    assert {s.id for i, s in enumerate(SELECTOR.steps) if mask >> i & 1} == {s.id for s in plan}
    # Order respects prerequisites of the same kind, and only applicable steps are chosen.
    seen: set[str] = set()
    for step in plan:
        assert applies(step, answers)
        same_kind = {s.id for s in plan if s.kind == step.kind}
        assert all(req in seen for req in step.requires if req in same_kind)
        seen.add(step.id)
    # No step contradicts another (front matter `conflicts`), blockers lead.
    assert conflicts_in(plan) == [], raw
    kinds = [s.kind for s in plan]
    assert kinds == sorted(kinds, key=["blocker", "step", "background"].index)
    marks = {s.id: Mark("done", s.version) for s in plan[:done]}
    progress = Progress(tuple(plan), marks)
    for page in range(VIEWS.plan_pages(progress)):
        fits(VIEWS.plan("en", answers, progress, NOW, CONTENT.campaign.deadline, page=page))
    for step in plan:
        fits(VIEWS.step("en", step, answers, progress, NOW, CONTENT.campaign.deadline, intro=True))
        fits(VIEWS.details("en", step, answers, now=NOW, deadline=CONTENT.campaign.deadline))
    fits(VIEWS.profile("en", raw))
