"""German merchants type dates the way they say them too (typed_dates in de, English kept)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from bot.content.loader import Content
from bot.context import BotApp
from bot.domain.interview import AmbiguousDate, ImpossibleDate, parse_date
from tests.chat import Profile, interview

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Ende März", date(2027, 3, 31)),
        ("Mitte April 2027", date(2027, 4, 15)),
        ("Anfang 2027", date(2027, 1, 1)),
        ("so schnell wie möglich", TODAY),
        ("spätestens 15. Januar", date(2027, 1, 15)),
        ("innerhalb von 3 Monaten", date(2027, 3, 2)),
        ("bis Ende Februar", date(2027, 2, 28)),
        ("end of march", date(2027, 3, 31)),  # English still understood
        ("Q1 2027", date(2027, 1, 1)),
        ("Ende Q1 2027", date(2027, 3, 31)),
        ("bis Ende des ersten Quartals", date(2027, 3, 31)),
        ("im 2. Quartal 2027", date(2027, 4, 1)),
        ("vor Weihnachten", date(2026, 12, 24)),
        ("bis Silvester", date(2026, 12, 31)),
    ],
)
def test_german_date_phrases(content: Content, typed: str, expected: date) -> None:
    words = content.typed_words("de").dates
    assert parse_date(typed, TODAY, ("de", "en"), words) == expected


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        # German business dates by calendar week (Kalenderwoche): its Monday.
        ("de", "KW 12", date(2027, 3, 22)),
        ("de", "KW12", date(2027, 3, 22)),
        ("de", "in KW 12", date(2027, 3, 22)),
        ("de", "bis KW 12/2027", date(2027, 3, 22)),
        ("de", "Kalenderwoche 3", date(2027, 1, 18)),
        ("de", "Ende KW 12", date(2027, 3, 28)),
        ("de", "Mitte KW 12", date(2027, 3, 25)),
        ("de", "KW 50", date(2026, 12, 7)),  # this year's, still ahead
        ("de", "KW 48", date(2027, 11, 29)),  # this year's has begun: next year's
        ("de", "KW 53 2026", date(2026, 12, 28)),
        ("de", "KW 49", TODAY),  # the week under way: from today
        ("en", "week 12", date(2027, 3, 22)),
        ("en", "calendar week 12 2027", date(2027, 3, 22)),
        ("en", "end of week 12", date(2027, 3, 28)),
    ],
)
def test_a_calendar_week_is_its_monday(
    content: Content, lang: str, typed: str, expected: date
) -> None:
    words = content.typed_words(lang).dates
    assert parse_date(typed, TODAY, (lang, "en"), words) == expected


@pytest.mark.parametrize("typed", ["KW 54", "KW 0", "KW 53 2027", "week 99"])
def test_a_week_that_does_not_exist_is_not_a_date(content: Content, typed: str) -> None:
    words = content.typed_words("de").dates
    assert parse_date(typed, TODAY, ("de", "en"), words) is None


async def test_a_german_merchant_types_a_calendar_week_as_the_go_live_date(
    app: BotApp, fake: FakeTelegram
) -> None:
    lena = SimulatedUser(app, fake, user_id=4790, first_name="Lena", language_code="de")
    said = Profile(
        "kw", "Shopify", ("Germany",), shop_name="Lenas Laden", go_live="KW 12", type_instead=True
    )
    shown = "\n".join(m.text or "" for m in await interview(lena, said))
    assert "Dein Starttermin: 22. März 2027" in shown, shown


@pytest.mark.parametrize(
    ("lang", "typed", "month_ends"),
    [
        ("de", "31.02.2027", date(2027, 2, 28)),
        ("de", "30.2.", date(2027, 2, 28)),
        ("de", "31. April 2027", date(2027, 4, 30)),
        ("de", "31.06.2027", date(2027, 6, 30)),
        ("en", "31 Feb 2027", date(2027, 2, 28)),
        ("en", "February 30th", date(2027, 2, 28)),
        ("en", "2027-02-29", date(2027, 2, 28)),
        ("en", "31/04/2027", date(2027, 4, 30)),
        ("en", "04/31/2027", date(2027, 4, 30)),
    ],
)
def test_a_day_past_its_month_s_end_is_said_so(
    content: Content, lang: str, typed: str, month_ends: date
) -> None:
    words = content.typed_words(lang).dates
    found = parse_date(typed, TODAY, (lang, "en"), words)
    assert found == ImpossibleDate(month_ends), found


async def test_a_merchant_who_types_the_31st_of_february_is_told_the_month_s_last_day(
    app: BotApp, fake: FakeTelegram
) -> None:
    """It was "I could not read that as a date", as if the format were wrong."""
    for lang, typed, says in (
        ("en", "31/02/2027", "31/02/2027: that day does not exist (the month ends on 28 February"),
        (
            "de",
            "31.02.2027",
            "31.02.2027: Diesen Tag gibt es nicht (der Monat endet am 28. Februar",
        ),
    ):
        merchant = SimulatedUser(
            app, fake, user_id=4791 if lang == "en" else 4792, language_code=lang
        )
        said = Profile(
            "x", "Shopify", ("Germany",), shop_name="Shop", go_live=typed, type_instead=True
        )
        shown = "\n".join(m.text or "" for m in await interview(merchant, said))
        assert says in shown, shown


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        # "15.03." was read as a time of day (15:03), and the date saved as today.
        ("de", "15.03.", date(2027, 3, 15)),
        ("de", "15.03", date(2027, 3, 15)),
        ("de", "05.04.", date(2027, 4, 5)),
        ("de", "bis 15.03.", date(2027, 3, 15)),
        ("en", "15.03.", date(2027, 3, 15)),
        ("en", "13/03", date(2027, 3, 13)),
        # A dotted date is day first: not asked back as "1 March or 3 January?".
        ("de", "01.03.2027", date(2027, 3, 1)),
        ("de", "1.3.2027", date(2027, 3, 1)),
        ("de", "5.4.27", date(2027, 4, 5)),
        ("de", "bis 01.03.2027", date(2027, 3, 1)),
        # Written without the umlaut, as on a keyboard without one.
        ("de", "15. Maerz 2027", date(2027, 3, 15)),
        ("de", "15 Maerz", date(2027, 3, 15)),
        ("de", "Ende Maerz", date(2027, 3, 31)),
    ],
)
def test_dates_as_germans_write_them(
    content: Content, lang: str, typed: str, expected: date
) -> None:
    words = content.typed_words(lang).dates
    assert parse_date(typed, TODAY, (lang, "en"), words) == expected


def test_a_slashed_date_that_reads_both_ways_is_still_asked(content: Content) -> None:
    words = content.typed_words("en").dates
    found = parse_date("01/03/2027", TODAY, ("en",), words)
    assert found == AmbiguousDate(date(2027, 3, 1), date(2027, 1, 3))


def test_yesterday_is_a_day_that_has_passed(content: Content) -> None:
    words = content.typed_words("en").dates
    assert parse_date("yesterday", TODAY, ("en",), words) == date(2026, 12, 1)


async def test_a_german_day_and_month_without_a_year_is_that_day_not_today(
    app: BotApp, fake: FakeTelegram
) -> None:
    lena = SimulatedUser(app, fake, user_id=4793, first_name="Lena", language_code="de")
    said = Profile(
        "x", "Shopify", ("Germany",), shop_name="Laden", go_live="15.03.", type_instead=True
    )
    shown = "\n".join(m.text or "" for m in await interview(lena, said))
    assert "Dein Starttermin: 15. März 2027" in shown, shown


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("en", "tmrw", date(2026, 12, 3)),
        ("en", "by tmr", date(2026, 12, 3)),
        ("de", "übernächste Woche", date(2026, 12, 16)),
    ],
)
def test_short_and_spoken_dates(content: Content, lang: str, typed: str, expected: date) -> None:
    words = content.typed_words(lang).dates
    assert parse_date(typed, TODAY, (lang, "en"), words) == expected
