"""Editor checks that were missing: each mistake an editor made, refused in their words."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.check import Checker, check
from bot.content.loader import ContentError, load_content
from bot.content.render import Renderer
from bot.views.screens import Views
from tests.conftest import NOW, REPO
from tests.test_content import VALID_FRONT, write_step


def load_problems(root: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_content(root)
    return [str(p) for p in info.value.problems]


@pytest.mark.slow
def test_html_in_a_fact_value_fails_at_its_line(tree: Path) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(text.replace('commission: "9%"', 'commission: "<b>9%</b>"', 1))
    line = next(i for i, row in enumerate(facts.read_text().splitlines(), 1) if "<b>9%</b>" in row)
    found = load_problems(tree)
    assert any(
        p.startswith(f"{facts}:{line}: fees.uk.commission: HTML (<b>) in a fact value")
        for p in found
    ), found


@pytest.mark.slow
def test_html_in_a_title_fails(tree: Path) -> None:
    path = write_step(
        tree,
        "html-title",
        VALID_FRONT.format(id="html-title").replace(
            "title: A test step", "title: A <b>bold</b> step"
        ),
    )
    found = load_problems(tree)
    assert any(p.startswith(f"{path}:4: title: HTML (<b>) in a title") for p in found), found


@pytest.mark.slow
def test_one_yaml_error_in_strings_is_one_problem(tree: Path) -> None:
    strings = tree / "locales" / "en" / "strings.yaml"
    lines = strings.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5] + " ]["  # a stray bracket
    strings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = load_problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"{strings}:") and "YAML error" in found[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("at", "opened"), [(3, "[unclosed, list"), (-1, '"an unclosed quote'), (-1, "{a: 1")]
)
def test_a_yaml_error_names_the_line_where_the_broken_thing_opens(
    tree: Path, at: int, opened: str
) -> None:
    """The parser notices an unclosed bracket or quote lines later (at the end of the file):
    the editor is sent to the line that opened it, and told where it was noticed."""
    strings = tree / "locales" / "en" / "strings.yaml"
    lines = strings.read_text(encoding="utf-8").splitlines()
    lines.insert(at if at >= 0 else len(lines), f"broken: {opened}")
    strings.write_text("\n".join(lines) + "\n\n\n", encoding="utf-8")
    line = lines.index(f"broken: {opened}") + 1
    found = load_problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"{strings}:{line}: YAML error: "), found
    assert "noticed at line" in found[0], found


@pytest.mark.slow
def test_schema_errors_read_as_editor_language(tree: Path) -> None:
    path = write_step(
        tree,
        "typo-step",
        VALID_FRONT.format(id="typo-step").replace("minutes: 5\n", "minutes: 5\nrequries: []\n")
        + "scope_: general\n",
    )
    nosource = write_step(
        tree,
        "nosource",
        VALID_FRONT.format(id="nosource").split("sources:")[0]
        + "sources: []\nchecked: 2026-11-27\n",
    )
    found = load_problems(tree)
    assert f"{path}:7: unknown field `requries` in front matter: did you mean `requires`?" in found
    assert any(
        p.startswith(f"{path}:")
        and "unknown field `scope_` in front matter: did you mean `scope`?" in p
        for p in found
    ), found
    assert any(
        p.startswith(f"{nosource}:") and "a step must cite at least one source" in p for p in found
    ), found
    assert not any("Extra inputs" in p or "Input should" in p or "List should" in p for p in found)


@pytest.mark.slow
def test_missing_field_and_bad_literal_are_named(tree: Path) -> None:
    front = VALID_FRONT.format(id="scoped").replace("scope: general", "scope: country")
    path = write_step(tree, "scoped", front.replace("minutes: 5\n", ""))
    found = load_problems(tree)
    assert f"{path}:1: missing field `minutes` in front matter" in found or any(
        "missing field `minutes` in front matter" in p for p in found
    ), found
    assert any(
        "scope: must be one of 'general', 'platform' or 'market', not 'country'" in p
        for p in found
    ), found


@pytest.mark.slow
def test_html_problem_in_a_step_body_points_at_its_line_once(small_tree: Path) -> None:
    body = (
        "First line.\n"
        "{% if answers.market|length > 1 %}Several: {{ markets|join(', ') }}.{% endif %}\n"
        "Third line with <p>a paragraph</p>.\n"
    )
    path = write_step(small_tree, "html-body", VALID_FRONT.format(id="html-body"), body=body)
    _, problems = check(small_tree)
    mine = [str(p) for p in problems if str(p.path) == str(path)]
    body_line = 13  # front matter lines 1-12, then the body
    assert mine == [
        f"{path}:{body_line + 2}: Telegram would reject the HTML: <p> is not a tag Telegram"
        " accepts (use b, i, u, s, a, code, pre, blockquote; blank lines and \u2022 bullets"
        " instead of paragraphs and lists)"
    ], mine


@pytest.mark.slow
def test_unbalanced_tag_in_details_points_at_the_details_line(small_tree: Path) -> None:
    body = "Main text.\n<!-- details -->\nMore.\nA <b>bold start\n"
    path = write_step(small_tree, "html-details", VALID_FRONT.format(id="html-details"), body=body)
    _, problems = check(small_tree)
    mine = [str(p) for p in problems if str(p.path) == str(path)]
    assert mine == [f"{path}:16: Telegram would reject the HTML: <b> is never closed"], mine


def test_markets_are_never_spelt_out_in_template_code(small_tree: Path) -> None:
    body = (
        "{% if answers.market == ['elsewhere'] %}TikTok Shop is not available here.{% endif %}\n"
        "{% set names = {'ie': 'Ireland', 'fr': 'France'} %}\n"
        "{% if 'de' in answers.market %}In Germany, this is fine.{% endif %}\n"
    )
    path = write_step(small_tree, "hard-coded", VALID_FRONT.format(id="hard-coded"), body=body)
    content = load_content(small_tree)
    checker = Checker(content)
    checker.market_literals()
    mine = [str(p) for p in checker.problems if str(p.path) == str(path)]
    assert len(mine) == 2, mine
    assert mine[0].startswith(
        f"{path}:13: hard-coded: 'elsewhere' is a market without TikTok Shop"
    )
    assert mine[1].startswith(f"{path}:14: hard-coded: a market name ('Ireland')")


@pytest.mark.slow
def test_a_market_added_in_interview_and_facts_is_never_told_tiktok_shop_is_missing(
    tree: Path,
) -> None:
    interview = tree / "interview.yaml"
    text = interview.read_text(encoding="utf-8")
    interview.write_text(text.replace("sea, elsewhere]", "sea, kr, elsewhere]", 1))
    strings = tree / "locales" / "en" / "strings.yaml"
    text = strings.read_text(encoding="utf-8")
    strings.write_text(
        text.replace(
            "      elsewhere: Somewhere else\n",
            "      kr: South Korea\n      elsewhere: Somewhere else\n",
            1,
        )
    )
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(
        text.replace("\n# Seller fees", '  kr:\n    launch: "1 March 2027"\n\n# Seller fees', 1)
    )
    content = load_content(tree)
    assert "kr" in content.shop_markets and "elsewhere" not in content.shop_markets
    views = Views(content, Renderer(content))
    answers: dict[str, str | list[str] | None] = {
        "platform": "ecwid",
        "market": ["kr"],
        "shop_status": "not_started",
    }
    for step_id in ("ecwid-connectors", "replace-shop-tab", "what-changed"):
        step = content.step_index[step_id]
        text = views.step_body(
            "en", step, answers, details=False, now=NOW, deadline=content.campaign.deadline
        )
        assert "not available in your market" not in text, (step_id, text)
    assert views.market_names("en")["nl"] == "the Netherlands"
    assert views.market_names("en")["kr"] == "South Korea"


@pytest.mark.slow
def test_shipped_guidance_names_no_market_in_template_code(content: object) -> None:
    loaded = load_content(REPO / "content")
    checker = Checker(loaded)
    checker.market_literals()
    assert checker.problems == []


@pytest.mark.slow
def test_named_days_and_quarters_are_checked_at_their_line(tree: Path) -> None:
    dates = tree / "locales" / "en" / "strings.dates.yaml"
    text = dates.read_text(encoding="utf-8")
    text = text.replace("    christmas: 12-25", "    christmas: 25-12", 1)
    text = text.replace("    4: [q4,", "    5: [q4,", 1)
    dates.write_text(text, encoding="utf-8")
    rows = text.splitlines()
    christmas = rows.index("    christmas: 25-12") + 1
    quarter = next(i for i, row in enumerate(rows, 1) if row.startswith("    5: [q4,"))
    found = load_problems(tree)
    assert (
        f"{dates}:{christmas}: typed_dates.days.christmas: '25-12' is not a month-day"
        " such as 12-25" in found
    ), found
    assert f"{dates}:{quarter}: typed_dates.quarters: 5 is not a quarter (1 to 4)" in found, found
