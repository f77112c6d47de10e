"""Figures in guidance come from facts.yaml in every language (issue 18: "numbers and dates
inside guidance come from facts.yaml variables, never typed into a translation")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.content.loader import Content, ContentError, load_content
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


def test_a_title_reads_its_figure_from_facts_in_each_language(content: Content) -> None:
    for path in (GUIDANCE / "eu-import-duty.md", GERMAN / "eu-import-duty.md"):
        title = next(
            line for line in path.read_text(encoding="utf-8").splitlines() if line[:6] == "title:"
        )
        assert "{{ facts.cross_border.eu_duty }}" in title and "3" not in title
    english = content.step_text("en", "eu-import-duty").title
    german = content.step_text("de", "eu-import-duty").title.replace("\xa0", " ")
    assert english == "Shipping into the EU from outside — the €3 duty per item"
    assert german == "Versand in die EU von außerhalb – 3 € Zoll pro Artikel"


@pytest.mark.parametrize(
    ("title", "problem"),
    [
        ("Storefront ends: {{ facts.no_such.fact }}", "unknown fact"),
        ("Storefront {% if x %}ends{% endif %}", "only {{ facts.<name> }}"),
        ("Storefront " * 8 + "{{ facts.cross_border.eu_duty }}", "over 80 characters"),
    ],
)
def test_a_broken_title_fails_at_its_line(small_tree: Path, title: str, problem: str) -> None:
    path = small_tree / "guidance" / "what-changed.md"
    text = path.read_text(encoding="utf-8")
    old = next(line for line in text.splitlines() if line.startswith("title:"))
    path.write_text(text.replace(old, f'title: "{title}"'), encoding="utf-8")
    line = text.splitlines().index(old) + 1
    with pytest.raises(ContentError) as failed:
        load_content(small_tree)
    assert any(
        str(p).startswith(f"{path}:{line}:") and problem in str(p) for p in failed.value.problems
    ), failed.value.problems
