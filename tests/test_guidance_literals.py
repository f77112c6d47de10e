"""Figures in guidance come from facts.yaml in every language (issue 18: "numbers and dates
inside guidance come from facts.yaml variables, never typed into a translation")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.content.loader import Content
from bot.content.values import YearlyDay, parse_value

REPO = Path(__file__).resolve().parent.parent
GUIDANCE = REPO / "content" / "guidance"
GERMAN = REPO / "content" / "locales" / "de" / "guidance"

# step, literal in English, literal in German, the fact that replaces them, English, German
LITERALS = [
    ("bulk-catalogue", "255 characters", "255 Zeichen", "listing.batch_title_max", "255", "255"),
    (
        "none-seller-center-listings",
        "255 characters",
        "255 Zeichen",
        "listing.batch_title_max",
        "255",
        "255",
    ),
    ("eu-shops-vat", "€150", "150 €", "eu_vat.ioss_max", "€150", "150 €"),
    ("market-sea", "75%", "75 %", "markets.sea.tokopedia_stake", "about 75%", "etwa 75 %"),
    (
        "shipping-templates",
        "48 contiguous",
        "48 zusammen",
        "shipping.us.contiguous_states",
        "48",
        "48",
    ),
    (
        "us-tax-forms",
        "31 January",
        "31. Januar",
        "us_tax.form_1099k_sent_by",
        "31 January",
        "31. Januar",
    ),
]


def test_a_yearly_day_renders_per_language() -> None:
    value = parse_value("--01-31")
    assert isinstance(value, YearlyDay) and value.day == date(2000, 1, 31)
    assert value.render("en", lambda _k: None) == "31 January"
    assert value.render("de", lambda _k: None) == "31. Januar"
    assert not isinstance(parse_value("--02-30"), YearlyDay)


def lookup(tree: object, path: str) -> object:
    for part in path.split("."):
        assert isinstance(tree, dict), path
        tree = tree[part]
    return tree


@pytest.mark.parametrize(("step", "english", "german", "fact", "en", "de"), LITERALS)
def test_figures_in_guidance_are_facts_in_both_languages(
    content: Content, step: str, english: str, german: str, fact: str, en: str, de: str
) -> None:
    english_text = (GUIDANCE / f"{step}.md").read_text(encoding="utf-8")
    german_text = (GERMAN / f"{step}.md").read_text(encoding="utf-8")
    body = english_text.split("\n---\n", 1)[1]
    assert english not in body and german not in german_text.replace("\xa0", " ")
    assert f"{{{{ facts.{fact} }}}}" in body
    assert f"{{{{ facts.{fact} }}}}" in german_text
    assert lookup(content.facts_in("en"), fact) == en
    assert str(lookup(content.facts_in("de"), fact)).replace("\xa0", " ") == de
    assert fact in content.fact_info  # with its checked date and review period
