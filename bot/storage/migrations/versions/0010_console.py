"""Operator console: used login links (one-time across instances); the funnel's columns on
merchant (platform, markets, shop status, back-filled from the answers) and the indexes its
queries need.

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
    merchant = sa.table(
        "merchant",
        sa.column("id", sa.BigInteger()),
        sa.column("answers", sa.JSON()),
        sa.column("platform", sa.String()),
        sa.column("markets", sa.String()),
        sa.column("shop_status", sa.String()),
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
        for merchant_id, answers in rows:
            values = _columns(answers)
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
        batch.drop_column("shop_status")
        batch.drop_column("markets")
        batch.drop_column("platform")
    op.drop_index("ix_console_login_expires_at", table_name="console_login")
    op.drop_table("console_login")
