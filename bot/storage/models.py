"""All SQL tables (sqlmodel). Timestamps are timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A DateTime that always comes back aware in UTC (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC (naive on SQLite, which has no timezone type)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - signature fixed by SQLAlchemy
    ) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Mode(StrEnum):
    """Where a merchant is: answering the interview, changing one answer, or done."""

    INTERVIEW = "interview"
    EDIT = "edit"
    DONE = "done"


class StepStatus(StrEnum):
    """A merchant's mark on a step."""

    DONE = "done"
    SKIPPED = "skipped"


class OutboxStatus(StrEnum):
    """An outbox row's life: pending until sent, failed or cancelled."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # transient failures until it was no longer useful
    UNCONFIRMED = "unconfirmed"  # sent twice without an answer; never sent again


class Awaiting(StrEnum):
    """Typed input a feature asked for (``<feature>:<what>``; the feature owns it)."""

    ZONE = "alerts:tz"  # after "Type my city": only a time zone is expected
    # A picker on screen that also takes typing; other text falls through to the interview.
    ZONES = "alerts:zones"
    HOUR = "alerts:hour"
    QUIET = "alerts:quiet"
    LANGUAGE = "language:pick"  # the /language picker is on screen: a typed name works
    DELETE = "privacy:delete"  # "delete everything?" is on screen: a typed yes / no


class EnumText(TypeDecorator[str]):
    """A StrEnum stored as its text (VARCHAR, no database enum type to migrate).

    A value this version does not know (written by a newer release) is read back as the
    plain string, so the code that reads it decides, instead of the load failing.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[StrEnum], length: int = 16) -> None:
        super().__init__(length)
        self.enum_class = enum_class
        self.length = length

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        """Store the text."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        """Read back as the enum when the value is one of its members."""
        if value is None:
            return None
        try:
            return self.enum_class(value)
        except ValueError:
            return value


class Merchant(SQLModel, table=True):
    """One Telegram user talking to the bot, with their interview state and preferences."""

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    language_code: str | None = Field(default=None, max_length=16)
    # The language chosen with /language (a shipped locale code); None: follow Telegram's.
    locale: str | None = Field(default=None, max_length=16)
    first_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    # Last time the merchant moved forward (answered, marked a step): drives the weekly nudge.
    last_progress: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    blocked: bool = False

    # Interview: every answer ever given (by question id), the path actually taken (a stack of
    # question ids for Back) and the question on screen.
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    path: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    current: str | None = Field(default=None, max_length=64)
    mode: Mode = Field(default=Mode.INTERVIEW, sa_column=Column(EnumText(Mode), nullable=False))
    interview_version: int = 0
    # While changing answers from the profile: the answers before the change (for Cancel).
    edit_before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The answers operators filter on (the console's funnel), copied from ``answers`` at each
    # save, in the event table's form (``markets``: ``,uk,de,``).
    platform: str | None = Field(default=None, max_length=32)
    markets: str | None = Field(default=None, max_length=255)
    shop_status: str | None = Field(default=None, max_length=32)
    # The funnel as of this merchant, kept as they go (Turn.log), so the console counts one
    # row per merchant instead of their events: the questions shown / answered (ids wrapped
    # in commas, like ``markets``) and when they first opened their plan / marked a step done.
    reached: str | None = Field(default=None, max_length=2000)
    answered: str | None = Field(default=None, max_length=2000)
    plan_opened_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    step_done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    # Alerts.
    alerts_on: bool = False
    nudge_on: bool = False
    timezone: str = Field(default="UTC", max_length=64)
    preferred_hour: int | None = None
    quiet_hours: str | None = Field(default=None, max_length=8)
    awaiting: Awaiting | None = Field(default=None, sa_column=Column(EnumText(Awaiting, 32)))

    # Pressed "stop these messages" on an operator broadcast (reminders are separate).
    broadcasts_off: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    # The id of the last update whose turn committed: the same update handled again (after
    # a crash, or a reply that failed after the commit) changes nothing (bot.services.core).
    last_update_id: int | None = Field(default=None, sa_column=Column(BigInteger))

    @property
    def lang(self) -> str | None:
        """The language to write in: the one chosen with /language, else Telegram's."""
        return self.locale or self.language_code


class MerchantFunnel(SQLModel, table=True):
    """What the console's funnel counts about one merchant: a narrow copy of their row.

    Written only by database triggers on ``merchant`` (migration 0015), never by the bot: no
    statement of its own on the hot path, and a merchant update that changes nothing here
    does not touch it. 22 MB at 100,000 merchants where the merchant table takes 53 MB
    (answers, path), and the week of first contact is computed once, not per page.
    """

    __tablename__ = "merchant_funnel"

    merchant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    # Monday (UTC) of the first contact.
    week: date = Field(sa_column=Column(Date, nullable=False))
    finished: bool  # left the interview (mode is not interview)
    opened: bool  # plan_opened_at is set
    done: bool  # step_done_at is set
    reached: str | None = Field(default=None, max_length=2000)
    answered: str | None = Field(default=None, max_length=2000)
    platform: str | None = Field(default=None, max_length=32)
    markets: str | None = Field(default=None, max_length=255)
    shop_status: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=16)  # language_code, lower case
    # In the interview: the question open, and last_seen (None once out of the interview).
    stuck_at: str | None = Field(default=None, max_length=64)
    stuck_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class StepOpened(SQLModel, table=True):
    """A merchant opened a plan step (at least once): kept by a trigger on ``event``."""

    __tablename__ = "step_opened"

    merchant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    step: str = Field(primary_key=True, max_length=64)


class StepProgress(SQLModel, table=True):
    """A merchant's mark on one guidance step (done or skipped) and the step version then."""

    __tablename__ = "step_progress"

    merchant_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    step_id: str = Field(primary_key=True, max_length=64)
    status: StepStatus = Field(sa_column=Column(EnumText(StepStatus), nullable=False))
    step_version: int = 1
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Outbox(SQLModel, table=True):
    """One alert for one merchant: planned, claimed under a lease, sent exactly once."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key", name="uq_outbox_merchant_key"),
        Index("ix_outbox_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    key: str = Field(max_length=64)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_column=Column(EnumText(OutboxStatus), nullable=False)
    )
    attempts: int = 0
    # Sends Telegram may have delivered although we never got its answer (read timeouts).
    unanswered: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lease_owner: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    error: str | None = Field(default=None, max_length=500)


class InboxStatus(StrEnum):
    """An update's life in the inbox."""

    PENDING = "pending"  # acknowledged to Telegram, not yet handled (or being handled)
    DONE = "done"  # handled; the row stays (without its payload) to ignore re-deliveries
    FAILED = "failed"  # failed every attempt; the merchant got an apology


class Inbox(SQLModel, table=True):
    """Every update Telegram delivered, written before it is acknowledged (durable inbox).

    A pending row is handled by whichever process holds its lease; a process that dies
    leaves a lease that runs out, and the row is handled again. Done rows keep only their
    id (the payload is dropped) until they are pruned, so re-deliveries are recognised.
    """

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_due", "status", "lease_until"),)

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    status: InboxStatus = Field(
        default=InboxStatus.PENDING, sa_column=Column(EnumText(InboxStatus), nullable=False)
    )
    attempts: int = 0
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    error: str | None = Field(default=None, max_length=500)


class Event(SQLModel, table=True):
    """The funnel: what merchants did, for operators (no message contents).

    Each row carries the merchant's platform, markets and TikTok Shop status at that moment
    as columns, so operators can ask "where do UK Shopify merchants stop" with plain SQL;
    ``markets`` is the market ids wrapped in commas (``,uk,de,``: filter with
    ``LIKE '%,uk,%'``).
    """

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    kind: str = Field(max_length=32)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    question: str | None = Field(default=None, max_length=32)
    step: str | None = Field(default=None, max_length=64)
    platform: str | None = Field(default=None, max_length=32)
    markets: str | None = Field(default=None, max_length=255)
    shop_status: str | None = Field(default=None, max_length=32)


class ContentRelease(SQLModel, table=True):
    """A content tree that went live (by its hash) and the step versions it had.

    The first instance to start with a new tree inserts its row (insert-if-absent on the
    hash, so several instances starting at once record it once) and, in the same
    transaction, queues the "your plan changed" notices for the steps in ``changed``.
    """

    __tablename__ = "content_release"
    __table_args__ = (UniqueConstraint("hash", name="uq_content_release_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    hash: str = Field(max_length=64)
    # Step id -> version in this tree.
    steps: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Steps new or with a higher version than in the release before -> their version there
    # (0: a new step). Empty for the first release a database sees.
    changed: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SendBudget(SQLModel, table=True):
    """The send budget shared by every process on PostgreSQL (bot.storage.send_slots).

    ``next_slot`` is the first moment (the database's clock, Unix seconds) not yet leased to a
    process for a send; each lease moves it on by the slots it hands out.
    """

    __tablename__ = "send_budget"

    name: str = Field(primary_key=True, max_length=32)
    next_slot: float


class BroadcastStatus(StrEnum):
    """A broadcast campaign's life."""

    SENDING = "sending"  # its outbox rows are queued (some may wait for quiet hours)
    CANCELLED = "cancelled"  # an operator stopped it: pending rows were cancelled


class Broadcast(SQLModel, table=True):
    """An operator's message to a segment of merchants, sent through the outbox.

    Each merchant of the segment gets one outbox row keyed ``bc:<id>`` (unique per merchant
    and key: exactly once per campaign); progress is counted from those rows.
    """

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(max_length=64)
    segment: str = Field(max_length=500)
    template: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, max_length=4096)
    status: BroadcastStatus = Field(
        default=BroadcastStatus.SENDING,
        sa_column=Column(EnumText(BroadcastStatus), nullable=False),
    )
    total: int = 0
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ContentReload(SQLModel, table=True):
    """A reload of the content asked for on every instance (bot.storage.instances).

    One row (``global``); ``generation`` goes up with each request. Each process remembers the
    generation it last acted on and reloads its own content folder when the row moved on.
    """

    __tablename__ = "content_reload"

    name: str = Field(primary_key=True, max_length=32)
    generation: int = 0
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    requested_by: str | None = Field(default=None, max_length=64)


class Instance(SQLModel, table=True):
    """A running process (``serve``, ``run`` or ``remind``) and the content version it runs.

    Written at start and on every poll (a heartbeat); the console lists them, stale ones
    (not seen for a while) marked as such. ``problems`` holds the lines of the last failed
    reload (empty once a reload succeeds).
    """

    __tablename__ = "instance"
    __table_args__ = (Index("ix_instance_last_seen", "last_seen"),)

    id: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    host: str = Field(max_length=255)
    pid: int
    content_hash: str = Field(max_length=64)
    generation: int = 0
    problems: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ConsoleLogin(SQLModel, table=True):
    """A console login link that was used (by its id), so it logs in once across instances.

    Rows are kept until the link would have expired anyway, then pruned at the next login.
    """

    __tablename__ = "console_login"

    jti: str = Field(primary_key=True, max_length=64)
    operator_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    used_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
