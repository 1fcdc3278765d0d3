"""nightly crawl runs: every crawl run a nightly run started, recorded as the crawl starts

A nightly run killed mid-batch has crawl runs it never got to record per target; their leads belong to
that night all the same. This table names them, so the resumed night puts every lead first found by any
of its crawls in the outbox.

Revision ID: 0005
Revises: 0004

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nightly_crawl_runs",
        sa.Column("crawl_run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("nightly_run_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["crawl_run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["nightly_run_id"], ["runs.id"]),
        sa.ForeignKeyConstraint(["target_id"], ["watch_targets.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("crawl_run_id"),
    )
    with op.batch_alter_table("nightly_crawl_runs", schema=None) as batch_op:
        batch_op.create_index("ix_nightly_crawl_runs_nightly_run_id", ["nightly_run_id"], unique=False)
    # Nights recorded before this revision: their finished crawls, as nightly_target_runs names them.
    op.execute("INSERT INTO nightly_crawl_runs (crawl_run_id, nightly_run_id, target_id) "
               "SELECT crawl_run_id, MIN(nightly_run_id), MIN(target_id) FROM nightly_target_runs "
               "WHERE crawl_run_id IS NOT NULL GROUP BY crawl_run_id")


def downgrade() -> None:
    with op.batch_alter_table("nightly_crawl_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_nightly_crawl_runs_nightly_run_id")
    op.drop_table("nightly_crawl_runs")
