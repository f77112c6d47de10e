"""Drop merchant.interview_message_id: interview buttons are checked by question and position.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_column("interview_message_id")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interview_message_id", sa.BigInteger(), nullable=True))
