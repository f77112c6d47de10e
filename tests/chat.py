"""Scenario helpers that read like a merchant's chat."""

from __future__ import annotations

from dataclasses import dataclass

from bot.botapi.fake import FakeMessage, SimulatedUser


@dataclass(frozen=True)
class Profile:
    """A merchant's answers, as they would tap or type them."""

    name: str
    platform: str
    markets: tuple[str, ...]
    entity: str = "Registered company"
    origin: str = "Based in my markets"
    catalogue: str = "1–50 products"
    fulfilment: str = "We ship ourselves"
    uses: tuple[str, ...] = ("Shop tab on my profile",)
    status: str = "Not started"
    shop_name: str | None = None
    go_live: str | None = None
    type_instead: bool = False  # type option names instead of tapping


async def interview(user: SimulatedUser, profile: Profile) -> list[FakeMessage]:
    """Answer every question; return the messages the last answer produced."""
    await user.send("/start")

    async def one(label: str) -> list[FakeMessage]:
        return await (user.send(label) if profile.type_instead else user.press(label))

    async def many(labels: tuple[str, ...]) -> list[FakeMessage]:
        if profile.type_instead:
            return await user.send(", ".join(labels))
        for label in labels:
            await user.press(f"⬜ {label}")
        return await user.press("Done ✓")

    await one(profile.platform)
    await many(profile.markets)
    await one(profile.entity)
    await one(profile.origin)
    await one(profile.catalogue)
    last = await one(profile.fulfilment)
    if profile.platform != "I have no web store":
        last = await many(profile.uses)
    if profile.markets == ("Somewhere else",):
        return last  # no TikTok Shop there: nothing to ask about one (content/interview.yaml)
    last = await one(profile.status)
    last = await (user.send(profile.shop_name) if profile.shop_name else user.press("Skip"))
    if profile.status != "Already selling":
        last = await (user.send(profile.go_live) if profile.go_live else user.press("Skip"))
    return last


async def finish_plan(user: SimulatedUser, *, limit: int = 80) -> list[str]:
    """Press Done on every step in turn; return the step titles seen, in order."""
    messages = await user.press("▶️ Next step")
    titles: list[str] = []
    for _ in range(limit):
        message = messages[-1]
        text = message.text or ""
        first_line = text.splitlines()[0]
        if "very step of your plan is done" in first_line:
            return titles
        titles.append(first_line)
        labels = message.button_labels
        messages = await user.press("👍 Understood" if "👍 Understood" in labels else "✅ Done")
    raise AssertionError("the plan did not finish")
