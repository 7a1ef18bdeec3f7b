"""Alembic environment: always run with a connection handed in by ``vpnsmm.adapters.sqlalchemy.migrate``."""

from __future__ import annotations

from alembic import context

from vpnsmm.adapters.sqlalchemy.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guards misuse of the alembic CLI
    raise RuntimeError("run migrations through 'vpnsmm db upgrade', which provides the connection")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
