"""The content check renders nothing twice (bot.content.memo), yet still finds a problem that
only one answer class shows: a memo keyed by too little would hide it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, StrictUndefined

from bot.content.check import check
from bot.content.memo import TraceMemo, freeze, split_context
from bot.domain.plan import Mark, Progress, Step
from tests.test_content import VALID_FRONT, write_step

ENV = Environment(undefined=StrictUndefined, autoescape=True)


def renderer(source: str, memo: TraceMemo, calls: list[dict[str, Any]]) -> Any:
    template = ENV.from_string(source)

    def render(**context: Any) -> str:
        def run(ctx: dict[str, Any]) -> str:
            calls.append(ctx)
            return template.render(**ctx)

        static = (source, split_context(context))
        return memo.render(source, static, context, run)

    return render


def test_a_render_is_reused_only_when_every_answer_it_read_is_the_same() -> None:
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer(
        "{% if answers.shop_status == 'selling' %}{{ answers.market|join(',') }}{% endif %}.",
        memo,
        calls,
    )
    approved = {"shop_status": "approved", "market": ["de"], "platform": "wix"}
    assert render(answers=approved) == "."
    # Another market and platform: the first render read only the status, so it is reused.
    assert render(answers={**approved, "market": ["uk"], "platform": "square"}) == "."
    assert len(calls) == 1
    # Selling takes the other branch: rendered again, and its reads (status and market) key it.
    selling = {**approved, "shop_status": "selling"}
    assert render(answers=selling) == "de."
    assert render(answers={**selling, "market": ["de", "fr"]}) == "de,fr."
    assert render(answers={**selling, "platform": "square"}) == "de."
    assert len(calls) == 3


def test_other_inputs_are_part_of_the_key_with_their_type() -> None:
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer("{{ n }} {{ answers.get('x') }}", memo, calls)
    assert render(n=1, answers={}) == "1 None"
    assert render(n=True, answers={}) == "True None"  # 1 == True, but renders differently
    assert render(n=1, answers={"x": None}) == "1 None"  # missing and None read apart
    assert render(n=1, answers={"y": 2}) == "1 None"  # an answer never read: reused
    assert len(calls) == 3


def test_equal_values_that_print_differently_are_kept_apart() -> None:
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer("{{ v }}", memo, calls)
    assert render(v=0.0) == "0.0"
    assert render(v=-0.0) == "-0.0"
    utc = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert render(v=utc) == "2026-12-01 12:00:00+00:00"
    assert render(v=utc.astimezone(timezone(timedelta(hours=1)))) == "2026-12-01 13:00:00+01:00"
    assert len(calls) == 4


def test_iterating_the_answers_depends_on_all_of_them() -> None:
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer("{{ answers|length }}", memo, calls)
    assert render(answers={"a": "x"}) == "1"
    assert render(answers={"a": "x", "b": "y"}) == "2"
    assert render(answers={"a": "z"}) == "1"
    assert len(calls) == 3


def test_progress_is_keyed_by_what_the_template_reads_of_it() -> None:
    steps = tuple(Step(id=f"s{i}", version=1, title="t", scope="general") for i in range(3))
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer("{{ progress.done }} of {{ progress.total }}", memo, calls)
    none_done = Progress(steps, {})
    one_done = Progress(steps, {"s0": Mark("done", 1)})
    other_done = Progress(steps, {"s2": Mark("done", 1)})
    assert render(progress=none_done) == "0 of 3"
    assert render(progress=one_done) == "1 of 3"
    assert render(progress=other_done) == "1 of 3"
    assert len(calls) == 2
    assert freeze(one_done) != freeze(other_done)


def test_a_render_that_fails_is_not_remembered_and_fails_as_without_the_memo() -> None:
    memo, calls = TraceMemo(), list[dict[str, Any]]()
    render = renderer("{{ answers.missing }}", memo, calls)
    for _ in range(2):
        with pytest.raises(Exception, match="'dict object' has no attribute 'missing'"):
            render(answers={"a": "x"})


#: A general step whose body is bad only for merchants selling on Square (HTML left open when
#: they sell in Germany, too long whatever their markets). Every other class renders it the
#: same; the first of those renders read only the platform (or the status).
ONE_CLASS = """{% if answers.platform == 'square' and answers.shop_status == 'selling' %}
{% if 'de' in answers.market %}<b>Selling in Germany{% endif %}
{{ 'Long. ' * 800 }}
{% endif %}Shown to everyone.
"""

#: A step only Square merchants already selling get: it makes them a plan of their own, so
#: the walk renders the general step above for them.
SPLIT = (
    VALID_FRONT.format(id="square-selling")
    + "when:\n  platform: [square]\n  shop_status: [selling]\n"
)


def one_class_tree(root: Path) -> Path:
    path = write_step(root, "one-class", VALID_FRONT.format(id="one-class"), body=ONE_CLASS)
    write_step(root, "square-selling", SPLIT)
    return path


@pytest.mark.slow
def test_a_problem_in_one_answer_class_only_is_still_found(small_tree: Path) -> None:
    """A memo keyed by too little (not by the platform, status and market this body reads)
    would reuse the harmless render and pass."""
    path = one_class_tree(small_tree)
    _, problems = check(small_tree)
    found = [str(p) for p in problems]
    assert any(
        p.startswith(f"{path}:") and "Telegram would reject the HTML: <b> is never closed" in p
        for p in found
    ), found
    assert any(
        p.startswith(f"{path}:") and "step one-class:" in p and "over Telegram's 4096" in p
        for p in found
    ), found


@pytest.mark.slow
def test_the_split_by_language_reports_what_one_process_reports(small_tree: Path) -> None:
    one_class_tree(small_tree)
    # A contradiction too: with jobs=2 the child process proves those (after its languages).
    write_step(
        small_tree, "register-x", VALID_FRONT.format(id="register-x") + "tags: [register]\n"
    )
    write_step(
        small_tree,
        "grow-x",
        VALID_FRONT.format(id="grow-x")
        + "when:\n  shop_status: [selling]\nconflicts: [register]\n",
    )
    one = [str(p) for p in check(small_tree)[1]]
    two = [str(p) for p in check(small_tree, jobs=2)[1]]
    assert any("conflicts: grow-x and register-x" in p for p in one), one
    assert one == two
