"""initial schema: runs, shops, listings, snapshots, reviews, leads, lead hits

Revision ID: 0001
Revises: 

"""
from __future__ import annotations

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('spider', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=2000), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_spider_target', ['spider', 'target'], unique=False)

    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=200), nullable=False),
    sa.Column('shop_id', sa.String(length=500), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('licence_text', sa.Text(), nullable=True),
    sa.Column('credit_code', sa.String(length=100), nullable=True),
    sa.Column('food_licence', sa.String(length=100), nullable=True),
    sa.Column('contact', sa.Text(), nullable=True),
    sa.Column('is_food', sa.Boolean(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['last_run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'shop_id', name='uq_shops_platform_shop')
    )
    op.create_table('listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=200), nullable=False),
    sa.Column('canonical_id', sa.String(length=2000), nullable=False),
    sa.Column('shop_ref', sa.Integer(), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('price', sa.Double(), nullable=True),
    sa.Column('original_price', sa.Double(), nullable=True),
    sa.Column('currency', sa.String(length=10), nullable=True),
    sa.Column('content_hash', sa.String(length=128), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('delisted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['last_run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['shop_ref'], ['shops.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'canonical_id', name='uq_listings_platform_canonical')
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listings_last_run_id'), ['last_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listings_shop_ref'), ['shop_ref'], unique=False)

    op.create_table('leads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('shop_id', sa.Integer(), nullable=True),
    sa.Column('pack', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('severity_rank', sa.Integer(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('matched_text', sa.Text(), nullable=True),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('dismissed_text', sa.Text(), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.Column('first_run_id', sa.Integer(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['first_run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['last_run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject', 'subject_id', 'pack', 'rule', name='uq_leads_subject_rule')
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leads_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_first_run_id'), ['first_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_last_run_id'), ['last_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_last_seen'), ['last_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_status'), ['status'], unique=False)

    op.create_table('listing_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(), nullable=False),
    sa.Column('price', sa.Double(), nullable=True),
    sa.Column('original_price', sa.Double(), nullable=True),
    sa.Column('content_hash', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('listing_id', 'run_id', name='uq_snapshots_listing_run')
    )
    with op.batch_alter_table('listing_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_snapshots_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_snapshots_listing_fetched', ['listing_id', 'fetched_at'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('review_key', sa.String(length=200), nullable=False),
    sa.Column('reviewer', sa.Text(), nullable=True),
    sa.Column('rating', sa.Double(), nullable=True),
    sa.Column('time', sa.String(length=40), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('first_run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['first_run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('listing_id', 'review_key', name='uq_reviews_listing_key')
    )
    op.create_table('lead_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('match', sa.Text(), nullable=False),
    sa.Column('context', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lead_id', 'run_id', 'field', 'start', 'end', name='uq_lead_hits_position')
    )
    with op.batch_alter_table('lead_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_hits_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('lead_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_hits_run_id'))

    op.drop_table('lead_hits')
    op.drop_table('reviews')
    with op.batch_alter_table('listing_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_snapshots_listing_fetched')
        batch_op.drop_index(batch_op.f('ix_listing_snapshots_run_id'))

    op.drop_table('listing_snapshots')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leads_status'))
        batch_op.drop_index(batch_op.f('ix_leads_shop_id'))
        batch_op.drop_index(batch_op.f('ix_leads_listing_id'))
        batch_op.drop_index(batch_op.f('ix_leads_last_seen'))
        batch_op.drop_index(batch_op.f('ix_leads_last_run_id'))
        batch_op.drop_index(batch_op.f('ix_leads_first_run_id'))
        batch_op.drop_index(batch_op.f('ix_leads_category'))

    op.drop_table('leads')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_shop_ref'))
        batch_op.drop_index(batch_op.f('ix_listings_last_run_id'))

    op.drop_table('listings')
    op.drop_table('shops')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_spider_target')

    op.drop_table('runs')
