"""The durable inbox between Telegram and the handlers: nothing acknowledged is lost.

The contract: an update acknowledged to Telegram — answered 200 by ``serve``, or passed by
the polling offset in ``run`` — was written to the ``inbox`` table first, in one short
transaction. It is then handled; if the process dies first, it is handled when its lease
runs out (by any ``serve`` instance, or by ``run`` at its next start). A failed update is
tried :attr:`UpdateRunner.max_attempts` times; after the last failure the merchant gets the
apology and operators one line (``handlers.errors``).

Replies are at least once, state changes exactly once. An update's turn records its id in
the merchant row (``merchant.last_update_id``, in the turn's one ``UPDATE merchant``), so
an update handled again — its process died after the turn committed but before it was
recorded done, or its reply failed after the commit and it is retried — changes nothing:
its turn shows the merchant where they are (``bot.services.core.Repeated``) instead of
applying a typed answer or a press a second time; a command that only shows something
(/help, /plan, /export) is answered again. An update taken from the inbox again carries
``Delivery.again``; one handled right after it was accepted cannot have had a turn yet.

Because handling again is harmless, handled updates are recorded done in batches
(:data:`DONE_DELAY`, :data:`DONE_BATCH`): one statement for all the updates handled within
50 ms, written at shutdown too (:meth:`UpdateRunner.drain`). A batch that could not be
written (the database down) or was lost with the process is handled again once the leases
run out. Retries and give-ups are written at once.

Repeated identical commands are coalesced (:class:`Coalescer`): the same ``/command`` from
the same chat within :data:`COALESCE_SECONDS` of the one answered (by Telegram's message
date) is recorded as handled without a second reply, so one merchant tapping /help twenty
times costs one message, not twenty (and no 429 that pauses everybody). Button presses and
any other text (interview answers) are never coalesced, nor is a retried update.

Handled ids stay in the inbox (without their payload) for :data:`KEEP` so that Telegram's
re-deliveries are recognised and ignored, across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from bot.botapi import raw
from bot.context import BotApp
from bot.delivery import DELIVERY, Delivery
from bot.storage import inbox
from bot.storage.db import lost_connection
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

#: How long handled update ids are kept to recognise re-deliveries.
KEEP = timedelta(days=7)
#: Long-poll timeout (seconds) for ``getUpdates``.
POLL_TIMEOUT = 10
#: Seconds (message dates) within which a repeated identical command is not answered again.
COALESCE_SECONDS = 5
#: Chats remembered by the coalescer before old entries are dropped.
COALESCE_CHATS = 10_000
#: Handled updates are recorded done together, by one statement: at most this many seconds
#: after the first of a batch was handled (under load, every update handled meanwhile
#: shares it: at 200 updates/s about 10; alone, an update waits this long for nothing, as
#: long as a human cannot notice), or at once when :data:`DONE_BATCH` wait. A crash loses
#: at most these last moments' records: those updates are handled again, which changes
#: nothing (their turns committed: the merchant row knows, bot.services.core.Repeated).
DONE_DELAY = 0.05
#: Handled updates waiting to be recorded done that are written at once (one statement).
DONE_BATCH = 100
#: Times an update whose turn wrote nothing because its merchant changed meanwhile
#: (bot.delivery.HandleAgain: another instance's turn for the chat came first) is handled
#: again at once; if it changed the last time too, that attempt failed (it is tried again
#: later, or on the final attempt the merchant gets the apology).
HANDLE_AGAIN = 5


class Coalescer:
    """Recognises a command repeated by one chat while its first answer is still fresh."""

    def __init__(self, window: int = COALESCE_SECONDS, size: int = COALESCE_CHATS) -> None:
        self.window = window
        self.size = size
        self._last: dict[int, tuple[str, int]] = {}  # chat id -> (command text, message date)

    def repeat(self, payload: dict[str, Any]) -> bool:
        """True for a ``/command`` identical to the one this chat sent just before."""
        message = payload.get("message")
        if not isinstance(message, dict):
            return False
        text, chat, date = message.get("text"), message.get("chat"), message.get("date")
        if not (isinstance(text, str) and text.startswith("/") and isinstance(chat, dict)):
            return False
        chat_id, when = chat.get("id"), date if isinstance(date, int) else 0
        if not isinstance(chat_id, int):
            return False
        last = self._last.get(chat_id)
        if last is not None and last[0] == text and 0 <= when - last[1] < self.window:
            return True
        if len(self._last) >= self.size:
            self._last = {k: v for k, v in self._last.items() if when - v[1] < self.window}
        self._last[chat_id] = (text, when)
        return False


class UpdateRunner:
    """Accepts updates into the inbox and handles them through the Application."""

    def __init__(
        self,
        app: BotApp,
        *,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 3,
        retry_delays: Sequence[float] = (2.0, 10.0),
        sweep_every: float = 2.0,
        done_delay: float = DONE_DELAY,
        done_batch: int = DONE_BATCH,
    ) -> None:
        self.app = app
        self.db = app.bot_data.db
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_delays = tuple(retry_delays)
        self.sweep_every = sweep_every
        self._tasks: set[asyncio.Task[bool]] = set()
        self.coalescer = Coalescer()
        self.on_coalesced: Callable[[], None] | None = None  # counts them (metrics)
        # Handled update ids not yet recorded done, the timer that writes them, the writes.
        self.done_delay = done_delay
        self.done_batch = done_batch
        self._done: list[int] = []
        self._done_timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()

    # --- accepting ------------------------------------------------------------------------

    async def accept(self, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write updates to the inbox; return the ones not seen before (leased to us)."""
        return await inbox.accept(self.db, payloads, self.clock(), self.lease)

    def spawn(
        self,
        payloads: Sequence[dict[str, Any]],
        attempts: int = 0,
        received: datetime | None = None,
    ) -> None:
        """Handle accepted updates concurrently (one chat's in order: the update processor)."""
        for payload in payloads:
            self.background(self.handle(payload, attempts, received=received))

    def background(self, handling: Coroutine[Any, Any, bool]) -> None:
        """Run the handling of an accepted update as a task that :meth:`drain` waits for."""
        task = asyncio.ensure_future(handling)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the updates being handled, then record them done (shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.flush()

    # --- recording handled updates done, in batches ---------------------------------------

    def _handled(self, update_id: int) -> None:
        """Record the update done with the next batch (:data:`DONE_DELAY`)."""
        self._done.append(update_id)
        if len(self._done) >= self.done_batch:
            self._write_done()
        elif self._done_timer is None:
            loop = asyncio.get_running_loop()
            self._done_timer = loop.call_later(self.done_delay, self._write_done)

    def _write_done(self) -> None:
        """Write the waiting ids now (one statement), in a task :meth:`flush` waits for."""
        if self._done_timer is not None:
            self._done_timer.cancel()
            self._done_timer = None
        ids, self._done = self._done, []
        if ids:
            task = asyncio.ensure_future(self._record_done(ids))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _record_done(self, ids: list[int]) -> None:
        try:
            await inbox.done(self.db, ids)
        except Exception:
            # The database is down: their leases run out and they are handled again, which
            # changes nothing (their turns committed) and shows merchants their screen again.
            log.warning("could not record %d handled update(s) done", len(ids), exc_info=True)

    async def flush(self) -> None:
        """Record every update handled so far done, now (shutdown; tests)."""
        self._write_done()
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    # --- handling -------------------------------------------------------------------------

    async def handle(
        self,
        payload: dict[str, Any],
        attempts: int = 0,
        *,
        update: Update | None = None,
        received: datetime | None = None,
    ) -> bool:
        """Handle one accepted update and record the outcome; True when it succeeded.

        ``received``: when the inbox received it (from the row when it is handled again; just
        now when it was just accepted).
        """
        update_id = int(payload["update_id"])
        # Just accepted (not taken from the inbox again): no turn can have run for it yet.
        fresh = received is None and not attempts
        if received is None:
            received = self.clock()
        if not attempts and self.coalescer.repeat(payload):
            log.info(
                "update %d repeats the chat's last command: recorded, not answered again",
                update_id,
            )
            if self.on_coalesced is not None:
                self.on_coalesced()
            # If this record is lost, the lease runs out and it is handled (answered) after all.
            self._handled(update_id)
            return True
        attempt = attempts + 1
        if update is None:  # stored as it came (polling, the inbox): parse it here, once
            try:
                update = Update.de_json(payload, self.app.bot)
            except Exception as exc:  # no handler can read it: trying again cannot help
                error = f"unreadable update: {type(exc).__name__}: {exc}"[:500]
                log.error("update %d could not be read (%s)", update_id, error)
                await self._record_failure(
                    update_id, Delivery(attempt=attempt, final=True, failed=True, error=error)
                )
                return False
        delivery = await self._attempt(update, attempt, received, again=not fresh)
        for tries in range(1, HANDLE_AGAIN + 1):
            if not delivery.handle_again:
                break
            # Its turn wrote nothing: the merchant changed while it ran (another instance's
            # turn for the same chat committed first). Run it again now, on what is stored;
            # the last time, a change meanwhile is a failed attempt (tried again later).
            delivery = await self._attempt(
                update, attempt, received, again=True, may_handle_again=tries < HANDLE_AGAIN
            )
        if delivery.failed and not delivery.final and lost_connection(delivery.exception):
            # A pooled connection the database had dropped (it restarted): the pool has let
            # go of every such connection now, so try again at once instead of later.
            log.info("update %d: database connection was dropped; trying again", update_id)
            delivery = await self._attempt(update, attempt, received, again=True)
        if not delivery.failed:
            self._handled(update_id)  # with the next batch; failures are written at once
            return True
        await self._record_failure(update_id, delivery)
        return False

    async def _record_failure(self, update_id: int, delivery: Delivery) -> None:
        """Write a failed attempt's outcome now: given up after the last, else due again."""
        attempt = delivery.attempt
        try:
            if delivery.final:
                await inbox.give_up(self.db, update_id, attempt, delivery.error or "failed")
                log.error("update %d failed %d times: given up", update_id, attempt)
            else:
                delay = self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)]
                at = self.clock() + timedelta(seconds=delay)
                await inbox.retry(self.db, update_id, attempt, delivery.error or "failed", at)
        except Exception:
            # The outcome could not be written (database down): the lease runs out and the
            # update is handled again; replies are at least once.
            log.warning("could not record the outcome of update %d", update_id, exc_info=True)

    async def _attempt(
        self,
        update: Update,
        attempt: int,
        received: datetime,
        *,
        again: bool,
        may_handle_again: bool = True,
    ) -> Delivery:
        """Run the handlers once; the returned delivery says whether (and how) it failed.
        ``again``: it may have been handled before (its turn checks; see bot.delivery)."""
        delivery = Delivery(
            attempt=attempt,
            final=attempt >= self.max_attempts,
            update_id=update.update_id,
            received=received,
            again=again,
            may_handle_again=may_handle_again,
        )
        token = DELIVERY.set(delivery)
        try:
            app = self.app
            await app.update_processor.process_update(update, app.process_update(update))
        except Exception as exc:  # not a handler failure (those go to the error handler)
            delivery.failed = True
            delivery.exception = exc
            delivery.error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("update %d could not be handled", update.update_id)
        finally:
            DELIVERY.reset(token)
        return delivery

    async def sweep(self, *, recover: bool = False) -> int:
        """Handle pending updates whose lease ran out: retries due, and those a dead process
        left behind. ``recover`` treats every lease as run out (one process per database, at
        start). Returns how many were taken."""
        now = self.clock()
        leased = await inbox.claim(self.db, now + self.lease if recover else now, self.lease, 50)
        for item in leased:
            self.spawn([item.payload], attempts=item.attempts, received=item.received_at)
        return len(leased)

    async def sweep_forever(self, stop: asyncio.Event) -> None:
        """Sweep every few seconds, and prune old ids hourly, until ``stop``."""
        last_prune: datetime | None = None
        while not stop.is_set():
            try:
                await self.sweep()
                now = self.clock()
                if last_prune is None or now - last_prune > timedelta(hours=1):
                    last_prune = now
                    if gone := await inbox.prune(self.db, now - KEEP):
                        log.info("pruned %d old update ids", gone)
            except Exception as exc:  # the database may be down: try again later
                log.warning("inbox sweep failed (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_every)

    # --- long polling (run) ---------------------------------------------------------------

    async def poll(self, stop: asyncio.Event, allowed_updates: Sequence[str]) -> None:
        """``getUpdates`` until ``stop``: each batch is written to the inbox before the next
        call moves the offset past it (that call is what acknowledges it to Telegram)."""
        bot = self.app.bot
        where = bot.base_url
        offset: int | None = None
        pause = 1.0
        webhook_cleared = False  # getUpdates is refused while a webhook is set

        async def fetch_batch() -> list[dict[str, Any]]:
            nonlocal webhook_cleared
            if not webhook_cleared:
                await bot.delete_webhook(drop_pending_updates=False)
                webhook_cleared = True
            # The updates as JSON, as the inbox stores them: each is parsed once, when it is
            # handled (PTB's get_updates would build every Update here, only for us to turn
            # it back into JSON). The read timeout is the long poll plus 15 s, as before.
            return await raw.get_updates(
                bot,
                offset=offset,
                long_poll=POLL_TIMEOUT,
                read_timeout=POLL_TIMEOUT + 15,
                allowed_updates=allowed_updates,
            )

        fetch: asyncio.Future[list[dict[str, Any]]] | None = None
        while not stop.is_set():
            if fetch is None:
                fetch = asyncio.ensure_future(fetch_batch())
            stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
            await asyncio.wait((fetch, stopped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():
                break
            try:
                payloads = fetch.result()
                fresh = await self.accept(payloads)
            except Exception as exc:  # network blip or database down: same offset again
                fetch = None
                log.warning("polling %s failed (%s: %s); retrying", where, type(exc).__name__, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            if payloads:
                offset = int(payloads[-1]["update_id"]) + 1
            # The batch is in the inbox: ask for the next one (acknowledging this one) before
            # handling it, so that new updates come in while this batch's turns run, as PTB's
            # own polling does (the call is sent first: tasks start in the order made).
            # Asked for after the batch, it reached Telegram behind the batch's replies, and
            # the bot waited for it with nothing to do (issue 20: updates waited 23 ms at
            # the fake under bench_interview, against 6 ms with PTB's polling).
            fetch = None if stop.is_set() else asyncio.ensure_future(fetch_batch())
            self.spawn(fresh)
        if fetch is not None:  # stopping: whatever this call returns is not acknowledged
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
