"""Helpers shared by the benchmarks."""

from __future__ import annotations

import uuid

import sqlalchemy as sa


def pg_schema_url(base: str) -> tuple[str, str]:
    """A fresh PostgreSQL schema for one measurement: (URL whose search_path is it, schema name)."""
    schema = f"nwbench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}", schema
