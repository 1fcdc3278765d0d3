"""Shared by the store and export tests: a fresh database per test and item factories.

conftest's pg_url is one schema for the whole session; store tests need an empty database each, so
`store_url` makes a schema per test inside it (and drops it after).
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from netwatch.domain.items import Listing, Review, Shop


def with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["options"] = f"-csearch_path={schema}"
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def store_url(db_url):
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if db_url.startswith("sqlite"):
        yield db_url
        return
    schema = f"nwstore_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(db_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_schema(db_url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def hit(match: str = "最佳", *, pack: str = "ads", rule: str = "absolute_terms", category: str = "false_advertising",
        severity: str = "medium", field: str = "title", start: int = 0, context: str | None = None) -> dict:
    return {"pack": pack, "rule": rule, "category": category, "severity": severity, "field": field,
            "start": start, "end": start + len(match), "match": match, "context": context or f"…{match}…",
            "legal_basis": "广告法 第九条(三)"}


def listing(number: int, *, hits: list | None = None, price: float | None = 100.0, original: float | None = None,
            shop: str | None = "s1", platform: str = "netmall", fetched_at: str | None = None, port: int = 8000,
            title: str | None = None, reviews: list | None = None) -> Listing:
    return Listing(url=f"http://127.0.0.1:{port}/item/{number}", canonical_id=str(number), platform=platform,
                   shop_id=shop, shop_name=f"店铺{shop}" if shop else None, title=title or f"商品{number}",
                   price=price, original_price=original, currency="CNY", fetched_at=fetched_at,
                   content_hash=f"{number:064x}", hits=list(hits or []), reviews=list(reviews or []))


def shop(shop_id: str = "s1", *, hits: list | None = None, credit_code: str | None = "91350100M000100Y43",
         platform: str = "netmall") -> Shop:
    return Shop(platform=platform, shop_id=shop_id, url=f"http://127.0.0.1:8000/shop/{shop_id}",
                name=f"店铺{shop_id}", credit_code=credit_code, hits=list(hits or []))


def review(text: str, review_id: str | None = None) -> Review:
    return Review(text=text, reviewer="买家", rating=5.0, time="2024-05-01T00:00:00Z", review_id=review_id)
