"""incremental crawling: what the list page last showed of each listing, and when its page was last fetched

An incremental crawl (issue 7) re-fetches a listing's page only when it is new, when the list page's
price or title differs from `list_price` / `list_title`, or when `fetched_at` is older than the revisit
interval; `last_seen` alone cannot tell, since a listing seen on its list page without a fetch is seen too.

Revision ID: 0003
Revises: 0002

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch_op:
        batch_op.add_column(sa.Column("list_price", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("list_title", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fetched_at", sa.DateTime(), nullable=True))
    # Listings crawled before this revision were fetched when last seen.
    op.execute(sa.text("UPDATE listings SET fetched_at = last_seen"))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch_op:
        batch_op.drop_column("fetched_at")
        batch_op.drop_column("list_title")
        batch_op.drop_column("list_price")
