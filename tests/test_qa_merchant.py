"""A merchant typing instead of tapping, found by an adversarial walk before a test round.

Each test here failed before the fix it covers, and asserts on what the merchant sees or
what the bot stored, through the real Application and the fake Bot API.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.botapi.fake import SimulatedUser
from bot.storage.db import Database
from bot.storage.models import Merchant
from tests.chat import Profile, interview


async def answers_of(db: Database, user_id: int = 1001) -> dict[str, object]:
    async with db.session() as session:
        found = await session.get(Merchant, user_id)
        assert found is not None
        return dict(found.answers)


SHOP = Profile("q", "Shopify", ("United Kingdom",), shop_name="Tom's Tees")

# --- changing an answer: typing what the Cancel button (or Back) says ------------------------


SHOP_NAME = ("Change: Shop name", "What is your shop called?")
ENTITY = ("Change: Business type", "registered company")
MARKETS = ("Change: Markets", "Which markets")


@pytest.mark.parametrize(
    ("typed", "change", "question"),
    [
        ("cancel", *SHOP_NAME),
        ("back", *SHOP_NAME),
        ("Cancel!", *ENTITY),
        ("never mind", *ENTITY),
        ("✖️ Cancel", *MARKETS),
        ("back", *MARKETS),
    ],
)
async def test_typing_cancel_while_changing_an_answer_cancels_the_change(
    user: SimulatedUser, db: Database, typed: str, change: str, question: str
) -> None:
    await interview(user, SHOP)
    before = await answers_of(db)
    await user.send("/profile")
    assert question in ((await user.press(change))[-1].text or "")
    replies = await user.send(typed)
    shown = "\n".join(m.text or "" for m in replies)
    # The answers as they were, the profile back (not a shop called "cancel", not a hint).
    assert await answers_of(db) == before
    assert "Your answers" in shown and "Tom's Tees" in shown, shown
    assert "as they were" in shown
    assert "not sure what you mean" not in shown and "didn't catch" not in shown
    assert "Change: Shop name" in user.buttons()


async def test_typing_cancel_in_german_while_changing_an_answer(
    user: SimulatedUser, db: Database
) -> None:
    await user.send("/language Deutsch")
    german = Profile("q", "Shopify", ("UK",), shop_name="Laden", go_live="2027-06-30")
    await interview(user, replace(german, type_instead=True))
    before = await answers_of(db)
    await user.send("/profile")
    await user.press("Ändern: Shop-Name")
    shown = "\n".join(m.text or "" for m in await user.send("Abbrechen"))
    assert await answers_of(db) == before
    assert "Laden" in shown and "Abbrechen" not in shown


@pytest.mark.parametrize(
    ("change", "number"),
    [("Change: Markets", 2), ("Change: Shop name", 9), ("Change: Store platform", 1)],
)
async def test_a_changed_question_shows_its_own_number(
    user: SimulatedUser, change: str, number: int
) -> None:
    await interview(user, SHOP)
    await user.send("/profile")
    text = (await user.press(change))[-1].text or ""
    assert text.startswith(f"Question {number} · changing an answer"), text
