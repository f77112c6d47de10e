"""German merchants type dates the way they say them too (typed_dates in de, English kept)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.content.loader import Content
from bot.domain.interview import parse_date

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
