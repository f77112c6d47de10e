"""Bullets in guidance stay on their own lines, in every language.

jinja2 runs with ``trim_blocks``: the newline right after any ``{% ... %}`` is dropped. A tag
that closes an inline condition at the end of a line (``…{% endif %}``) therefore glues the
next line to it ("… hours)• Videos"), and ``{%- … %}`` eats the newline before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot.botapi.fake import SimulatedUser
from bot.content.check import answer_combinations
from bot.content.loader import Content
from bot.content.render import Renderer
from bot.domain.interview import Answer, effective_answers
from bot.views.screens import Views
from tests.chat import Profile, interview
from tests.conftest import NOW

GLUED = re.compile(r"\S[ \t]*•")


def glued_lines(text: str) -> list[str]:
    """Lines where a bullet follows other text instead of starting the line."""
    return [line for line in text.splitlines() if GLUED.search(line)]


def answer_sets(content: Content) -> Iterator[dict[str, Answer]]:
    """A few different merchants: one per platform x status, with every market ticked."""
    seen: set[tuple[str, ...]] = set()
    every_market = list(content.interview.question("market").options)
    for combo in answer_combinations(content.interview):
        if combo.get("market") != every_market:
            continue
        key = (str(combo.get("platform")), str(combo.get("shop_status")))
        if key in seen:
            continue
        seen.add(key)
        yield effective_answers(content.interview, combo)
    assert seen


async def test_go_live_checklist_keeps_bullets_apart_for_a_sea_merchant(
    user: SimulatedUser,
) -> None:
    await interview(user, Profile("p", "Shopify", ("South-East Asia",)))
    messages = await user.press("▶️ Next step")
    for _ in range(40):
        text = messages[-1].text or ""
        if text.startswith("Last check") or "tick off:" in text:
            break
        messages = await user.press_data(
            messages[-1].message_id, messages[-1].buttons[0][0][1] or ""
        )
    else:
        raise AssertionError("the go-live checklist never came up")
    assert "Indonesia:" in text  # the SEA returns clause is there ...
    assert glued_lines(text) == []  # ... and the next bullet starts its own line
    assert any(line.startswith("• Videos, LIVEs") for line in text.splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "de"])
def test_no_step_glues_a_bullet_to_the_line_before(content: Content, lang: str) -> None:
    views = Views(content, Renderer(content))
    problems: list[str] = []
    for answers in answer_sets(content):
        for step in content.steps:
            for details in (False, True):
                text = views.step_body(lang, step, answers, details=details, now=NOW, deadline=NOW)
                problems += [f"{step.id}: {line}" for line in glued_lines(text)]
    assert sorted(set(problems)) == []


# An inline block tag closing a line (text before it, no ``+%}``), or a ``{%-``.
_EATS_NEWLINE = re.compile(r"\S[^\n]*\{%[^\n]*?[^+]%\}[ \t]*$|\{%-")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_no_step_source_has_a_tag_that_eats_a_newline(content: Content, lang: str) -> None:
    problems = []
    for step in content.steps:
        text = content.step_text(lang, step.id)
        for part in (text.body, text.details or ""):
            lines = part.splitlines()
            for i, line in enumerate(lines):
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if _EATS_NEWLINE.search(line) and following.strip():
                    problems.append(f"{step.id}: {line}")
    assert problems == []
