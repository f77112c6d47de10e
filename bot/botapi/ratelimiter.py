"""Every Bot API send of the process goes through the one RateBudget (PTB's rate-limiter hook).

Replies to merchants are not delayed by the global spacing (people come first) but are
counted in it, so the alert outbox, which waits for its turn, yields to them. A 429 pauses
everything for ``retry_after``; a reply that hit it is retried once after the pause.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.botapi.budget import RateBudget

# Methods that deliver something to a chat and count against Telegram's flood limits.
SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "editMessageText",
        "editMessageReplyMarkup",
        "copyMessage",
        "forwardMessage",
    }
)
OUTBOX = "outbox"  # rate_limit_args marker: the caller already waited its turn


class BudgetRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Routes the process's sends through one RateBudget."""

    def __init__(self, budget: RateBudget, *, on_429: Callable[[], None] | None = None) -> None:
        self.budget = budget
        self.on_429 = on_429

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],  # noqa: ARG002 - signature fixed by PTB
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Count sends in the budget; honour and propagate 429 pauses."""
        if endpoint not in SEND_METHODS:
            return await callback(*args, **kwargs)
        outbox = bool(rate_limit_args and rate_limit_args.get(OUTBOX))
        for attempt in (1, 2):
            if not outbox:
                await self.budget.reply()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = exc.retry_after
                delay = seconds if isinstance(seconds, int | float) else seconds.total_seconds()
                self.budget.penalise(float(delay))
                if self.on_429 is not None:
                    self.on_429()
                if outbox or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover
