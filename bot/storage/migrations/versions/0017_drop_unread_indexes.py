"""Drop the indexes nothing reads, which every interactive update paid to keep (issue 20).

Every typed answer updates its merchant row and inserts one ``event`` row; each index on
those tables is one more B-tree written per update. Four of them serve no query the bot,
the console or a broadcast runs:

- ``ix_merchant_funnel`` (mode, current, last_seen): the console's funnel reads
  ``merchant_funnel`` since 0015. Only a broadcast segment "stopped at question X" filters
  on those columns, an operator's occasional query that a scan of ``merchant`` serves; and
  with ``last_seen`` in it, every turn rewrote the entry (on PostgreSQL it also kept the
  row's update from being a heap-only update).
- ``ix_event_kind_at``, ``ix_event_platform``, ``ix_event_shop_status`` (0004): written for
  the funnel queries 0010 and 0015 replaced. The bot reads events by merchant only
  (``ix_event_merchant_id``); an operator's ad-hoc SQL by platform scans a few values over
  the whole table either way.

``benchmarks/bench_merchant_row.py`` (section ``answers_written``) measures a typed answer's
writes with and without them. tests/test_migrations.py names, for every index left on the
tables each update writes, the query that reads it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (index, table, columns): what this migration drops and its downgrade creates again.
DROPPED: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_merchant_funnel", "merchant", ["mode", "current", "last_seen"]),
    ("ix_event_kind_at", "event", ["kind", "at"]),
    ("ix_event_platform", "event", ["platform"]),
    ("ix_event_shop_status", "event", ["shop_status"]),
)


def upgrade() -> None:
    """Upgrade schema."""
    # Plain DROP INDEX (no batch): on SQLite a recreated table would lose 0015's triggers.
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    """Downgrade schema."""
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns)
