"""lean lead writes: no foreign keys to runs or from leads, no lead indexes that no query uses (issue 5)

Runs, shops and listings are never deleted, every batch write checks its run id before writing, and a
lead's listing_id and shop_id are copies of ids the same transaction has just written (like subject_id,
which never had a foreign key). So these foreign keys only cost a trigger per written row on PostgreSQL
(lead_hits keeps its key to leads: its ON DELETE CASCADE is behaviour, not a check). The leads' indexes on last_run_id, listing_id, shop_id,
category and status serve no query well: leads are listed in id order and joined from leads to listings
and shops; category and status have a handful of values each, so scanning the primary key in id order beats
reading most of an index and sorting. Each cost an index write per lead (status and last_run_id on every
re-sighting too). Leads keep their unique key and the indexes of --since (last_seen) and of the "new in
this run" queries (first_run_id).

Revision ID: 0002
Revises: w001

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "w001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table) of the foreign keys dropped.
REFERENCES = (
    ("shops", "last_run_id", "runs"), ("listings", "last_run_id", "runs"), ("listing_snapshots", "run_id", "runs"),
    ("reviews", "first_run_id", "runs"), ("leads", "first_run_id", "runs"), ("leads", "last_run_id", "runs"),
    ("leads", "listing_id", "listings"), ("leads", "shop_id", "shops"), ("lead_hits", "run_id", "runs"),
)
UNUSED_LEAD_INDEXES = {"ix_leads_last_run_id": "last_run_id", "ix_leads_listing_id": "listing_id",
                       "ix_leads_shop_id": "shop_id", "ix_leads_category": "category", "ix_leads_status": "status"}
# SQLite's foreign keys have no names: batch mode names them by this convention to drop them.
SQLITE_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _foreign_key_names(table: str, column: str, referred: str) -> list[str]:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return [f"fk_{table}_{column}_{referred}"]
    return [key["name"] for key in sa.inspect(bind).get_foreign_keys(table)
            if key["constrained_columns"] == [column] and key["referred_table"] == referred]


def _by_table() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, referred in REFERENCES:
        tables.setdefault(table, []).append((column, referred))
    return tables


def upgrade() -> None:
    for table, references in _by_table().items():
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMING) as batch_op:
            for column, referred in references:
                for name in _foreign_key_names(table, column, referred):
                    batch_op.drop_constraint(name, type_="foreignkey")
            if table == "leads":
                for index in UNUSED_LEAD_INDEXES:
                    batch_op.drop_index(index)


def downgrade() -> None:
    for table, references in _by_table().items():
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMING) as batch_op:
            for column, referred in references:
                batch_op.create_foreign_key(f"fk_{table}_{column}_{referred}", referred, [column], ["id"])
            if table == "leads":
                for index, column in UNUSED_LEAD_INDEXES.items():
                    batch_op.create_index(index, [column], unique=False)
