"""The id of the last update whose turn committed, per merchant (exactly-once state).

An update handled again (its process died after the turn committed, before the inbox
recorded it done; or its reply failed after the commit) is recognised by it and changes
nothing (bot.services.core).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # A plain ADD COLUMN (no batch): on SQLite a recreated merchant table would lose the
    # funnel triggers of 0015.
    op.add_column("merchant", sa.Column("last_update_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column("merchant", "last_update_id")  # SQLite 3.35+: in place, triggers kept
