"""The service markers are applied by conftest from the fixtures a test uses: `-m "not postgres"` leaves out
exactly the PostgreSQL variants."""

from __future__ import annotations

import subprocess
import sys

from conftest import PROJECT_DIR


def _collected(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=PROJECT_DIR, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_postgres_marker_selects_the_postgresql_variants_only():
    on_pg = _collected("-m", "postgres", "tests/test_store.py")
    off_pg = _collected("-m", "not postgres", "tests/test_store.py")
    assert on_pg and all("postgresql" in test_id for test_id in on_pg)
    assert off_pg and not any("postgresql" in test_id for test_id in off_pg)


def test_redis_marker_selects_the_distributed_crawl():
    assert any("test_two_workers_share_one_nightly_crawl" in t for t in _collected("-m", "redis", "tests/test_distributed.py"))
