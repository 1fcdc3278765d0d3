"""conditional requests: the validator (ETag) a listing's page was last served with

An incremental crawl re-fetching a listing due by its revisit interval sends it as If-None-Match; a
304 Not Modified answer means the page is unchanged, and nothing is downloaded or parsed again.

Revision ID: 0004
Revises: 0003

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch_op:
        batch_op.add_column(sa.Column("etag", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch_op:
        batch_op.drop_column("etag")
