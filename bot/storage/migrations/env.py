"""Alembic environment: runs on the connection that bot.storage.db.Database hands over."""

from alembic import context
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `python -m bot db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
