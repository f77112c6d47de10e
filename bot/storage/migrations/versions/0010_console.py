"""Operator console: used login links (one-time across instances); the funnel's columns on
merchant (platform, markets, shop status from the answers; questions reached and answered,
first plan opening and first step done from the events; all back-filled) and the indexes
its queries need.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def _columns(answers: Any) -> dict[str, str | None]:
    """The same values as bot.services.core.funnel_columns (migrations stay frozen)."""
    if isinstance(answers, str):
        answers = json.loads(answers)
    if not isinstance(answers, dict):
        answers = {}
    platform, status, markets = (
        answers.get("platform"),
        answers.get("shop_status"),
        answers.get("market"),
    )
    joined = f",{','.join(markets)}," if isinstance(markets, list) and markets else None
    return {
        "platform": platform if isinstance(platform, str) else None,
        "markets": joined[:255] if joined else None,
        "shop_status": status if isinstance(status, str) else None,
    }


def _funnel(bind: Any, event: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per merchant: questions reached / answered, first plan opening, first step done."""
    kinds = ("question_shown", "answer", "plan_opened", "step_done")
    query = (
        sa.select(event.c.merchant_id, event.c.kind, event.c.question, sa.func.min(event.c.at))
        .where(event.c.merchant_id.in_(ids), event.c.kind.in_(kinds))
        .group_by(event.c.merchant_id, event.c.kind, event.c.question)
    )
    found: dict[int, dict[str, Any]] = {}
    for merchant_id, kind, question, at in bind.execute(query):
        values = found.setdefault(merchant_id, {})
        if kind in ("question_shown", "answer") and question:
            names = ["reached", "answered"] if kind == "answer" else ["reached"]
            for name in names:
                current = values.get(name) or ","
                if f",{question}," not in current:
                    values[name] = f"{current}{question},"
        elif kind == "plan_opened":
            values["plan_opened_at"] = at
        elif kind == "step_done":
            values["step_done_at"] = at
    return found


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "console_login",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_console_login_expires_at", "console_login", ["expires_at"])
    with op.batch_alter_table("merchant") as batch:
        batch.add_column(sa.Column("platform", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("markets", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("shop_status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("reached", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("answered", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("plan_opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("step_done_at", sa.DateTime(timezone=True), nullable=True))
    merchant = sa.table(
        "merchant",
        sa.column("id", sa.BigInteger()),
        sa.column("answers", sa.JSON()),
        sa.column("platform", sa.String()),
        sa.column("markets", sa.String()),
        sa.column("shop_status", sa.String()),
        sa.column("reached", sa.String()),
        sa.column("answered", sa.String()),
        sa.column("plan_opened_at", sa.DateTime(timezone=True)),
        sa.column("step_done_at", sa.DateTime(timezone=True)),
    )
    event = sa.table(
        "event",
        sa.column("merchant_id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("question", sa.String()),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    last = None
    while True:
        query = sa.select(merchant.c.id, merchant.c.answers).order_by(merchant.c.id).limit(BATCH)
        if last is not None:
            query = query.where(merchant.c.id > last)
        rows = bind.execute(query).all()
        if not rows:
            break
        funnel = _funnel(bind, event, [row[0] for row in rows])
        for merchant_id, answers in rows:
            values = {**_columns(answers), **funnel.get(merchant_id, {})}
            if any(values.values()):
                bind.execute(
                    merchant.update().where(merchant.c.id == merchant_id).values(**values)
                )
        last = rows[-1][0]
    op.create_index("ix_merchant_funnel", "merchant", ["mode", "current", "last_seen"])
    op.create_index("ix_merchant_first_seen", "merchant", ["first_seen"])
    op.create_index("ix_event_kind_question", "event", ["kind", "question", "merchant_id"])
    op.create_index("ix_event_kind_step", "event", ["kind", "step", "merchant_id"])
    op.create_index("ix_event_merchant_kind", "event", ["merchant_id", "kind"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_event_merchant_kind", table_name="event")
    op.drop_index("ix_event_kind_step", table_name="event")
    op.drop_index("ix_event_kind_question", table_name="event")
    op.drop_index("ix_merchant_first_seen", table_name="merchant")
    op.drop_index("ix_merchant_funnel", table_name="merchant")
    with op.batch_alter_table("merchant") as batch:
        batch.drop_column("step_done_at")
        batch.drop_column("plan_opened_at")
        batch.drop_column("answered")
        batch.drop_column("reached")
        batch.drop_column("shop_status")
        batch.drop_column("markets")
        batch.drop_column("platform")
    op.drop_index("ix_console_login_expires_at", table_name="console_login")
    op.drop_table("console_login")
