"""The interview engine, pure: branching, back along the path taken, edits, typed answers."""

from __future__ import annotations

from datetime import date

import pytest

from bot.content.loader import Content
from bot.domain import interview as iv


@pytest.fixture
def interview(content: Content) -> iv.Interview:
    return content.interview


def walk(interview: iv.Interview, *steps: tuple[str, str]) -> iv.State:
    state = iv.begin(interview, {})
    for kind, value in steps:
        assert state.current is not None
        qid = state.current
        if kind == "one":
            new = iv.choose(interview, state, qid, value)
        elif kind == "many":
            new = state
            for option in value.split(","):
                new = iv.toggle(interview, new, qid, option) or new
            new = iv.confirm(interview, new, qid)
        elif kind == "skip":
            new = iv.skip(interview, state, qid)
        else:
            new = iv.answer_text(interview, state, qid, value)
        assert new is not None, (kind, value, state)
        state = new
    return state


FULL = (
    ("one", "shopify"),
    ("many", "uk,de"),
    ("one", "company"),
    ("one", "local"),
    ("one", "small"),
    ("one", "own"),
    ("many", "shop_tab,ads"),
    ("one", "not_started"),
    ("text", "Ann & Co"),
    ("text", "2027-03-31"),
)


def test_full_walk_finishes(interview: iv.Interview) -> None:
    state = walk(interview, *FULL)
    assert state.mode == "done" and state.current is None
    assert state.answers["market"] == ["uk", "de"]
    assert list(state.path) == list(interview.questions)


# A merchant without a web store, answered up to the question after fulfilment.
NO_STORE_TO_SHOP_STATUS = (
    ("one", "none"),
    ("many", "us"),
    ("one", "company"),
    ("one", "local"),
    ("one", "small"),
    ("one", "own"),
)


def test_platform_none_skips_what_storefront_was_used_for(interview: iv.Interview) -> None:
    state = walk(interview, *NO_STORE_TO_SHOP_STATUS)
    assert state.current == "shop_status"
    assert "uses" not in state.path


def test_selling_merchants_are_not_asked_for_a_go_live_date(interview: iv.Interview) -> None:
    state = walk(interview, *FULL[:7], ("one", "selling"), ("skip", ""))
    assert state.mode == "done"
    assert "go_live" not in state.answers


def test_back_returns_along_the_path_taken(interview: iv.Interview) -> None:
    state = walk(interview, *NO_STORE_TO_SHOP_STATUS)
    assert state.current == "shop_status"
    back = iv.back(state)
    assert back is not None and back.current == "fulfilment"
    # Re-answering shows the next question again, with earlier answers kept.
    again = iv.choose(interview, back, "fulfilment", "fbt")
    assert again is not None and again.current == "shop_status"
    assert again.answers["fulfilment"] == "fbt"


def test_back_at_the_start_is_refused(interview: iv.Interview) -> None:
    assert iv.back(iv.begin(interview, {})) is None


def test_answers_for_other_questions_are_refused(interview: iv.Interview) -> None:
    state = iv.begin(interview, {})
    assert iv.choose(interview, state, "entity", "company") is None
    assert iv.choose(interview, state, "platform", "myspace") is None
    assert iv.skip(interview, state, "platform") is None
    assert iv.confirm(interview, state, "platform") is None


def test_confirm_needs_a_tick(interview: iv.Interview) -> None:
    state = walk(interview, ("one", "wix"))
    assert state.current == "market"
    assert iv.confirm(interview, state, "market") is None
    ticked = iv.toggle(interview, state, "market", "es")
    assert ticked is not None
    unticked = iv.toggle(interview, ticked, "market", "es")
    assert unticked is not None and "market" not in unticked.answers


def test_edit_asks_only_what_the_change_makes_necessary(interview: iv.Interview) -> None:
    done = walk(
        interview,
        ("one", "none"),
        ("many", "us"),
        ("one", "company"),
        ("one", "local"),
        ("one", "small"),
        ("one", "own"),
        ("one", "selling"),
        ("skip", ""),
    )
    assert done.mode == "done"
    editing = iv.edit(interview, done, "platform")
    assert editing is not None and editing.mode == "edit"
    # Switching from "no web store" to Shopify opens the Storefront-uses question.
    after = iv.choose(interview, editing, "platform", "shopify")
    assert after is not None and after.current == "uses"
    finished = iv.confirm(interview, iv.toggle(interview, after, "uses", "live") or after, "uses")
    assert finished is not None and finished.mode == "done"
    # A change that opens nothing new finishes at once.
    editing = iv.edit(interview, finished, "catalogue")
    assert editing is not None
    finished = iv.choose(interview, editing, "catalogue", "large")
    assert finished is not None and finished.mode == "done"
    assert finished.answers["catalogue"] == "large"


def test_effective_answers_ignore_answers_off_the_branch(interview: iv.Interview) -> None:
    state = walk(interview, *FULL)
    answers = dict(state.answers)
    answers["platform"] = "none"  # "uses" is now off the branch
    effective = iv.effective_answers(interview, answers)
    assert effective["uses"] == []
    assert effective["market"] == ["uk", "de"]


def test_clean_answers_drops_what_content_no_longer_knows(interview: iv.Interview) -> None:
    cleaned = iv.clean_answers(
        interview, {"platform": "myspace", "market": ["uk", "atlantis"], "gone": "x"}
    )
    assert cleaned == {"market": ["uk"]}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Shopify", ["shopify"]),
        ("  shopify!! ", ["shopify"]),
        ("woo", ["woocommerce"]),
        ("I have no web store", ["none"]),
        ("no", ["none"]),  # a YAML trap once: bare `no` was read as false
        ("Facebook", []),
        # Inside a sentence: understood when it names exactly one option...
        ("I use Shopify", ["shopify"]),
        ("we're on Shopify Plus", ["shopify"]),
        ("my store is on woo commerce", ["woocommerce"]),
        ("we have no web store", ["none"]),
        # ...and never guessed when it names two, or says what they do not use.
        ("Shopify and Wix", []),
        ("not Shopify", []),
        ("I don't use Shopify any more", []),
        ("no idea", []),
    ],
)
def test_typed_options_one(
    interview: iv.Interview, content: Content, typed: str, expected: list[str]
) -> None:
    question = interview.question("platform")
    labels = content.option_labels("en", "platform")
    assert (
        iv.match_options(question, typed, labels, content.typed_words("en").negations) == expected
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("UK, Germany", ["uk", "de"]),
        ("germany and españa", ["es", "de"]),
        ("us", ["us"]),
        ("it", ["it"]),  # an option id alone is an answer...
        ("I sell it in the UK", ["uk"]),  # ...but not a word inside a sentence
        ("UK, Narnia", []),  # every part of a list must name something
        ("We sell in the UK AND Germany", ["uk", "de"]),
        ("mostly the US", ["us"]),
        ("South East Asia & Japan", ["jp", "sea"]),
        ("everywhere except Japan", []),
    ],
)
def test_typed_options_many(
    interview: iv.Interview, content: Content, typed: str, expected: list[str]
) -> None:
    question = interview.question("market")
    labels = content.option_labels("en", "market")
    assert (
        iv.match_options(question, typed, labels, content.typed_words("en").negations) == expected
    )


def test_longest_name_wins_and_negations_inside_a_name_do_not_count() -> None:
    question = iv.Question(id="q", kind="one", options=("asia", "sea"))
    labels = {"asia": ["asia"], "sea": ["south east asia"]}
    assert iv.match_options(question, "we sell to south east asia", labels) == ["sea"]
    status = iv.Question(id="s", kind="one", options=("not_started", "applied"))
    names = {"not_started": ["haven t started"], "applied": ["applied"]}
    negations = {"haven", "not"}
    assert iv.match_options(status, "we haven't started yet", names, negations) == ["not_started"]
    assert iv.match_options(status, "we have not applied", names, negations) == []


TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2027-03-31", date(2027, 3, 31)),
        ("31.03.2027", date(2027, 3, 31)),
        ("31/3/2027", date(2027, 3, 31)),
        ("31 March 2027", date(2027, 3, 31)),
        ("March 31, 2027", date(2027, 3, 31)),
        ("1 Dec", date(2026, 12, 1)),
        ("1 Jan", date(2027, 1, 1)),
        ("31.02.2027", iv.ImpossibleDate(date(2027, 2, 28))),
        ("next tuesday", date(2026, 12, 1)),
        ("tomorrow", date(2026, 11, 28)),
        ("next friday", date(2026, 12, 4)),
        ("March 2027", date(2027, 3, 1)),
        ("15 Jan", date(2027, 1, 15)),
        ("27 Nov", TODAY),
        ("03/15/2027", date(2027, 3, 15)),
        ("15/03/2027", date(2027, 3, 15)),
        ("02/02/2027", date(2027, 2, 2)),
        ("99999999999999999999 1 2030", None),  # raised OverflowError
        ("99999999999999999999.1.2030", None),
        ("5", None),
        ("2027", None),
        ("hello", None),
        ("", None),
    ],
)
def test_parse_date(typed: str, expected: date | None) -> None:
    assert iv.parse_date(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2027-03-31", date(2027, 3, 31)),
        ("2027-03-04", date(2027, 3, 4)),  # year first: never day/month ambiguous
        ("2027-3-4", date(2027, 3, 4)),
        (" 2026-01-05 ", date(2026, 1, 5)),  # in the past: validate_date says so
    ],
)
def test_year_first_dates_are_read_without_dateparser(
    typed: str, expected: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dateparser costs milliseconds per call (it compiles regexes); a year-first numeric
    # date means the same to it (checked here) and is read directly (issue 20).
    assert iv._parse_with(typed.strip(), TODAY, "future", ("en",)) == expected

    def dateparser(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("dateparser was asked")

    monkeypatch.setattr(iv, "_parse_with", dateparser)
    assert iv.parse_date(typed, TODAY) == expected


def test_impossible_year_first_dates_are_said_to_be_impossible() -> None:
    assert iv.parse_date("2027-02-30", TODAY) == iv.ImpossibleDate(date(2027, 2, 28))


@pytest.mark.parametrize(
    ("typed", "day_first", "month_first"),
    [
        ("01/02/2027", date(2027, 2, 1), date(2027, 1, 2)),
        ("1-2-27", date(2027, 2, 1), date(2027, 1, 2)),  # with dots: day first (test_dates_de)
        ("03/04", date(2027, 4, 3), date(2027, 3, 4)),
    ],
)
def test_numeric_dates_that_read_both_ways_are_asked_back(
    typed: str, day_first: date, month_first: date
) -> None:
    assert iv.parse_date(typed, TODAY) == iv.AmbiguousDate(day_first, month_first)


def test_validate_date_refuses_past_and_far(interview: iv.Interview) -> None:
    question = interview.question("go_live")
    assert iv.validate_date(question, "2027-01-15", TODAY) == "2027-01-15"
    past = iv.validate_date(question, "2025-01-15", TODAY)
    assert isinstance(past, iv.TextProblem) and past.key == "date_past"
    far = iv.validate_date(question, "2035-01-15", TODAY)
    assert isinstance(far, iv.TextProblem) and far.key == "date_far"
    unclear = iv.validate_date(question, "soon", TODAY)
    assert isinstance(unclear, iv.TextProblem) and unclear.key == "date_unclear"


def test_validate_text(interview: iv.Interview) -> None:
    question = interview.question("shop_name")
    assert iv.validate_text(question, "  Ann's   Shop ") == "Ann's Shop"
    too_long = iv.validate_text(question, "x" * 61)
    assert isinstance(too_long, iv.TextProblem) and too_long.key == "too_long"
    assert isinstance(iv.validate_text(question, "   "), iv.TextProblem)


def test_long_button_labels_are_cut_at_a_word() -> None:
    from bot.views.model import shorten

    assert shorten("short") == "short"
    label = shorten("▫️ 4. TikTok Shop commission in Spain, Ireland, Germany, France and Italy")
    assert len(label) <= 60 and label.endswith("…")
    assert label == "▫️ 4. TikTok Shop commission in Spain, Ireland, Germany…"
