"""evidence: each lead sighting points to the WARC record of the page it was found on

A lead_hits row names the archived record (file, gzip member offset and length, sha256 of those bytes) of
the page fetch that raised or saw the lead again, so the evidence of every sighting survives the page
changing. Rows written before this revision, or by crawls without the archive, have none.

Revision ID: 0006
Revises: 0005

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("lead_hits", "listing_snapshots")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("warc_file", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column("warc_length", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("warc_sha256", sa.String(length=80), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("warc_sha256")
            batch_op.drop_column("warc_length")
            batch_op.drop_column("warc_offset")
            batch_op.drop_column("warc_file")
