"""Alembic environment: runs on the connection that yilian.store.schema hands over (no ini file needed)."""

from alembic import context

from yilian.store.schema import load_all_tables

metadata = load_all_tables()

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
