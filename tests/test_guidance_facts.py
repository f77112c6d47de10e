"""Spot checks that named facts reach the merchant, through the real Application."""

from __future__ import annotations

from bot.botapi.fake import SimulatedUser
from tests.chat import Profile, interview


async def read_whole_plan(user: SimulatedUser) -> str:
    """Open every step and its details, marking each done; return all the text seen."""
    seen: list[str] = []
    messages = await user.press("▶️ Next step")
    for _ in range(80):
        step = messages[-1]
        text = step.text or ""
        if "very step of your plan is done" in text:
            return "\n".join(seen)
        seen.append(text)
        details = await user.press("ℹ️ Details")
        seen.append(details[-1].text or "")
        messages = await user.press_data(step.message_id, step.buttons[0][0][1] or "")  # Done
    raise AssertionError("the plan did not finish")


async def test_shopify_in_germany_is_told_the_app_does_not_cover_germany(
    user: SimulatedUser,
) -> None:
    await interview(user, Profile("p", "Shopify", ("Germany",)))
    text = await read_whole_plan(user)
    assert "covers only US and UK shops per Shopify's help" in text
    assert "Germany: both apps list it" in text
    assert "Silk" in text and "EcomSend Feed" in text
    assert "Not confirmed:" in text  # the unverified EU support is flagged as such
    assert "9%" in text and "8 January 2026" in text  # EU commission, with its date


async def test_shopify_in_the_uk_gets_the_first_party_app_and_uk_fees(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Shopify", ("United Kingdom",)))
    text = await read_whole_plan(user)
    assert "Connect Shopify with the TikTok app" in text
    assert "100 products a day" in text
    assert "2 September 2024" in text and "9%" in text


async def test_ireland_invite_only_then_open(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "WooCommerce", ("Ireland",)))
    text = await read_whole_plan(user)
    assert "15 May 2026" in text
    assert "TikTok for WooCommerce" in text


async def test_square_is_told_there_is_no_native_integration(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "Square", ("United States",)))
    text = await read_whole_plan(user)
    assert "LitCommerce" in text
    assert "we found no Square-made TikTok Shop integration" in text


async def test_market_without_tiktok_shop_gets_no_launch_promise(user: SimulatedUser) -> None:
    await interview(
        user,
        Profile("p", "I have no web store", ("Somewhere else",), status="Already selling"),
    )
    text = await read_whole_plan(user)
    assert "Netherlands" in text  # mentioned only as unverified
    for promise in ("will launch", "coming soon", "is launching"):
        assert promise not in text.lower()


async def test_every_step_shows_sources_with_dates(user: SimulatedUser) -> None:
    await interview(user, Profile("p", "BigCommerce", ("Mexico",)))
    text = await read_whole_plan(user)
    assert text.count("Sources (last checked 1 December 2026)") >= 5
