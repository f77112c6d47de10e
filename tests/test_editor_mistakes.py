"""What a content editor gets wrong, and what `content check` must say: the file, the line,
and what to do, as one problem per mistake."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.content.check import check
from bot.content.loader import ContentError, load_content
from bot.views.screens import STEP_VARIABLES

NEXT_YEAR = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()


def line_of(path: Path, needle: str) -> int:
    rows = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, row in enumerate(rows, 1) if needle in row)


def problems_of(tree: Path) -> list[str]:
    content, problems = check(tree)
    assert content is None, "a broken tree must not load"
    return [str(p) for p in problems]


@pytest.mark.slow
def test_a_checked_date_in_the_future_fails_at_its_line(tree: Path) -> None:
    step = tree / "guidance" / "market-uk.md"
    step.write_text(
        re.sub(r"(?m)^checked: .*$", f"checked: {NEXT_YEAR}", step.read_text(encoding="utf-8"))
    )
    found = problems_of(tree)
    line = line_of(step, f"checked: {NEXT_YEAR}")
    assert found == [
        f"{step}:{line}: `checked` {NEXT_YEAR} is in the future:"
        " set it to the day you last checked the sources"
    ], found


@pytest.mark.slow
def test_a_fact_checked_in_the_future_fails_at_its_line(tree: Path) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    first = re.compile(r"_checked: 20\d\d-\d\d-\d\d")
    facts.write_text(first.sub(f"_checked: {NEXT_YEAR}", text, count=1))
    found = problems_of(tree)
    line = line_of(facts, f"_checked: {NEXT_YEAR}")
    assert found == [
        f"{facts}:{line}: `_checked` {NEXT_YEAR} is in the future:"
        " set it to the day you last checked the sources"
    ], found


@pytest.mark.slow
def test_a_broken_step_is_one_problem_not_one_per_step_that_requires_it(tree: Path) -> None:
    # market-uk is required by six steps and translated into German: a missing field in
    # it used to add "requires unknown step 'market-uk'" for each of them.
    step = tree / "guidance" / "market-uk.md"
    step.write_text(re.sub(r"(?m)^checked: .*\n", "", step.read_text(encoding="utf-8")))
    found = problems_of(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"{step}:2: missing field `checked` in front matter"), found


@pytest.mark.slow
def test_a_translated_string_with_other_placeholders_fails_at_its_file_and_line(
    tree: Path,
) -> None:
    strings = tree / "locales" / "de" / "strings.yaml"
    text = strings.read_text(encoding="utf-8")
    # A translator renamed a placeholder, and broke another string's template syntax.
    text = text.replace("höchstens {{ max }} Zeichen", "höchstens {{ maximum }} Zeichen", 1)
    text = text.replace("{% endfor %} kenne ich nicht", "{% endfor % kenne ich nicht", 1)
    strings.write_text(text, encoding="utf-8")
    found = [str(p) for p in check(tree)[1]]
    renamed = line_of(strings, "{{ maximum }}")
    broken = line_of(strings, "{% endfor % kenne")
    assert any(
        p.startswith(f"{strings}:{renamed}: ")
        and "'maximum' is undefined" in p
        and "{{ max }}" in p  # what the English text uses
        for p in found
    ), found
    assert any(p.startswith(f"{strings}:{broken}: ") and "Syntax" in p for p in found), found
    assert not [p for p in found if not p.startswith(f"{strings}:")], found


def load_problems(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_content(tree)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("file", "before", "after", "says"),
    [
        # Turning the nudge on failed mid-conversation ("Sorry, something went wrong").
        (
            "campaign.yaml",
            "nudge_after_days: 7",
            "nudge_after_days: 99999999",
            "nudge_after_days: must be at most 365",
        ),
        # A typed go-live date was checked against a day past the calendar's end.
        (
            "interview.yaml",
            "max_days_ahead: 1100",
            "max_days_ahead: 99999999",
            "max_days_ahead: must be at most 3660",
        ),
    ],
)
def test_a_number_past_what_a_date_can_hold_fails_at_its_line(
    tree: Path, file: str, before: str, after: str, says: str
) -> None:
    path = tree / file
    text = path.read_text(encoding="utf-8")
    assert before in text
    path.write_text(text.replace(before, after, 1), encoding="utf-8")
    found = load_problems(tree)
    line = line_of(path, after)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{line}: ") and says in found[0], found


def test_a_bad_review_period_is_one_problem_not_one_per_fact_below_it(tree: Path) -> None:
    facts = tree / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    first = re.compile(r"(?m)^_review: \S+")
    assert first.search(text)
    facts.write_text(first.sub("_review: 90 days", text, count=1), encoding="utf-8")
    found = load_problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"{facts}:{line_of(facts, '_review: 90 days')}: `_review`")


@pytest.mark.slow
def test_a_missing_english_string_is_one_problem_saying_where_to_add_it(tree: Path) -> None:
    """It was 18 lines of "locales:1: question platform: KeyError: 'buttons.back'"."""
    strings = tree / "locales" / "en" / "strings.yaml"
    rows = strings.read_text(encoding="utf-8").splitlines()
    buttons = next(i for i, row in enumerate(rows) if row == "buttons:")
    back = next(i for i in range(buttons, len(rows)) if rows[i].startswith("  back:"))
    del rows[back]
    strings.write_text("\n".join(rows) + "\n", encoding="utf-8")
    found = [str(p) for p in check(tree)[1]]
    assert found == [
        f"{strings}:{buttons + 1}: missing string buttons.back: add it under `buttons`"
        " (the bot uses it; other languages fall back to English)"
    ], found


@pytest.mark.slow
def test_a_misspelt_fact_names_the_fact_and_the_one_meant(tree: Path) -> None:
    """It said "UndefinedError: 'dict object' has no attribute 'lunch'"."""
    step = tree / "guidance" / "market-uk.md"
    text = step.read_text(encoding="utf-8")
    step.write_text(text.replace("facts.markets.uk.launch", "facts.markets.uk.lunch", 1))
    found = [str(p) for p in check(tree)[1]]
    line = line_of(step, "facts.markets.uk.lunch")
    assert len(found) == 1, found
    assert found[0].startswith(f"{step}:{line}: "), found
    assert found[0].endswith(
        "there is no facts.markets.uk.lunch in facts.yaml: did you mean facts.markets.uk.launch?"
    ), found


@pytest.mark.slow
def test_a_step_reading_an_unknown_variable_is_told_what_it_can_read(tree: Path) -> None:
    step = tree / "guidance" / "market-uk.md"
    text = step.read_text(encoding="utf-8")
    step.write_text(text.replace("answers.entity", "answer.entity", 1), encoding="utf-8")
    # Every variable the hint names is one a step really has: reading them all is fine.
    other = tree / "guidance" / "market-de.md"
    reads = " ".join(f"{{% if {name} %}}.{{% endif %}}" for name in STEP_VARIABLES)
    other.write_text(other.read_text(encoding="utf-8") + f"\n{reads}\n", encoding="utf-8")
    found = [str(p) for p in check(tree)[1]]
    assert len(found) == 1, found
    assert found[0].startswith(f"{step}:{line_of(step, 'answer.entity')}: "), found
    assert found[0].endswith(
        "'answer' is undefined; a step can read answers, shop_name, markets, shop_markets,"
        " market_names, deadline, facts (did you mean answers?)"
    ), found


def test_a_misspelt_option_in_a_branch_fails_at_the_branch_s_line(tree: Path) -> None:
    interview = tree / "interview.yaml"
    text = interview.read_text(encoding="utf-8")
    interview.write_text(
        text.replace("- only: {market: [elsewhere]}", "- only: {market: [elswhere]}")
    )
    with pytest.raises(ContentError) as caught:
        load_content(tree)
    line = line_of(interview, "[elswhere]")
    assert [str(p) for p in caught.value.problems] == [
        f"{interview}:{line}: uses: next has a bad condition on 'market': no option 'elswhere'"
    ]


def test_a_default_branch_with_a_condition_is_named(tree: Path) -> None:
    interview = tree / "interview.yaml"
    text = interview.read_text(encoding="utf-8")
    interview.write_text(
        text.replace(
            "      - goto: shop_status\n",
            "      - goto: shop_status\n        only: {market: [us]}\n",
            1,
        )
    )
    with pytest.raises(ContentError) as caught:
        load_content(tree)
    assert any(
        "uses: the last branch of next must have no 'when' or 'only'" in str(p)
        for p in caught.value.problems
    ), caught.value.problems


def test_all_naming_something_not_an_option_fails_at_its_line(tree: Path) -> None:
    interview = tree / "interview.yaml"
    text = interview.read_text(encoding="utf-8")
    interview.write_text(
        text.replace("all: [shop_tab, video_links,", "all: [shoptab, video_links,")
    )
    with pytest.raises(ContentError) as caught:
        load_content(tree)
    line = line_of(interview, "all: [shoptab")
    assert [str(p) for p in caught.value.problems] == [
        f"{interview}:{line}: uses: all must list options of a several-choice (many) question"
    ]


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ("{{ zone | nosuch }}", "No filter named 'nosuch'"),
        ("{% if zone %}set", "Unexpected end of template"),
    ],
)
def test_a_string_with_broken_template_code_fails_at_its_line(
    small_tree: Path, broken: str, said: str
) -> None:
    strings = small_tree / "locales" / "en" / "strings.alerts.yaml"
    text = strings.read_text(encoding="utf-8")
    line = line_of(strings, "zone_set: ")
    old = text.splitlines()[line - 1]
    strings.write_text(text.replace(old, f'    zone_set: "Time zone set: {broken}."', 1))
    found = [str(p) for p in check(small_tree)[1]]
    assert any(
        p.startswith(f"{strings}:{line}: alerts.notices.zone_set: template error (") and said in p
        for p in found
    ), found
