"""Alembic environment for the lead store. Run from netwatch.store.schema with a live connection
(never from an alembic.ini), so the version table lands in the same schema as the tables."""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context

import netwatch.store
from netwatch.store.models import Base

# Every module of the store that declares tables on Base (models.py, watchlist_models.py, …).
for module in pkgutil.iter_modules(netwatch.store.__path__):
    if module.name.endswith("models"):
        importlib.import_module(f"netwatch.store.{module.name}")

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
