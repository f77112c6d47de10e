"""Operator broadcasts: a segment, a message, a dry run, then one outbox row per merchant.

Delivery is the reminders' road (:mod:`bot.alerts.dispatcher`): each merchant of the segment
gets one outbox row keyed ``bc:<campaign id>``, unique per merchant and key, so a campaign
reaches a merchant at most once however often the dispatcher restarts; rows are due at once
or when the merchant's quiet hours end; the one send budget (``SEND_RATE``) paces them.
At send time a row is dropped (``cancelled``) when the campaign was cancelled, the merchant
blocked the bot or pressed "stop these messages" since. Reminders being off is not an
opt-out: broadcasts go to every merchant of the segment who has not opted out.

The message is a content template per language (``content/locales/<lang>/templates/
broadcasts/<name>.html.j2``, English when a language has none) or free text, checked as
Telegram HTML. Every message carries a "stop these messages" button
(:class:`bot.domain.callbacks.Broadcasts`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jinja2 import TemplateError, TemplateNotFound
from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, not_, text
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alerts import keys
from bot.alerts.dispatcher import Claimed, Prepared
from bot.alerts.planner import zone
from bot.alerts.service import AlertService
from bot.botapi.tghtml import TelegramHTMLError, parse_html, utf16_length
from bot.broadcast.segments import Segment, check_ids
from bot.domain.callbacks import Broadcasts, encode
from bot.services.core import STEP_SHOWN, Core, UserInfo, marks_of
from bot.storage.models import (
    Broadcast,
    BroadcastStatus,
    Event,
    Merchant,
    Mode,
    Outbox,
    OutboxStatus,
    StepProgress,
)
from bot.storage.upsert import insert
from bot.views.model import Button, Outcome, Screen
from bot.views.screens import shop_name_of

log = logging.getLogger(__name__)

PREFIX = keys.BROADCAST
TEMPLATES = "broadcasts"  # folder under content/locales/<lang>/templates
MAX_TEXT = 4096
USEFUL_FOR = timedelta(days=7)  # a failing broadcast row is retried this long after creation
_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
#: Events that mean the merchant has seen their plan.
PLAN_EVENTS = ("plan_opened", STEP_SHOWN)


class BroadcastError(ValueError):
    """A message or campaign the operator has to fix; the text says what."""


def campaign_key(campaign_id: int) -> str:
    """The outbox key of one campaign's rows."""
    return f"{PREFIX}{campaign_id}"


def campaign_of(key: str) -> int | None:
    """The campaign id in an outbox key, or ``None``."""
    rest = key.removeprefix(PREFIX)
    return int(rest) if key.startswith(PREFIX) and rest.isdigit() else None


@dataclass(frozen=True)
class Message:
    """What to send: a content template (per language) or one free text."""

    template: str | None = None
    text: str | None = None

    def describe(self) -> str:
        """One line for logs and lists."""
        return f"template {self.template}" if self.template else "free text"


@dataclass(frozen=True)
class Recipient:
    """A merchant of the segment, as sending needs them."""

    id: int
    lang: str
    due_at: datetime


@dataclass(frozen=True)
class DryRun:
    """What sending would do, without sending."""

    segment: Segment
    message: Message
    total: int
    per_language: dict[str, int]
    previews: dict[str, str]  # language -> rendered text (Telegram HTML)
    now_due: int  # can go out at once
    waiting_quiet: int  # due when their quiet hours end
    eta_seconds: int  # for the rows due now, at SEND_RATE
    finishes_by: datetime | None


@dataclass(frozen=True)
class Progress:
    """A campaign's rows by outcome."""

    id: int
    status: str
    segment: str
    message: str
    created_at: datetime
    created_by: str
    total: int
    sent: int
    failed: int
    skipped: int  # dropped at send time: opted out, blocked, cancelled
    left: int

    @property
    def percent(self) -> int:
        """How much of the campaign is settled (sent, failed or skipped)."""
        if self.total == 0:
            return 100
        return math.floor(100 * (self.total - self.left) / self.total)

    @property
    def finished(self) -> bool:
        """Nothing left to send."""
        return self.left == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the console's progress endpoint, the CLI)."""
        return {
            "id": self.id,
            "status": self.status,
            "segment": self.segment,
            "message": self.message,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "left": self.left,
            "percent": self.percent,
            "finished": self.finished,
        }


@dataclass
class BroadcastService:
    """Segments, dry runs, campaigns, their progress, and the merchants' opt-out button."""

    core: Core
    alerts: AlertService
    send_rate: float
    _created: dict[int, datetime] = field(default_factory=dict, init=False, repr=False)

    @property
    def r(self) -> Any:
        """The renderer."""
        return self.core.views.r

    # --- segments -------------------------------------------------------------------------

    def conditions(self, segment: Segment, now: datetime) -> list[ColumnElement[bool]]:
        """The segment as SQL conditions on ``merchant`` (plus: not blocked, not opted out)."""
        m = Merchant.__table__.c  # type: ignore[attr-defined]
        where: list[ColumnElement[bool]] = [m.blocked == false(), m.broadcasts_off == false()]
        if segment.platforms:
            where.append(Merchant.answers["platform"].as_string().in_(segment.platforms))
        if segment.statuses:
            where.append(Merchant.answers["shop_status"].as_string().in_(segment.statuses))
        if segment.markets:
            where.append(self._markets(segment.markets))
        if segment.stopped_at is not None:
            where.append(
                and_(
                    m.mode == Mode.INTERVIEW.value,
                    m.current == segment.stopped_at,
                    m.last_seen < now - timedelta(days=segment.stopped_days),
                )
            )
        if segment.plan_not_opened:
            e = Event.__table__.c  # type: ignore[attr-defined]
            opened = exists().where(e.merchant_id == m.id, e.kind.in_(PLAN_EVENTS))
            where.append(and_(m.mode != Mode.INTERVIEW.value, not_(opened)))
        if segment.no_progress_days is not None:
            since = now - timedelta(days=segment.no_progress_days)
            where.append(func.coalesce(m.last_progress, m.first_seen) < since)
        return where

    def _markets(self, markets: Sequence[str]) -> ColumnElement[bool]:
        """Any of these markets among the merchant's market answer (a JSON list)."""
        values: Any = bindparam(
            "seg_markets", list(markets), expanding=not self.core.db.is_postgres
        )
        if self.core.db.is_postgres:
            clause = text(
                "(CAST(merchant.answers AS jsonb) -> 'market') ?| CAST(:seg_markets AS text[])"
            )
        else:
            clause = text(
                "EXISTS (SELECT 1 FROM json_each(merchant.answers, '$.market') AS seg_m"
                " WHERE seg_m.value IN :seg_markets)"
            )
        return clause.bindparams(values)  # type: ignore[return-value]

    def language_of(self, code: str | None) -> str:
        """The locale a merchant reads."""
        return self.core.content.locale(code).code

    async def recipients(self, segment: Segment) -> list[Recipient]:
        """Every merchant of the segment, with the language they read and when their message
        may go out (now, or when their quiet hours end)."""
        now = self.core.clock()
        m = Merchant.__table__.c  # type: ignore[attr-defined]
        query = (
            sa_select(m.id, m.language_code, m.timezone, m.quiet_hours)
            .where(*self.conditions(segment, now))
            .order_by(m.id)
        )
        async with self.core.db.session() as session:
            conn = await session.connection()
            rows = (await conn.execute(query)).all()
        wanted = set(segment.languages)
        out: list[Recipient] = []
        for merchant_id, code, tz, quiet_stored in rows:
            lang = self.language_of(code)
            if wanted and lang not in wanted:
                continue
            out.append(Recipient(merchant_id, lang, self._due(tz, quiet_stored, now)))
        return out

    def _due(self, tz: str, quiet_stored: str | None, now: datetime) -> datetime:
        try:
            zone(tz)
        except ValueError:
            tz = "UTC"
        quiet = self.alerts.quiet_for(quiet_stored)
        if quiet is None:
            return now
        local = now.astimezone(zone(tz))
        return quiet.next_end(local).astimezone(now.tzinfo) if quiet.contains(local) else now

    # --- messages -------------------------------------------------------------------------

    def templates(self) -> list[str]:
        """The broadcast templates editors wrote (English names every one)."""
        folder = self.core.content.root / "locales" / "en" / "templates" / TEMPLATES
        return sorted(p.name.removesuffix(".html.j2") for p in folder.glob("*.html.j2"))

    def message(self, *, template: str | None = None, text: str | None = None) -> Message:
        """A checked message: a known template, or free text that is valid Telegram HTML."""
        if (template is None) == (text is None or not text.strip()):
            raise BroadcastError("give either a template or a text, not both")
        if template is not None:
            template = template.strip()
            if not _NAME.match(template) or template not in self.templates():
                known = ", ".join(self.templates()) or "none"
                raise BroadcastError(f"no broadcast template {template!r} (known: {known})")
            return Message(template=template)
        assert text is not None
        body = text.replace("\r\n", "\n").strip()  # browsers send form text with CRLF
        try:
            parsed = parse_html(body)
        except TelegramHTMLError as exc:
            raise BroadcastError(f"not valid Telegram HTML: {exc}") from None
        if not parsed.text.strip():
            raise BroadcastError("the text is empty")
        if utf16_length(parsed.text) > MAX_TEXT:
            raise BroadcastError(f"the text is longer than Telegram's {MAX_TEXT} characters")
        return Message(text=body)

    def render(self, message: Message, lang: str, context: dict[str, Any]) -> Screen:
        """The message in one language, with the "stop these messages" button."""
        if message.text is not None:
            body = message.text
        else:
            assert message.template is not None
            body = self.r.render(lang, f"{TEMPLATES}/{message.template}.html.j2", **context)
        parse_html(body)  # a template that renders broken HTML fails here, not at Telegram
        stop = Button(self.r.plain(lang, "broadcast.buttons.stop"), encode(Broadcasts("stop")))
        return Screen(body, ((stop,),))

    def context_of(self, merchant: Merchant | None, marks: dict[str, Any]) -> dict[str, Any]:
        """What a broadcast template may use: ``shop_name``, ``done``, ``total``,
        ``next_step`` (title or ``None``), ``finished``."""
        if merchant is None:
            answers: dict[str, Any] = {}
            lang = None
        else:
            answers = self.core.effective_answers(merchant)
            lang = merchant.language_code
        progress = self.core.progress_of(answers, marks)
        step = progress.next_open()
        return {
            "shop_name": shop_name_of(answers),
            "done": progress.done,
            "total": progress.total,
            "finished": progress.finished,
            "next_step": self.core.content.step_text(lang, step.id).title if step else None,
        }

    # --- dry run, create, progress, cancel ------------------------------------------------

    def known_ids(self) -> dict[str, tuple[str, ...]]:
        """The ids a segment may name, from the running content."""
        content = self.core.content
        questions = content.interview.questions

        def options(qid: str) -> tuple[str, ...]:
            return tuple(questions[qid].options) if qid in questions else ()

        return {
            "market": options("market"),
            "platform": options("platform"),
            "status": options("shop_status"),
            "lang": tuple(sorted(content.locales)),
            "question": tuple(questions),
        }

    async def dry_run(self, segment: Segment, message: Message) -> DryRun:
        """How many merchants (per language), a preview in each language, and the ETA.

        Raises SegmentError for an id the content does not have."""
        check_ids(segment, self.known_ids())
        now = self.core.clock()
        people = await self.recipients(segment)
        per_language: dict[str, int] = {}
        first: dict[str, int] = {}
        for person in people:
            per_language[person.lang] = per_language.get(person.lang, 0) + 1
            first.setdefault(person.lang, person.id)
        previews: dict[str, str] = {}
        async with self.core.db.session() as session:
            for lang in sorted(per_language) or ["en"]:
                merchant = await session.get(Merchant, first[lang]) if lang in first else None
                marks = await self._marks(session, merchant.id) if merchant else {}
                try:
                    screen = self.render(message, lang, self.context_of(merchant, marks))
                except (TemplateError, TelegramHTMLError) as exc:
                    raise BroadcastError(f"the {lang} message does not render: {exc}") from None
                previews[lang] = screen.text
        now_due = sum(1 for p in people if p.due_at <= now)
        eta = math.ceil(now_due / self.send_rate) if self.send_rate > 0 else 0
        last = max((p.due_at for p in people), default=None)
        finishes = None if last is None else max(last, now + timedelta(seconds=eta))
        return DryRun(
            segment=segment,
            message=message,
            total=len(people),
            per_language=dict(sorted(per_language.items())),
            previews=previews,
            now_due=now_due,
            waiting_quiet=len(people) - now_due,
            eta_seconds=eta,
            finishes_by=finishes,
        )

    async def create(self, segment: Segment, message: Message, *, by: str) -> int:
        """Queue the campaign: one outbox row per merchant of the segment. Returns its id."""
        await self.dry_run(segment, message)  # every language renders, or nothing is queued
        now = self.core.clock()
        people = await self.recipients(segment)
        async with self.core.db.session() as session:
            campaign = Broadcast(
                created_at=now,
                created_by=by[:64],
                segment=segment.text(),
                template=message.template,
                text=message.text,
                total=len(people),
            )
            session.add(campaign)
            await session.flush()
            assert campaign.id is not None
            campaign_id = campaign.id
            key = campaign_key(campaign_id)
            rows = [
                {
                    "merchant_id": p.id,
                    "key": key,
                    "due_at": p.due_at,
                    "status": OutboxStatus.PENDING,
                }
                for p in people
            ]
            conn = await session.connection()
            table = Outbox.__table__  # type: ignore[attr-defined]
            for start in range(0, len(rows), 500):
                await conn.execute(
                    insert(table, postgres=self.core.db.is_postgres)
                    .values(rows[start : start + 500])
                    .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
                )
        log.info(
            "broadcast %d queued by %s: %d merchant(s), segment %r, %s",
            campaign_id,
            by,
            len(people),
            segment.text() or "everyone",
            message.describe(),
        )
        return campaign_id

    async def progress(self, campaign_id: int) -> Progress | None:
        """Sent / failed / skipped / left, counted from the campaign's outbox rows."""
        async with self.core.db.session() as session:
            campaign = await session.get(Broadcast, campaign_id)
            if campaign is None:
                return None
            counts = await session.exec(
                select(Outbox.status, func.count())
                .where(Outbox.key == campaign_key(campaign_id))
                .group_by(Outbox.status)
            )
            by_status = {str(status): int(n) for status, n in counts.all()}
        failed = sum(
            by_status.get(s, 0)
            for s in (OutboxStatus.FAILED, OutboxStatus.EXPIRED, OutboxStatus.UNCONFIRMED)
        )
        return Progress(
            id=campaign_id,
            status=str(campaign.status),
            segment=campaign.segment,
            message=f"template {campaign.template}" if campaign.template else "free text",
            created_at=campaign.created_at,
            created_by=campaign.created_by,
            total=sum(by_status.values()),
            sent=by_status.get(OutboxStatus.SENT, 0),
            failed=failed,
            skipped=by_status.get(OutboxStatus.CANCELLED, 0),
            left=by_status.get(OutboxStatus.PENDING, 0),
        )

    async def campaigns(self, limit: int = 50) -> list[Progress]:
        """The latest campaigns, newest first, with their progress."""
        async with self.core.db.session() as session:
            ids = await session.exec(
                select(Broadcast.id).order_by(col(Broadcast.id).desc()).limit(limit)
            )
            found = [i for i in ids.all() if i is not None]
        out = []
        for campaign_id in found:
            progress = await self.progress(campaign_id)
            if progress is not None:
                out.append(progress)
        return out

    async def cancel(self, campaign_id: int, *, by: str) -> int | None:
        """Stop a campaign: its rows not yet sent are cancelled. Returns how many (``None``:
        no such campaign). A row already handed to Telegram may still arrive."""
        now = self.core.clock()
        async with self.core.db.session() as session:
            campaign = await session.get(Broadcast, campaign_id)
            if campaign is None:
                return None
            campaign.status = BroadcastStatus.CANCELLED
            campaign.cancelled_at = campaign.cancelled_at or now
            conn = await session.connection()
            result = await conn.execute(
                sa_update(Outbox)
                .where(
                    col(Outbox.key) == campaign_key(campaign_id),
                    col(Outbox.status) == OutboxStatus.PENDING,
                )
                .values(status=OutboxStatus.CANCELLED, error="campaign cancelled")
            )
        log.info(
            "broadcast %d cancelled by %s: %d row(s) not sent", campaign_id, by, result.rowcount
        )
        return int(result.rowcount)

    # --- the merchant's button ------------------------------------------------------------

    async def press(self, user: UserInfo, button: Broadcasts) -> Outcome:
        """ "Stop these messages" (and "get them again")."""
        async with self.core.turn(user) as turn:
            merchant, lang = turn.merchant, turn.lang
            stop = button.action == "stop"
            merchant.broadcasts_off = stop
            if stop:
                await turn.session.flush()
                conn = await turn.session.connection()
                await conn.execute(
                    sa_update(Outbox)
                    .where(
                        col(Outbox.merchant_id) == merchant.id,
                        col(Outbox.key).startswith(PREFIX),
                        col(Outbox.status) == OutboxStatus.PENDING,
                    )
                    .values(status=OutboxStatus.CANCELLED, error="opted out")
                )
                again = Button(
                    self.r.plain(lang, "broadcast.buttons.resume"), encode(Broadcasts("resume"))
                )
                screen = Screen(self.r.text(lang, "broadcast.stopped"), ((again,),))
                return Outcome(
                    toast=self.r.plain(lang, "broadcast.notices.stopped"), send=[screen]
                )
            screen = Screen(self.r.text(lang, "broadcast.resumed"))
            return Outcome(toast=self.r.plain(lang, "broadcast.notices.resumed"), edit=screen)

    # --- dispatcher hooks (bot.alerts.dispatcher.AlertSource) -----------------------------

    async def _marks(self, session: AsyncSession, merchant_id: int) -> dict[str, Any]:
        found = await session.exec(
            select(StepProgress).where(StepProgress.merchant_id == merchant_id)
        )
        return dict(marks_of(found.all()))

    async def prepare(self, rows: Sequence[Claimed]) -> list[Prepared]:
        """Render each claimed row for its merchant now, or drop it (cancelled campaign,
        blocked, opted out), or hold it until the merchant's quiet hours end."""
        now = self.core.clock()
        out: list[Prepared] = []
        async with self.core.db.session() as session:
            ids = {c for row in rows if (c := campaign_of(row.key)) is not None}
            found = await session.exec(select(Broadcast).where(col(Broadcast.id).in_(ids)))
            campaigns = {c.id: c for c in found.all()}
            for campaign in campaigns.values():
                assert campaign.id is not None
                self._created[campaign.id] = campaign.created_at
            merchant_ids = sorted({row.merchant_id for row in rows})
            people = await session.exec(select(Merchant).where(col(Merchant.id).in_(merchant_ids)))
            merchants = {m.id: m for m in people.all()}
            progress = await session.exec(
                select(StepProgress).where(col(StepProgress.merchant_id).in_(merchant_ids))
            )
            by_merchant: dict[int, list[StepProgress]] = {}
            for mark in progress.all():
                by_merchant.setdefault(mark.merchant_id, []).append(mark)
            for row in rows:
                found_campaign = campaigns.get(campaign_of(row.key) or -1)
                merchant = merchants.get(row.merchant_id)
                if found_campaign is None or found_campaign.status != BroadcastStatus.SENDING:
                    out.append(Prepared(row, 0, None, "campaign cancelled"))
                    continue
                if merchant is None:
                    out.append(Prepared(row, 0, None, "no merchant"))
                    continue
                reason: str | None = None
                if merchant.blocked or merchant.broadcasts_off:
                    reason = "blocked" if merchant.blocked else "opted out"
                    out.append(Prepared(row, merchant.chat_id, None, reason))
                    continue
                # Quiet hours are the merchant's at send time: a retry after a failure, or
                # quiet hours set after the campaign was queued, wait until they end.
                due = self._due(merchant.timezone, merchant.quiet_hours, now)
                if due > now:
                    out.append(Prepared(row, merchant.chat_id, None, "quiet hours", later=due))
                    continue
                message = Message(template=found_campaign.template, text=found_campaign.text)
                lang = self.language_of(merchant.language_code)
                try:
                    marks = marks_of(by_merchant.get(merchant.id, []))
                    screen: Screen | None = self.render(
                        message, lang, self.context_of(merchant, dict(marks))
                    )
                except (TemplateError, TemplateNotFound, TelegramHTMLError, KeyError) as exc:
                    log.warning("cannot render broadcast %s: %s", row.key, exc)
                    screen, reason = None, f"render failed: {type(exc).__name__}"
                out.append(Prepared(row, merchant.chat_id, screen, reason))
        return out

    async def blocked(self, session: AsyncSession, merchant_id: int) -> None:
        """The merchant blocked the bot (the reminders feature records it)."""
        await self.alerts.blocked(session, merchant_id)

    def useful_until(self, row: Claimed) -> datetime | None:
        """A failing row is retried for a week after its campaign was created."""
        campaign_id = campaign_of(row.key)
        created = self._created.get(campaign_id) if campaign_id is not None else None
        return created + USEFUL_FOR if created is not None else None

    async def sent(self, session: AsyncSession, rows: Sequence[Claimed]) -> None:
        """Nothing follows a broadcast."""


__all__ = [
    "BroadcastError",
    "BroadcastService",
    "DryRun",
    "Message",
    "Progress",
    "Recipient",
    "campaign_key",
    "campaign_of",
]
