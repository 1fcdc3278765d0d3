"""The lead store: crawl runs, shops, listings with their price history, and leads with their hits.

SQLAlchemy 2 on SQLite (default) or PostgreSQL; the schema is managed by Alembic. No Scrapy here.
"""

from __future__ import annotations

from netwatch.store.schema import StoreError
from netwatch.store.store import Store

__all__ = ["Store", "StoreError"]
