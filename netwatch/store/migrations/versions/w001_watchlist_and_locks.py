"""watchlist targets, run locks, nightly per-target runs

Revision ID: w001
Revises: 0001
Create Date: 2026-11-22 15:45:00

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "w001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("profile", sa.String(length=200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("tags", sa.String(length=2000), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("watch_targets", schema=None) as batch_op:
        batch_op.create_index("ix_watch_targets_enabled_priority", ["enabled", "priority"], unique=False)

    op.create_table(
        "run_locks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "nightly_target_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nightly_run_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("finish_reason", sa.String(length=100), nullable=True),
        sa.Column("alarms", sa.JSON(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["crawl_run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["nightly_run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["watch_targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nightly_run_id", "target_id", name="uq_nightly_target_runs_run_target"),
    )
    with op.batch_alter_table("nightly_target_runs", schema=None) as batch_op:
        batch_op.create_index("ix_nightly_target_runs_nightly_run_id", ["nightly_run_id"], unique=False)
        batch_op.create_index("ix_nightly_target_runs_target_id", ["target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("nightly_target_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_nightly_target_runs_target_id")
        batch_op.drop_index("ix_nightly_target_runs_nightly_run_id")
    op.drop_table("nightly_target_runs")
    op.drop_table("run_locks")
    with op.batch_alter_table("watch_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_targets_enabled_priority")
    op.drop_table("watch_targets")
