"""The check's path walk computes effective answers and plan masks as it goes: the same list
as re-deriving both for every path from the start (what the check did before)."""

from __future__ import annotations

import pytest

from bot.content.check import Checker, answer_combinations, routes_look_ahead
from bot.content.loader import Content
from bot.domain.interview import Interview, Question, Route, effective_answers


@pytest.mark.slow
def test_the_walk_gives_the_same_paths_answers_and_plans(content: Content) -> None:
    checker = Checker(content)
    interview = content.interview
    assert not routes_look_ahead(interview)
    reference = [
        (combo, answers, checker.selector.mask(answers))
        for combo in answer_combinations(interview)
        for answers in (effective_answers(interview, combo),)
    ]
    assert checker.combos() == reference


def test_a_branch_on_a_later_answer_falls_back_to_the_full_walk() -> None:
    interview = Interview(
        version=1,
        start="a",
        questions={
            "a": Question("a", "one", ("x", "y"), (Route("b", {"b": frozenset({"z"})}),)),
            "b": Question("b", "one", ("z", "w"), (Route("end"),)),
        },
    )
    assert routes_look_ahead(interview)
