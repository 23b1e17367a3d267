"""Alembic environment: migrations run on the connection rillchat hands over (see ``database.py``)."""

from __future__ import annotations

from alembic import context

from rillchat.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through rillchat.storage.Database.migrate()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
