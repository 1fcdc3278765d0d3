"""lean lead writes: no foreign keys to runs, no lead indexes that no query uses (issue 5)

Runs are never deleted and every batch write checks its run id before writing, so the foreign keys to
runs only cost a trigger per row on PostgreSQL. The leads' indexes on last_run_id, listing_id, shop_id
and category serve no query (leads are listed in id order, joined from leads to listings and shops, and
category has a handful of values); each cost an index write per lead.

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

# (table, column) of every foreign key to runs.id written by the store's batch writes.
RUN_REFERENCES = (
    ("shops", "last_run_id"), ("listings", "last_run_id"), ("listing_snapshots", "run_id"),
    ("reviews", "first_run_id"), ("leads", "first_run_id"), ("leads", "last_run_id"), ("lead_hits", "run_id"),
)
UNUSED_LEAD_INDEXES = {"ix_leads_last_run_id": "last_run_id", "ix_leads_listing_id": "listing_id",
                       "ix_leads_shop_id": "shop_id", "ix_leads_category": "category"}
# SQLite's foreign keys have no names: batch mode names them by this convention to drop them.
SQLITE_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _foreign_key_names(table: str, column: str) -> list[str]:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return [f"fk_{table}_{column}_runs"]
    return [key["name"] for key in sa.inspect(bind).get_foreign_keys(table)
            if key["constrained_columns"] == [column] and key["referred_table"] == "runs"]


def upgrade() -> None:
    tables: dict[str, list[str]] = {}
    for table, column in RUN_REFERENCES:
        tables.setdefault(table, []).append(column)
    for table, columns in tables.items():
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMING) as batch_op:
            for column in columns:
                for name in _foreign_key_names(table, column):
                    batch_op.drop_constraint(name, type_="foreignkey")
            if table == "leads":
                for index in UNUSED_LEAD_INDEXES:
                    batch_op.drop_index(index)


def downgrade() -> None:
    tables: dict[str, list[str]] = {}
    for table, column in RUN_REFERENCES:
        tables.setdefault(table, []).append(column)
    for table, columns in tables.items():
        with op.batch_alter_table(table, naming_convention=SQLITE_NAMING) as batch_op:
            for column in columns:
                batch_op.create_foreign_key(f"fk_{table}_{column}_runs", "runs", [column], ["id"])
            if table == "leads":
                for index, column in UNUSED_LEAD_INDEXES.items():
                    batch_op.create_index(index, [column], unique=False)
