"""Content reloaded without a restart, on one instance (SIGHUP) or on all (through the database).

Each process re-reads its own content folder, runs the same full check as at start
(:func:`bot.content.check.load_checked`, remembered by content hash), and swaps the whole
release in one assignment (:meth:`bot.services.core.Core.swap`): an update keeps the release
that was live when its turn opened. A tree that fails keeps the old one running; the problems
go to the log and to this process's ``instance`` row (the console shows them).

A reload pressed in the console raises the ``content_reload`` generation; every process polls
it (one primary-key read every few seconds, with its heartbeat) and reloads when it moved on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.content.loader import Content, ContentError
from bot.services.core import Core, Live
from bot.storage import instances
from bot.storage.db import Database
from bot.storage.models import Instance

log = logging.getLogger(__name__)

#: Seconds between two polls of the reload generation (and heartbeats).
POLL_SECONDS = 5.0
#: An instance not seen for this long is shown as stale.
STALE_AFTER_SECONDS = 3 * POLL_SECONDS + 15


@dataclass(frozen=True)
class ReloadResult:
    """What one reload did."""

    ok: bool
    changed: bool  # a new content hash went live
    hash: str  # the hash running now
    problems: tuple[str, ...] = ()


@dataclass
class LiveContent:
    """Reloads this process's content and keeps its ``instance`` row up to date."""

    core: Core
    db: Database
    content_dir: Path
    #: Loads and fully checks a tree (raises ContentError); run in a thread.
    load: Callable[[Path], Content]
    #: Builds the services' view of a checked tree (screens, deadline).
    build: Callable[[Content], Live]
    clock: Callable[[], datetime]
    role: str = "run"
    poll_seconds: float = POLL_SECONDS
    #: Called (in order) after a new release went live, e.g. "your plan changed" notices.
    on_release: list[Callable[[Content], Awaitable[None]]] = field(default_factory=list)
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
    )
    problems: tuple[str, ...] = ()
    generation: int = 0
    started_at: datetime | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _local: bool = False

    @property
    def hash(self) -> str:
        """The content hash this process runs."""
        return self.core.live.content.hash

    # --- reloading ---------------------------------------------------------------------------

    async def reload(self, why: str) -> ReloadResult:
        """Re-read, check and (if it passes and differs) swap in the content folder's tree."""
        async with self._lock:
            old = self.core.live.content
            try:
                content = await asyncio.to_thread(self.load, self.content_dir)
            except ContentError as exc:
                self.problems = tuple(str(p) for p in exc.problems)
            except Exception as exc:  # an unreadable folder must not stop the bot
                self.problems = (f"{self.content_dir}: {type(exc).__name__}: {exc}",)
            else:
                self.problems = ()
                if content.hash == old.hash:
                    log.info("content reload (%s): version %s unchanged", why, old.hash)
                    await self._beat()
                    return ReloadResult(ok=True, changed=False, hash=old.hash)
                self.core.swap(self.build(content))
                log.info(
                    "content reload (%s): version %s live (was %s), %d steps",
                    why,
                    content.hash,
                    old.hash,
                    len(content.steps),
                )
                await self._beat()
                for hook in self.on_release:
                    try:
                        await hook(content)
                    except Exception:
                        log.exception("after content reload to %s", content.hash)
                return ReloadResult(ok=True, changed=True, hash=content.hash)
            log.error(
                "content reload (%s) refused, still running %s: %d problem(s):\n%s",
                why,
                old.hash,
                len(self.problems),
                "\n".join(self.problems),
            )
            await self._beat()
            return ReloadResult(ok=False, changed=False, hash=old.hash, problems=self.problems)

    def request_local(self) -> None:
        """Reload this process soon (SIGHUP's handler: it cannot await)."""
        self._local = True
        self._wake.set()

    async def request_everywhere(self, by: str | None) -> int:
        """Ask every instance on the database (this one included) to reload."""
        generation = await instances.request_reload(self.db, by=by, now=self.clock())
        log.info("content reload requested everywhere by %s (generation %d)", by, generation)
        self._wake.set()
        return generation

    # --- polling and heartbeats --------------------------------------------------------------

    async def start(self) -> None:
        """Register this process (its row) and take the current generation as seen."""
        self.started_at = self.clock()
        self.generation = await instances.reload_generation(self.db)
        await self._beat()

    async def poll(self) -> ReloadResult | None:
        """One round: a pending SIGHUP, then the database's generation, then a heartbeat."""
        result: ReloadResult | None = None
        if self._local:
            self._local = False
            result = await self.reload("SIGHUP")
        generation = await instances.reload_generation(self.db)
        if generation > self.generation:
            self.generation = generation
            result = await self.reload(f"requested everywhere, generation {generation}")
        else:
            await self._beat()
        return result

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; remove this process's row at the end."""
        try:
            if self.started_at is None:
                await self.start()
        except Exception:
            log.exception("could not register this instance; retrying at the next poll")
        while not stop.is_set():
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiting in waits:
                waiting.cancel()
            if stop.is_set():
                break
            try:
                if self.started_at is None:
                    await self.start()
                await self.poll()
            except Exception:
                log.exception("content reload poll failed; again in %g s", self.poll_seconds)
        with contextlib.suppress(Exception):
            await instances.forget_instance(self.db, self.instance_id)

    async def _beat(self) -> None:
        now = self.clock()
        await instances.heartbeat(
            self.db,
            Instance(
                id=self.instance_id,
                role=self.role,
                host=socket.gethostname()[:255],
                pid=os.getpid(),
                content_hash=self.hash,
                generation=self.generation,
                problems=list(self.problems),
                started_at=self.started_at or now,
                last_seen=now,
            ),
        )
