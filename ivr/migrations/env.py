"""Alembic's environment for the call store: run from ivr.store with a connection it opened
(no alembic.ini, no URL here)."""

from alembic import context

from ivr.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the line's migrations through `ivr db upgrade` (ivr.store.upgrade)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them: batch mode does that for future migrations.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
