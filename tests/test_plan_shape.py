"""Issue 14: step kinds, tags, excludes, conflicts and `only` conditions (pure domain)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.interview import Answer
from bot.domain.plan import Mark, Progress, Selector, Step, applies, conflicts_in, select


def _step(sid: str, **kw: object) -> Step:
    return Step(id=sid, version=1, title=sid, scope="general", **kw)  # type: ignore[arg-type]


STEPS = (
    _step("history", kind="background"),
    _step("register", tags=frozenset({"setup"}), requires=("history",)),
    _step("ship", tags=frozenset({"setup"}), requires=("register",)),
    _step(
        "no-shop-here",
        kind="blocker",
        only={"market": frozenset({"elsewhere"})},
        excludes=("setup",),
    ),
    _step(
        "grow",
        when={"shop_status": frozenset({"selling"})},
        excludes=("setup",),
        conflicts=("setup",),
    ),
    _step("individual-xb", kind="blocker", when={"entity": frozenset({"individual"})}),
)
OPTIONS = {
    "market": ("us", "elsewhere"),
    "shop_status": ("not_started", "selling"),
    "entity": ("company", "individual"),
}


def ids(answers: Mapping[str, Answer]) -> list[str]:
    return [s.id for s in select(STEPS, answers)]


def test_only_means_every_picked_option_is_listed() -> None:
    step = STEPS[3]
    assert applies(step, {"market": ["elsewhere"]})
    assert not applies(step, {"market": ["elsewhere", "us"]})
    assert not applies(step, {"market": []})


def test_excludes_removes_steps_by_id_or_tag_and_blockers_come_first() -> None:
    assert ids({"market": ["us"], "shop_status": "not_started"}) == ["register", "ship", "history"]
    assert ids({"market": ["elsewhere"], "shop_status": "not_started"}) == [
        "no-shop-here",
        "history",
    ]
    assert ids({"market": ["us"], "shop_status": "selling", "entity": "individual"}) == [
        "individual-xb",
        "grow",
        "history",
    ]


def test_selector_agrees_with_select_including_only_and_excludes() -> None:
    selector = Selector(STEPS, OPTIONS)
    for market in (["us"], ["elsewhere"], ["us", "elsewhere"]):
        for status in ("not_started", "selling"):
            for entity in ("company", "individual"):
                answers: dict[str, Answer] = {
                    "market": market,
                    "shop_status": status,
                    "entity": entity,
                }
                mask = selector.mask(answers)
                got = {s.id for i, s in enumerate(STEPS) if mask >> i & 1}
                assert got == set(ids(answers)), answers


def test_conflicts_are_found_by_id_or_tag() -> None:
    grow, register = STEPS[4], STEPS[1]
    assert conflicts_in((grow, register)) == [("grow", "register")]
    assert conflicts_in((grow, STEPS[0])) == []


def test_blockers_and_background_stay_outside_the_progress_count() -> None:
    plan = tuple(select(STEPS, {"market": ["us"], "entity": "individual"}))
    assert [s.kind for s in plan] == ["blocker", "step", "step", "background"]
    progress = Progress(plan, {"individual-xb": Mark("done", 1)})
    assert progress.total == 2 and progress.done == 0
    first = progress.next_open()
    assert first is not None and first.id == "register"
    marks = {"register": Mark("done", 1), "ship": Mark("done", 1)}
    assert not Progress(plan, marks).finished  # the blocker is not acknowledged yet
    assert Progress(plan, marks).next_open().id == "individual-xb"  # type: ignore[union-attr]
    done = Progress(plan, {**marks, "individual-xb": Mark("done", 1)})
    assert done.finished  # background is optional
    assert done.next_open() is None
    assert done.minutes_total == 30 and done.minutes_left == 0
