"""How the update being handled reached the handlers: set by the durable inbox
(bot.updates) around each attempt, read by the error handler and by the turn.

A module of its own, below the services: a turn (bot.services.core) reads the update's id
from here to record it in the merchant row, and recognise an update handled again.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime


@dataclass
class Delivery:
    """How the update being handled reached the handlers (set by bot.updates).

    The error handler marks it failed; only on the final attempt does the merchant get the
    apology and operators a notice (earlier attempts are retried quietly).
    """

    attempt: int = 1
    final: bool = True
    failed: bool = False
    error: str | None = None
    exception: BaseException | None = None  # what failed it (a dropped connection is retried)
    # The update's id and when the inbox received it (None outside the inbox: tests, tools).
    update_id: int | None = None
    received: datetime | None = None
    # It may have been handled before: taken from the inbox again (a retry, or left by a
    # process that died) or tried a second time. A turn then checks the merchant's recorded
    # update id; an update handled right after it was accepted cannot have had a turn yet.
    again: bool = False
    # The attempt changed nothing and asked to be run again at once (:class:`HandleAgain`);
    # allowed a few times in a row (bot.updates.HANDLE_AGAIN), then it counts as a failure.
    handle_again: bool = False
    may_handle_again: bool = True


class HandleAgain(Exception):
    """Raised by a turn that wrote nothing because what it read changed meanwhile (another
    instance handled the same merchant at the same moment): the update is handled again from
    the start, at once (bot.updates), not counted as a failure."""


DELIVERY: ContextVar[Delivery | None] = ContextVar("bot_delivery", default=None)


def current_delivery() -> Delivery:
    """The current update's delivery; outside the inbox (e.g. tests) a single, final one."""
    delivery = DELIVERY.get()
    if delivery is None:
        delivery = Delivery()
        DELIVERY.set(delivery)
    return delivery
