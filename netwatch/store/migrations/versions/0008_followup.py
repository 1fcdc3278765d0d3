"""follow-up of leads (#19): shop identifiers and seller groups, re-checks, random inspections, campaigns

Revision ID: 0008
Revises: 0007

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shop_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_ref", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shop_ref"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_ref", "kind", "value", name="uq_shop_identifiers_shop_kind_value"),
    )
    op.create_index("ix_shop_identifiers_kind_value", "shop_identifiers", ["kind", "value"], unique=False)
    op.create_table(
        "seller_groups",
        sa.Column("shop_ref", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["shop_ref"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_ref"),
    )
    op.create_index("ix_seller_groups_group_id", "seller_groups", ["group_id"], unique=False)
    op.create_table(
        "lead_rechecks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("lead_status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lead_rechecks_lead_id", "lead_rechecks", ["lead_id"], unique=False)
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=100), nullable=False),
        sa.Column("population_size", sa.Integer(), nullable=False),
        sa.Column("population_hash", sa.String(length=64), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("inspectors", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sample_members",
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("member_key", sa.String(length=2200), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("inspectors", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["sample_id"], ["samples.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sample_id", "position"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tag", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.DateTime(), nullable=False),
        sa.Column("ends_on", sa.DateTime(), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("campaigns")
    op.drop_table("sample_members")
    op.drop_table("samples")
    op.drop_index("ix_lead_rechecks_lead_id", table_name="lead_rechecks")
    op.drop_table("lead_rechecks")
    op.drop_index("ix_seller_groups_group_id", table_name="seller_groups")
    op.drop_table("seller_groups")
    op.drop_index("ix_shop_identifiers_kind_value", table_name="shop_identifiers")
    op.drop_table("shop_identifiers")
