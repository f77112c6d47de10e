"""Issue 16: the December 2026 corrections are visible in the plan of the merchants they affect.

Each profile's plan is rendered the way ``python -m bot content preview`` renders it (every
step and its details, through the same Views the bot uses), and a few end-to-end checks go
through the real Application like tests/test_guidance_facts.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from bot.botapi.fake import SimulatedUser
from bot.botapi.tghtml import html_to_terminal
from bot.content.check import Checker
from bot.content.loader import Content, load_content
from bot.content.preview import Preview, preview
from tests.chat import Profile, interview
from tests.test_guidance_facts import read_whole_plan

CONTENT = Path(__file__).resolve().parent.parent / "content"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@cache
def _content() -> Content:
    return load_content(CONTENT)


def plan_text(*answers: str) -> str:
    """Every step and its details for these answers, as `content preview` prints them."""
    return "\n".join(html_to_terminal(screen.text) for screen in _preview(*answers).screens())


def step_ids(*answers: str) -> list[str]:
    return [step.id for step in _preview(*answers).plan]


def _preview(*answers: str) -> Preview:
    checker = Checker(_content())
    return preview(
        checker.content, checker.views, answers, lang="en", now=NOW, deadline=checker.deadline
    )


# --- 1. corrections -----------------------------------------------------------------------


@pytest.mark.slow
def test_returns_clocks_are_indonesias_not_everyones() -> None:
    uk = plan_text("platform=shopify", "market=uk")
    # the old universal clocks (Indonesia's) are gone for a UK merchant
    assert "Answer each request within" not in uk
    assert "the buyer has 5 days to send the item back" not in uk
    assert "within 8 days" not in uk
    assert "check the deadline Seller Center shows" in uk
    sea = plan_text("platform=shopify", "market=sea")
    assert "Vietnam and Thailand" in sea and "1 working day" in sea
    assert "Indonesia" in sea and "48 hours" in sea
    assert "7 days (15 days for Mall shops)" in sea


def test_go_live_checklist_no_longer_promises_48_hours() -> None:
    text = plan_text("platform=shopify", "market=us")
    assert "answers return requests within 48 hours" not in text
    assert "return requests every day" in text


def test_uk_self_shipped_orders_carry_the_50p_charge() -> None:
    text = plan_text("platform=shopify", "market=uk", "fulfilment=own")
    assert "£0.50 service charge" in text
    assert "15 July 2025" in text
    assert "9%" in text


def test_us_fbt_does_not_quote_the_previous_rate_card() -> None:
    text = plan_text("platform=shopify", "market=us", "fulfilment=fbt")
    assert "$3.58" not in text
    assert "[PREVIOUS]" in text
    assert "16 June 2025" in text
    assert "29 May 2025" in text  # co-funded free shipping ended
    assert "Buyers get free shipping on orders over" not in text


def test_us_deposit_only_for_cross_border_shops() -> None:
    local = plan_text("platform=shopify", "market=us", "origin=local")
    assert "$1,500" not in local
    abroad = plan_text("platform=shopify", "market=us", "origin=cross_border")
    assert "$1,500" in abroad and "15 December 2025" in abroad
    assert "cross-border (POP) shops" in abroad


def test_english_product_names_only_for_the_us() -> None:
    jp = plan_text("platform=woocommerce", "market=jp")
    assert "English title" not in jp
    assert "must be in **English**" not in jp
    assert "need **Japanese** titles" in jp
    us = plan_text("platform=woocommerce", "market=us")
    assert "must be in **English**" in us


@pytest.mark.parametrize("platform", ["wix", "bigcommerce"])
@pytest.mark.parametrize("market", ["de", "fr", "it", "ie", "be", "mx", "jp", "br"])
def test_aftership_feed_is_not_offered_where_it_does_not_work(platform: str, market: str) -> None:
    text = plan_text(f"platform={platform}", f"market={market}")
    assert "AfterShip Feed does not list" in text
    assert "do not say which countries Silk and AfterShip Feed" not in text
    assert "do not say which TikTok Shop countries these apps cover" not in text


def test_aftership_feed_lists_its_markets_for_the_uk() -> None:
    text = plan_text("platform=wix", "market=uk")
    assert "US, UK and South-East Asia" in text
    assert "AfterShip Feed does not list" not in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("market", "name"), [("nl", "Netherlands"), ("at", "Austria"), ("pl", "Poland")]
)
def test_new_markets_are_options_flagged_unverified(market: str, name: str) -> None:
    content = _content()
    assert market in content.interview.question("market").options
    ids = step_ids("platform=shopify", f"market={market}")
    assert "market-nl-at-pl" in ids
    assert "shopify-connector-other-markets" in ids
    assert "eu-product-compliance" in ids
    text = plan_text("platform=shopify", f"market={market}")
    assert "15 June 2026" in text
    assert "Not confirmed" in text
    assert name in text
    assert "no launch date has been published" not in text


def test_elsewhere_no_longer_says_no_netherlands_date_exists() -> None:
    text = plan_text("platform=none", "market=elsewhere", "shop_status=selling")
    assert "no launch date has been published" not in text
    assert "15 June 2026" in text


# --- 2. new steps -------------------------------------------------------------------------


@pytest.mark.slow
def test_eu_compliance_step_for_germany_and_france() -> None:
    text = plan_text("platform=shopify", "market=de,fr")
    assert "Responsible Person" in text and "13 December 2024" in text
    assert "14 days" in text
    assert "LUCID" in text and "Impressum" in text and "unit prices" in text
    assert "IDU" in text and "1 January 2022" in text
    es = plan_text("platform=shopify", "market=es")
    assert "Responsible Person" in es
    assert "LUCID" not in es and "unique identifier (IDU)** from ADEME" not in es


@pytest.mark.slow
def test_eu_compliance_step_is_not_shown_outside_the_eu() -> None:
    assert "eu-product-compliance" not in step_ids("platform=shopify", "market=us")
    assert "eu-product-compliance" not in step_ids("platform=shopify", "market=uk")


@pytest.mark.slow
def test_cross_border_blockers() -> None:
    eu = plan_text("platform=shopify", "market=de", "origin=cross_border")
    assert "€3" in eu and "1 July 2026" in eu
    assert "eu-import-duty" not in step_ids("platform=shopify", "market=de", "origin=local")
    us = plan_text("platform=shopify", "market=us", "origin=cross_border")
    assert "de minimis" in us and "29 August 2025" in us
    uk = plan_text("platform=shopify", "market=uk", "origin=cross_border")
    assert "Stock in the UK" in uk and "15 April 2023" in uk
    assert "Not confirmed" in uk
    jp = plan_text("platform=shopify", "market=jp", "origin=cross_border")
    assert "¥150,000" in jp and "15 March 2026" in jp
    assert "jp-cross-border" not in step_ids("platform=shopify", "market=jp", "origin=local")


@pytest.mark.slow
def test_us_tax_forms() -> None:
    local = plan_text("platform=shopify", "market=us", "origin=local")
    assert "marketplace facilitator" in local
    assert "W-9" in local and "1099-K" in local
    assert "file **Form W-8BEN**" not in local
    abroad = plan_text("platform=shopify", "market=us", "origin=cross_border")
    assert "file **Form W-8BEN**" in abroad


@pytest.mark.slow
def test_us_seller_shipping_episode_warning() -> None:
    text = plan_text("platform=shopify", "market=us", "fulfilment=own")
    assert "17 February 2026" in text
    assert "Seller Shipping remains unchanged" in text
    assert "us-seller-shipping-warning" not in step_ids(
        "platform=shopify", "market=us", "fulfilment=fbt"
    )


def test_new_and_changed_steps_are_checked_in_december_2026() -> None:
    content = _content()
    for step_id in (
        "returns-setup",
        "fbt-us",
        "us-fees",
        "us-cross-border",
        "market-uk",
        "woocommerce-plugin",
        "wix-third-party",
        "bigcommerce-middleware",
        "eu-product-compliance",
        "eu-import-duty",
        "jp-cross-border",
        "us-tax-forms",
        "us-seller-shipping-warning",
        "market-nl-at-pl",
    ):
        step = next(s for s in content.steps if s.id == step_id)
        assert str(step.checked) == "2026-12-01", step_id
        assert step.sources, step_id


# --- 3. re-verification (December 2026) -------------------------------------------------


def test_shopify_discounts_follow_the_march_2026_guide() -> None:
    text = plan_text("platform=shopify", "market=us")
    assert "only one discount can be active at a time" not in text
    assert "• codes with usage limits" not in text
    assert "per-order usage limit" in text
    assert "only one applies to it" in text


def test_thai_new_shop_limits_are_not_per_day_products() -> None:
    text = plan_text("platform=shopify", "market=sea", "shop_status=not_started")
    assert "1,000 products a day" not in text
    assert "100 orders a day, 1,000 products" in text


def test_mexico_categories_and_cross_border_follow_the_sources() -> None:
    text = plan_text("platform=shopify", "market=mx")
    assert "such as food and jewellery" not in text
    assert "sellers from outside Mexico have been admitted" not in text
    assert "mainland China or Hong Kong" in text
    assert "maternity and baby products" in text


def test_france_fbt_report_is_shown_as_unconfirmed() -> None:
    text = plan_text("platform=shopify", "market=fr")
    assert "We found no information on Fulfilled by TikTok in France" not in text
    assert "16 January 2026" in text
    assert "not confirmed" in text


def test_germany_probation_is_attributed_to_t3n() -> None:
    text = plan_text("platform=shopify", "market=de")
    assert "New shops go through a 60-day probation." not in text
    assert "t3n reported" in text


def test_ecwid_30_days_rule_is_on_the_current_page() -> None:
    text = plan_text("platform=ecwid", "market=us")
    assert "An older version of Ecwid's page" not in text
    assert 'Selling with TikTok Shop" page also asks for 30 days' in text


def test_affiliate_rules_are_tiktoks_checked_daily() -> None:
    text = plan_text("platform=shopify", "market=us")
    assert "a third-party guide says your shop needs" not in text
    assert "TikTok checks every day" in text
    assert "no counterfeit violations" in text


def test_unconfirmed_aftership_reviews_and_order_hold_wording() -> None:
    text = plan_text("platform=shopify", "market=us")
    assert "AfterShip offers review syndication" not in text
    assert "we could not re-check this in December 2026" in text
    assert "TikTok holds most new orders" in text


def test_off_platform_rules_name_their_markets() -> None:
    text = plan_text("platform=shopify", "market=uk")
    assert "Thai and Vietnamese seller pages" in text


def test_belgium_launch_confirmed_by_a_second_report() -> None:
    text = plan_text("platform=shopify", "market=be")
    assert "Our only source is a news report" not in text
    assert "went live on 15 June 2026" in text


def test_every_step_was_rechecked_in_december_2026() -> None:
    for step in _content().steps:
        assert str(step.checked) >= "2026-12-01", step.id


# --- through the real Application ---------------------------------------------------------


async def test_typed_netherlands_is_understood(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("Netherlands",), type_instead=True))
    text = await read_whole_plan(user)
    assert "TikTok Shop in the Netherlands, Austria and Poland (not confirmed)" in text
    assert "15 June 2026" in text


async def test_uk_merchant_sees_the_50p_charge_in_the_bot(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    text = await read_whole_plan(user)
    assert "£0.50" in text
    assert "Answer each request within" not in text
