"""State lives in SQL: a restart, or a second instance, continues where the merchant was."""

from __future__ import annotations

import pytest

from bot.botapi.fake import FakeTelegram, SimulatedUser
from tests.conftest import AppFactory


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_restart_in_the_middle_of_the_interview(
    make_app: AppFactory, fake: FakeTelegram
) -> None:
    first = make_app()
    async with first:
        ann = SimulatedUser(first, fake, user_id=42)
        await ann.send("/start")
        await ann.press("Ecwid")
        await ann.press("⬜ Japan")
    # The process dies; a new one (or another instance) takes over.
    second = make_app()
    async with second:
        ann = SimulatedUser(second, fake, user_id=42)
        # The old message's buttons still work: the state came from the database.
        reply = (await ann.press("⬜ Mexico"))[-1].text or ""
        assert "Ticked: Mexico, Japan" in reply
        await ann.press("Done ✓")
        reply = (await ann.send("/start"))[-1].text or ""
        assert "Is your business a registered company" in reply


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_two_instances_share_one_merchant(make_app: AppFactory, fake: FakeTelegram) -> None:
    one, two = make_app(), make_app()
    async with one, two:
        on_one = SimulatedUser(one, fake, user_id=7)
        on_two = SimulatedUser(two, fake, user_id=7)
        await on_one.send("/start")
        await on_two.press("Shopify")
        reply = (await on_one.press("⬜ United Kingdom"))[-1].text or ""
        assert "Ticked: United Kingdom" in reply
        reply = (await on_two.press("Done ✓"))[-1].text or ""
        assert "registered company" in reply
