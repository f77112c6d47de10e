"""Issue 14: the plan fits the merchant in front of it. Profiles from /start to a plan
through the real Application, with what must and must not be in each plan."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.botapi.fake import SimulatedUser
from tests.chat import Profile, interview
from tests.test_scenarios import all_plan_pages

REGISTER = ("Register for TikTok Shop", "Apply for a TikTok Shop seller account")


@dataclass(frozen=True)
class Case:
    profile: Profile
    must: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    first: str | None = None  # the first entry of the plan
    extra: dict[str, str] = field(default_factory=dict)


CASES = [
    Case(  # already selling in Germany: grow and comply, no register/apply/go-live
        Profile("selling-de", "Shopify", ("Germany",), status="Already selling"),
        must=("You already sell — grow and stay compliant", "already sell on TikTok Shop"),
        must_not=(*REGISTER, "Final check before you go live", "Set up warehouse"),
    ),
    Case(  # Square seller already selling in four markets
        Profile(
            "square-selling-4",
            "Square",
            ("United States", "United Kingdom", "Germany", "France"),
            status="Already selling",
        ),
        must=("grow and stay compliant",),
        must_not=(*REGISTER, "Final check before you go live"),
    ),
    Case(  # applied: prepare while waiting, never "apply"
        Profile("applied-uk", "WooCommerce", ("United Kingdom",), status="Applied, waiting"),
        must=("While TikTok reviews your application", "you have applied"),
        must_not=("Apply for a TikTok Shop seller account", "Register for TikTok Shop"),
    ),
    Case(  # approved: set-up to first sale, no registration
        Profile("approved-us", "Shopify", ("United States",), status="Approved, not selling yet"),
        must=("Final check before you go live", "Set up warehouse"),
        must_not=REGISTER,
    ),
    Case(  # somewhere else only: a short honest plan, no set-up, no platform connector
        Profile("elsewhere-shopify", "Shopify", ("Somewhere else",)),
        must=("Before you start: TikTok Shop is not open in your country", "0 of 1 done"),
        must_not=(*REGISTER, "Connect Shopify", "Set up warehouse", "Final check"),
        first="TikTok Shop is not open in your country",
    ),
    Case(  # individual selling cross-border into the US: the blocker comes first
        Profile(
            "individual-xb-us",
            "WooCommerce",
            ("United States",),
            entity="Sole trader / individual",
            origin="Based abroad (cross-border)",
        ),
        must=("Before you start: Individuals cannot sell cross-border into the US or UK",),
        first="Individuals cannot sell cross-border",
    ),
    Case(  # no web store: nothing about Shopify or a store's reviews
        Profile("no-store-uk", "I have no web store", ("United Kingdom",)),
        must=("No web store — create your products in Seller Center",),
        must_not=("Shopify", "your store's reviews"),
    ),
    Case(  # new to TikTok: never used Storefront, no "replace Storefront" steps
        Profile(
            "new-to-tiktok-es",
            "Wix",
            ("Spain",),
            uses=("I didn't use Storefront / I'm new to TikTok",),
        ),
        must=("Register for TikTok Shop in Spain",),
        must_not=("Replace the Storefront", "you used Storefront for"),
    ),
    Case(  # local company, not started, with a go-live date: countdown and total time
        Profile("local-uk-golive", "Shopify", ("United Kingdom",), go_live="2027-03-31"),
        must=("Your go-live date: 31 March 2027", "in all", "Apply for a TikTok Shop seller"),
        must_not=("Individuals cannot sell",),
    ),
    Case(  # cross-border company into the UK: no individual blocker, cross-border step
        Profile(
            "company-xb-uk",
            "Ecwid",
            ("United Kingdom",),
            origin="Based abroad (cross-border)",
        ),
        must=("Selling into the UK from outside the UK",),
        must_not=("Individuals cannot sell", "Before you start"),
    ),
    Case(  # somewhere else plus a Shop market: the full plan for the Shop market
        Profile("elsewhere-and-mx", "BigCommerce", ("Mexico", "Somewhere else")),
        must=("Register for TikTok Shop in Mexico", "Where TikTok Shop is not available"),
        must_not=("TikTok Shop is not open in your country",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.profile.name for c in CASES])
async def test_plan_fits_the_merchant(user: SimulatedUser, case: Case) -> None:
    await interview(user, case.profile)
    plan = "\n".join(await all_plan_pages(user))
    for text in case.must:
        assert text in plan, (text, plan)
    for text in case.must_not:
        assert text not in plan, (text, plan)
    # Reasons are sentences, never option labels or filler.
    assert "it applies to every merchant" not in plan
    for label in ("Applied, waiting", "Based abroad (cross-border)", "I have no web store"):
        assert f"Because {label}" not in plan and f" {label}." not in plan
    # The 2023 history is optional background at the end, never the opener.
    entries = [line for line in plan.splitlines() if line[:2].strip() in ("▫️", "⛔", "📖")]
    assert entries and "Background" not in entries[0]
    if case.first is not None:
        assert case.first in entries[0], entries[0]
    assert "(optional): From TikTok Storefront to TikTok Shop" in plan


async def test_blocker_is_acknowledged_not_done_and_outside_the_count(
    user: SimulatedUser,
) -> None:
    await interview(user, CASES[5].profile)
    before = user.last_text()
    blocker = (await user.press("▶️ Next step"))[-1]
    assert "⛔ Before you start" in (blocker.text or "")
    assert blocker.button_labels[0] == "👍 Understood"
    assert "✅ Done" not in blocker.button_labels
    replies = await user.press("👍 Understood")
    assert "You have read this" in (replies[0].text or "")
    # The progress count did not move: acknowledging is not "done".
    count = before.split(" done")[0].splitlines()[-1]
    assert count.startswith("0 of")
    plan = (await user.send("/plan"))[-1].text or ""
    assert count in plan


async def test_somewhere_else_only_is_not_asked_about_a_shop_it_cannot_open(
    user: SimulatedUser,
) -> None:
    # Where TikTok Shop is not open there is no shop status, shop name or go-live date to
    # ask about: the plan has no register, set-up or go-live steps for it (issue 14's
    # "somewhere else" plan), so the interview ends after what Storefront was used for.
    await user.send("/start")
    await user.press("Shopify")
    await user.press("⬜ Somewhere else")
    entity = (await user.press("Done ✓"))[-1].text or ""
    assert entity.startswith("Question 3 of 7"), entity
    for label in ("Registered company", "Based in my markets", "1–50 products"):
        await user.press(label)
    await user.press("We ship ourselves")
    await user.press("⬜ Ads")
    end = (await user.press("Done ✓"))[-1]
    text = end.text or ""
    assert "Where do you stand with TikTok Shop" not in text and "0 of 1 done" in text, text
    assert "▶️ Next step" in end.button_labels
    # Adding a TikTok Shop market later asks what that market needs, and only that.
    await user.send("/profile")
    await user.press("Change: Markets")
    await user.press("⬜ United Kingdom")
    asked = (await user.press("Done ✓"))[-1].text or ""
    assert "Where do you stand with TikTok Shop" in asked, asked
    await user.press("Not started")
    await user.press("Skip")  # shop name
    after = (await user.press("Skip"))[-1].text or ""  # go-live date
    plan = "\n".join(await all_plan_pages(user))
    assert "Register for TikTok Shop in the United Kingdom" in plan, after


@pytest.mark.parametrize(
    ("platform", "markets", "shown"),
    [
        ("Shopify", ("United States",), True),
        ("Shopify", ("United States", "United Kingdom"), True),
        ("Square", ("United Kingdom",), False),
        ("Shopify", ("United Kingdom",), False),
        ("WooCommerce", ("Germany",), False),
    ],
)
async def test_an_uncertainty_flag_shows_where_it_applies(
    user: SimulatedUser, platform: str, markets: tuple[str, ...], shown: bool
) -> None:
    """The warning about AfterShip's reviews for Shopify stores on TikTok Shop US was on
    every merchant's step, a Square store in the UK's too."""
    await interview(user, Profile("f", platform, markets, status="Approved, not selling yet"))
    await user.send("/plan")
    await user.press(next(b for b in user.buttons() if "What carries over" in b))
    text = user.last_text()
    assert "What carries over" in text.splitlines()[0], text
    assert ("AfterShip's review syndication" in text) is shown, text
    assert "TikTok Pixel" in text  # the flag for everyone stays


async def step_text(user: SimulatedUser, title: str) -> str:
    """The text of the plan's step with this title, walking Next step / Done to it."""
    messages = await user.press("▶️ Next step")
    for _ in range(80):
        text = messages[-1].text or ""
        if title in text.splitlines()[0]:
            return text
        labels = messages[-1].button_labels
        messages = await user.press("👍 Understood" if "👍 Understood" in labels else "✅ Done")
    raise AssertionError(f"no step {title!r}")


@pytest.mark.parametrize(
    ("markets", "says"),
    [
        (("United Kingdom",), "For the UK: we found no official response time"),
        (("United States", "Spain"), "For the US and Spain: we found no official response time"),
    ],
)
async def test_the_returns_step_names_the_markets_it_has_no_figure_for(
    user: SimulatedUser, markets: tuple[str, ...], says: str
) -> None:
    """A UK-only merchant read "Your market: we found no official response time"."""
    await interview(user, Profile("r", "Shopify", markets))
    text = await step_text(user, "returns")
    assert says in text, text
