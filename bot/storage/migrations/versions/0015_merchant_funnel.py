"""The console's funnel reads narrow tables kept by triggers (issue 19: a cold funnel page
under 300 ms at 100,000 merchants on PostgreSQL).

- ``merchant_funnel``: one narrow row per merchant with what the funnel groups and
  filters on (week of first contact, finished / plan opened / step done, questions reached
  and answered, platform, markets, TikTok Shop status, lower-cased language, the question a
  merchant in the interview has open and since when they have been idle there). The
  merchant rows it copies take 2.4 times the pages (53 vs 22 MB at 100,000 merchants in
  benchmarks/bench_console.py: answers and path JSON), and the funnel's pass over them
  computed the week per row and sorted 100,000 rows to group them.
- ``step_opened``: one row per (merchant, step) first opened, instead of
  ``SELECT DISTINCT`` over the step_opened events.

Both are written by database triggers (AFTER INSERT/UPDATE/DELETE on merchant, AFTER INSERT
on event), so the bot sends no extra statement per update (tests/test_round_trips.py), and a
merchant update that changes nothing the funnel reads (a finished merchant coming back)
does not touch ``merchant_funnel`` (the update trigger's WHEN). Both back-filled here.

On PostgreSQL an ndistinct statistics object on the grouped columns tells the planner the
funnel has a few hundred groups, not one per merchant, so it hashes instead of sorting
100,000 rows to disk (work_mem); and the two tables are scanned without parallel workers.

Warning for later migrations: on SQLite a batch_alter_table that recreates ``merchant`` or
``event`` (dropping or altering a column) drops their triggers: create them again there
(``create_triggers`` below is what to copy).

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The merchant_funnel columns, and each one's value computed from a merchant row (``{m}``:
# NEW in a trigger, the table in the back-fill). The week differs by dialect.
WEEK = {
    "postgresql": "date(date_trunc('week', timezone('UTC', {m}.first_seen)))",
    "sqlite": "date({m}.first_seen, 'weekday 0', '-6 days')",
}
VALUES = {
    "merchant_id": "{m}.id",
    "finished": "{m}.mode <> 'interview'",
    "opened": "{m}.plan_opened_at IS NOT NULL",
    "done": "{m}.step_done_at IS NOT NULL",
    "reached": "{m}.reached",
    "answered": "{m}.answered",
    "platform": "{m}.platform",
    "markets": "{m}.markets",
    "shop_status": "{m}.shop_status",
    "language": "lower({m}.language_code)",
    "stuck_at": "CASE WHEN {m}.mode = 'interview' THEN {m}.current END",
    "stuck_since": (
        "CASE WHEN {m}.mode = 'interview' AND {m}.current IS NOT NULL THEN {m}.last_seen END"
    ),
}
# Merchant columns whose change changes the funnel row (last_seen only while in the interview).
WATCHED = (
    "first_seen",
    "mode",
    "current",
    "reached",
    "answered",
    "plan_opened_at",
    "step_done_at",
    "platform",
    "markets",
    "shop_status",
    "language_code",
)
GROUPED = ("week", "finished", "opened", "done", "reached", "answered", "stuck_at")


def _select(dialect: str, m: str) -> tuple[list[str], str]:
    """The columns and the values for one merchant row named ``m``."""
    columns = ["week", *VALUES]
    values = [WEEK[dialect].format(m=m), *(v.format(m=m) for v in VALUES.values())]
    return columns, ", ".join(values)


def _changed(dialect: str) -> str:
    """The update trigger's WHEN: a column the funnel row copies changed."""
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    changed = [f"OLD.{c} {differs} NEW.{c}" for c in WATCHED]
    changed.append(f"(NEW.mode = 'interview' AND OLD.last_seen {differs} NEW.last_seen)")
    return " OR ".join(changed)


def create_triggers(dialect: str) -> None:
    """The triggers that keep merchant_funnel and step_opened in step."""
    columns, values = _select(dialect, "NEW")
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "merchant_id")
    upsert = (
        f"INSERT INTO merchant_funnel ({', '.join(columns)}) VALUES ({values})"
        f" ON CONFLICT (merchant_id) DO UPDATE SET {updates}"
    )
    forget = (
        "DELETE FROM merchant_funnel WHERE merchant_id = OLD.id;"
        " DELETE FROM step_opened WHERE merchant_id = OLD.id;"
    )
    opened = (
        "INSERT INTO step_opened (merchant_id, step) VALUES (NEW.merchant_id, NEW.step)"
        " ON CONFLICT DO NOTHING"
    )
    step_opened = "NEW.kind = 'step_opened' AND NEW.step IS NOT NULL"
    if dialect == "postgresql":
        for name, body in (
            ("funnel_keep", f"{upsert}; RETURN NULL;"),
            ("funnel_forget", f"{forget} RETURN NULL;"),
            ("funnel_step_opened", f"{opened}; RETURN NULL;"),
        ):
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql"
                f" AS $$ BEGIN {body} END $$"
            )
        op.execute(
            "CREATE TRIGGER merchant_funnel_insert AFTER INSERT ON merchant"
            " FOR EACH ROW EXECUTE FUNCTION funnel_keep()"
        )
        op.execute(
            "CREATE TRIGGER merchant_funnel_update AFTER UPDATE ON merchant"
            f" FOR EACH ROW WHEN ({_changed(dialect)}) EXECUTE FUNCTION funnel_keep()"
        )
        op.execute(
            "CREATE TRIGGER merchant_funnel_delete AFTER DELETE ON merchant"
            " FOR EACH ROW EXECUTE FUNCTION funnel_forget()"
        )
        op.execute(
            "CREATE TRIGGER event_step_opened AFTER INSERT ON event"
            f" FOR EACH ROW WHEN ({step_opened}) EXECUTE FUNCTION funnel_step_opened()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER merchant_funnel_insert AFTER INSERT ON merchant BEGIN {upsert}; END"
        )
        op.execute(
            "CREATE TRIGGER merchant_funnel_update AFTER UPDATE ON merchant"
            f" FOR EACH ROW WHEN {_changed(dialect)} BEGIN {upsert}; END"
        )
        op.execute(
            f"CREATE TRIGGER merchant_funnel_delete AFTER DELETE ON merchant BEGIN {forget} END"
        )
        op.execute(
            "CREATE TRIGGER event_step_opened AFTER INSERT ON event"
            f" FOR EACH ROW WHEN {step_opened} BEGIN {opened}; END"
        )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "merchant_funnel",
        sa.Column("merchant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("reached", sa.String(length=2000), nullable=True),
        sa.Column("answered", sa.String(length=2000), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("markets", sa.String(length=255), nullable=True),
        sa.Column("shop_status", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("stuck_at", sa.String(length=64), nullable=True),
        sa.Column("stuck_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "step_opened",
        sa.Column("merchant_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "step"),
    )
    dialect = op.get_bind().dialect.name
    columns, values = _select(dialect, "merchant")
    op.execute(f"INSERT INTO merchant_funnel ({', '.join(columns)}) SELECT {values} FROM merchant")
    op.execute(
        "INSERT INTO step_opened (merchant_id, step) SELECT DISTINCT merchant_id, step"
        " FROM event WHERE kind = 'step_opened' AND step IS NOT NULL"
    )
    create_triggers(dialect)
    # Read by nothing else: every event insert paid for it.
    op.drop_index("ix_event_kind_step", table_name="event")
    if dialect == "postgresql":
        op.execute(
            f"CREATE STATISTICS merchant_funnel_groups (ndistinct) ON {', '.join(GROUPED)}"
            " FROM merchant_funnel"
        )
        # No parallel workers for these scans: ~100 ms of CPU alone, already run side by side
        # on two connections by the console; a worker only adds its start-up on a busy host.
        op.execute("ALTER TABLE merchant_funnel SET (parallel_workers = 0)")
        op.execute("ALTER TABLE step_opened SET (parallel_workers = 0)")
        op.execute("ANALYZE merchant_funnel")
        op.execute("ANALYZE step_opened")


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    for trigger, table in (
        ("event_step_opened", "event"),
        ("merchant_funnel_delete", "merchant"),
        ("merchant_funnel_update", "merchant"),
        ("merchant_funnel_insert", "merchant"),
    ):
        on = f" ON {table}" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
    if dialect == "postgresql":
        for name in ("funnel_keep", "funnel_forget", "funnel_step_opened"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute("DROP STATISTICS IF EXISTS merchant_funnel_groups")
    op.create_index("ix_event_kind_step", "event", ["kind", "step", "merchant_id"])
    op.drop_table("step_opened")
    op.drop_table("merchant_funnel")
