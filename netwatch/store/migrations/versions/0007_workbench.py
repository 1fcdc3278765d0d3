"""the analysts' workbench: users with hashed passwords and regions, every change to a lead recorded
(status, assignee, region hand-off, notes), and the region a lead was handed to

Revision ID: 0007
Revises: 0006

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("regions", sa.String(length=2000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "lead_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index("ix_lead_events_lead_id", ["lead_id"], unique=False)
    # A plain ADD COLUMN on both databases (a nullable column): SQLite does not copy the leads table.
    op.add_column("leads", sa.Column("region", sa.String(length=100), nullable=True))
    # leads earlier nights handed to a region: the region of the target whose crawl found them first
    op.execute("UPDATE leads SET region = (SELECT watch_targets.region FROM nightly_crawl_runs JOIN watch_targets "
               "ON watch_targets.id = nightly_crawl_runs.target_id "
               "WHERE nightly_crawl_runs.crawl_run_id = leads.first_run_id) WHERE region IS NULL")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index("ix_leads_triage", ["severity_rank", "last_seen"], unique=False)
        batch_op.create_index("ix_leads_facets", ["status", "category", "region", "severity_rank", "shop_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_facets")
        batch_op.drop_index("ix_leads_triage")
        batch_op.drop_column("region")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_lead_id")
    op.drop_table("lead_events")
    op.drop_table("users")
