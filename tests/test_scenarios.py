"""Merchants from /start to a finished plan, through the real Application and fake Bot API."""

from __future__ import annotations

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from tests.chat import Profile, finish_plan, interview

PROFILES = [
    Profile("shopify-uk", "Shopify", ("United Kingdom",), shop_name="Ann & Bob's <Shop>"),
    Profile(
        "shopify-de-typed",
        "Shopify",
        ("Germany",),
        uses=("Product links in videos", "Ads"),
        type_instead=True,
    ),
    Profile(
        "woo-us-cross-border",
        "WooCommerce",
        ("United States",),
        origin="Based abroad (cross-border)",
        fulfilment="Interested in Fulfilled by TikTok",
        go_live="2027-03-31",
    ),
    Profile(
        "none-elsewhere",
        "I have no web store",
        ("Somewhere else",),
        entity="Sole trader / individual",
        status="Already selling",
    ),
    Profile(
        "square-ie-es",
        "Square",
        ("Ireland", "Spain"),
        catalogue="More than 500 products",
        uses=("Selling in LIVE",),
        status="Applied, waiting",
    ),
    Profile(
        "ecwid-jp-sea",
        "Ecwid",
        ("Japan", "South-East Asia"),
        fulfilment="A 3PL / fulfilment partner",
        status="Approved, not selling yet",
    ),
    Profile("bigcommerce-mx-br", "BigCommerce", ("Mexico", "Brazil"), type_instead=True),
    Profile("wix-be", "Wix", ("Belgium",), uses=("Ads",)),
]


async def all_plan_pages(user: SimulatedUser) -> list[str]:
    """The plan message the merchant is looking at, every page of it."""
    pages = [user.last_text()]
    while "Later steps ▶" in user.buttons():
        pages.append((await user.press("Later steps ▶"))[-1].text or "")
    return pages


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
async def test_merchant_gets_a_plan_and_finishes_it(
    user: SimulatedUser, fake: FakeTelegram, profile: Profile
) -> None:
    replies = await interview(user, profile)
    texts = [m.text or "" for m in replies]
    # The answers come back as a profile, then the plan follows.
    assert any("Your answers" in t for t in texts), texts
    plan = replies[-1].text or ""
    assert "0 of" in plan and "done" in plan
    assert "Storefront closed on" not in plan  # 2023 history is a Background step now
    if profile.shop_name:
        assert f"Plan for {profile.shop_name}" in plan  # escaped in HTML, intact for the reader
    titles = await finish_plan(user)
    assert titles, "the plan has steps"
    final = user.last_text()
    assert "very step of your plan is done" in final
    # Every message the bot sent was accepted by the strict fake (no 400s).
    assert all(call.status == 200 for call in fake.calls), [
        (c.method, c.response) for c in fake.calls if c.status != 200
    ]
    plan_again = await user.send("/plan")
    assert "🎉 Every step is done or skipped" in (plan_again[-1].text or "")


async def test_plan_explains_why_each_step_applies(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    pages = await all_plan_pages(user)
    assert len(pages) > 1 and "page 2 of" in pages[1]
    plan = "\n".join(pages)
    # Written sentences, not option labels pasted into a template (issue 14).
    assert "Because you sell on Shopify in the United Kingdom." in plan
    assert "you sell in United Kingdom" not in plan
    assert "it applies to every merchant" not in plan
    earlier = (await user.press("◀ Earlier steps"))[-1].text or ""
    assert f"page {len(pages) - 1} of {len(pages)}" in earlier


async def test_step_message_has_done_skip_details_back(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "WooCommerce", ("United States",)))
    step = (await user.press("▶️ Next step"))[-1]
    assert step.button_labels == ["✅ Done", "⏭ Skip", "ℹ️ Details", "« Back to plan"]
    details = (await user.press("ℹ️ Details"))[-1]
    assert "Sources (last checked" in (details.text or "")
    links = [e.url for e in details.entities if e.type == "text_link"]
    assert links and all(url and url.startswith("http") for url in links)


async def test_done_sends_next_step_with_context_and_undo_works(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",), shop_name="Ann & Co"))
    first = (await user.press("▶️ Next step"))[-1]
    first_title = (first.text or "").splitlines()[0]
    replies = await user.press("✅ Done")
    edited, following = replies[0], replies[-1]
    assert "You marked this done" in (edited.text or "")
    assert "↩️ Undo" in edited.button_labels
    assert "Nice work on Ann & Co! 1 of" in (following.text or "")
    assert (following.text or "").splitlines()[0] != first_title
    # Undo on the first step's message reopens it.
    undone = await user.press_data(edited.message_id, edited.buttons[0][0][1] or "")
    assert "✅ Done" in undone[0].button_labels
    plan = (await user.send("/plan"))[-1].text or ""
    assert "0 of" in plan


async def test_skip_then_next_and_finish_message(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Wix", ("Belgium",)))
    await user.press("▶️ Next step")
    replies = await user.press("⏭ Skip")
    assert "You skipped this" in (replies[0].text or "")
    nxt = (await user.send("/next"))[-1].text or ""
    assert nxt.startswith("Step 2 of")


async def test_profile_change_one_answer_and_plan_follows(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    before = user.last_text()
    profile = (await user.send("/profile"))[-1]
    assert "Change: Store platform" in profile.button_labels
    question = (await user.press("Change: Store platform"))[-1]
    assert "changing an answer" in (question.text or "")
    await user.press("WooCommerce")
    plan = "\n".join(await all_plan_pages(user))
    assert "you sell on WooCommerce" in plan
    assert "you sell on Shopify" not in plan
    assert plan != before


async def test_back_button_returns_along_the_path(user: SimulatedUser) -> None:
    await user.send("/start")
    await user.press("I have no web store")
    await user.press("⬜ United States")
    await user.press("Done ✓")
    for label in ("Registered company", "Based in my markets", "1–50 products"):
        await user.press(label)
    question = (await user.press("We ship ourselves"))[-1]
    # "no web store" skipped the Storefront question: Back goes to fulfilment, not to it.
    assert "Where do you stand with TikTok Shop?" in (question.text or "")
    back = (await user.press("« Back"))[-1]
    assert "Who packs and ships your orders?" in (back.text or "")
    assert "✓ We ship ourselves" in back.button_labels
    back = (await user.press("« Back"))[-1]
    assert "How many products" in (back.text or "")


async def test_interview_message_is_edited_in_place(
    user: SimulatedUser, fake: FakeTelegram
) -> None:
    await user.send("/start")
    question = user.last_reply()
    assert question is not None
    await user.press("Shopify")
    after = user.last_reply()
    assert after is not None and after.message_id == question.message_id and after.edited
    assert len(fake.calls_to("editMessageText")) == 1
