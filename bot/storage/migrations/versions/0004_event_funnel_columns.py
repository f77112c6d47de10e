"""event: funnel columns (question, step, platform, markets, shop_status) with indexes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("step", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("platform", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("markets", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("shop_status", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_event_kind_at", ["kind", "at"], unique=False)
        batch_op.create_index("ix_event_platform", ["platform"], unique=False)
        batch_op.create_index("ix_event_shop_status", ["shop_status"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_shop_status")
        batch_op.drop_index("ix_event_platform")
        batch_op.drop_index("ix_event_kind_at")
        batch_op.drop_column("shop_status")
        batch_op.drop_column("markets")
        batch_op.drop_column("platform")
        batch_op.drop_column("step")
        batch_op.drop_column("question")
