"""Shared test fixtures: real services (PostgreSQL, Redis) and the demo marketplace on loopback.

A test that needs a service skips with the reason when the service is absent, except under
NETWATCH_REQUIRE_SERVICES=1 (CI), where the absence is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_DIR.parent / "shared"
REQUIRE_SERVICES = os.environ.get("NETWATCH_REQUIRE_SERVICES") == "1"

PG_BASE_URL = os.environ.get("NETWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NETWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def service_missing(reason: str) -> None:
    """Skip (locally) or fail (CI) a test whose service is not there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason} (NETWATCH_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped at the end of the session."""
    if not _port_open("127.0.0.1", 5432):
        service_missing("PostgreSQL is not listening on 127.0.0.1:5432")
    import sqlalchemy as sa

    schema = f"nwtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_BASE_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "absent"
        service_missing(f"PostgreSQL at {PG_BASE_URL} refused: {exc}")
    yield f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Every store test runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'netwatch.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def redis_url():
    if not _port_open("127.0.0.1", 6379):
        service_missing("Redis is not listening on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent (it exists only on the developers' machines)")
    return SHARED_DIR


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory):
    """The same for module- and session-scoped fixtures (they start before any test's own fixtures): without
    it a module's crawl wrote its evidence archive into ./archive of the working directory."""
    saved = {name: os.environ.get(name) for name in ("NETWATCH_ARCHIVE_DIR", "NETWATCH_NTP_SERVER",
                                                       "NETWATCH_SCREENSHOTS")}
    os.environ["NETWATCH_ARCHIVE_DIR"] = str(tmp_path_factory.getbasetemp() / "nw-archive")
    os.environ["NETWATCH_NTP_SERVER"] = "127.0.0.1:9"
    os.environ["NETWATCH_SCREENSHOTS"] = "0"
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory, monkeypatch):
    """Keep caches and the default database out of the user's home and the checkout."""
    cache = tmp_path_factory.getbasetemp() / "nw-cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("NETWATCH_CACHE_DIR", str(cache))
    # The evidence archive of a crawl goes beside the test's files; its clock check asks loopback only.
    monkeypatch.setenv("NETWATCH_ARCHIVE_DIR", str(tmp_path_factory.getbasetemp() / "nw-archive"))
    monkeypatch.setenv("NETWATCH_NTP_SERVER", "127.0.0.1:9")
    # Screenshots (~2 s a lead page) only where they are the subject: tests/test_evidence.py, the demo's test.
    monkeypatch.setenv("NETWATCH_SCREENSHOTS", "0")


@pytest.fixture(scope="session")
def mall():
    """The demo marketplace (default size, seed 1, day 0) served by a child process on loopback."""
    from netwatch_fixtures.mall.launch import start_mall

    with start_mall() as running:
        yield running


def pytest_collection_modifyitems(config, items):
    """Mark tests by the services they use, so `-m "not postgres"` or `-m redis` picks them."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "pg_url" in item.fixturenames or params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in item.fixturenames:
            item.add_marker(pytest.mark.redis)
