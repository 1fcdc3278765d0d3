"""Connecting to the lead store: engines tuned per database, the schema created or upgraded with
Alembic on first use, and database failures turned into StoreError messages a user can act on."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from netwatch.store.bulk import prepare_postgresql

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
# Any constant will do: it only has to be the same in every netwatch process.
PG_MIGRATION_LOCK = 0x6E657477
# Alembic's `context` is one module-level object: two threads migrating at once (two spiders opening a new
# database in one process) would run on each other's connection. One migration at a time per process.
_MIGRATING = threading.Lock()
# Execution option of a write transaction whose code guarantees its foreign keys (see _make_sqlite_transactional).
UNCHECKED_REFERENCES = "netwatch_unchecked_references"
DISK_FULL = "the disk is full: free space and run again"


class StoreError(Exception):
    """The store cannot do what was asked; the message says why and what to do. `disk_full`: for lack of space."""

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full


def describe(url: str | sa.URL) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _check_sqlite_file(url: sa.URL) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if path.exists():
        # Root may write any file, so look at the permission bits as well as access().
        if not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222:
            raise StoreError(f"the database file {path} is read-only: make it writable or point NETWATCH_DB_URL elsewhere")
    elif not path.parent.is_dir():
        raise StoreError(f"cannot create the database {path}: the directory {path.parent} does not exist")
    elif not os.access(path.parent, os.W_OK):
        raise StoreError(f"cannot create the database {path}: the directory {path.parent} is not writable")


def create_engine(url: str) -> Engine:
    """An engine for `url`: SQLite in WAL mode with a busy timeout and real transactions, or PostgreSQL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _check_sqlite_file(parsed)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _make_sqlite_transactional(engine)
        return engine
    if backend == "postgresql":
        connect_args = {"connect_timeout": 10}
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        prepare_postgresql(engine)
        return engine
    raise StoreError(f"unsupported database {describe(parsed)}: use sqlite:///FILE or postgresql+psycopg://…")


def _make_sqlite_transactional(engine: Engine) -> None:
    """pysqlite delays BEGIN until the first write, so a read-then-write transaction can fail at once with
    SQLITE_BUSY instead of waiting. We send BEGIN ourselves: IMMEDIATE (take the write lock, waiting up to
    the busy timeout) unless the connection is marked read-only."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a crash loses no committed batch
        # Checkpoint (copy the WAL into the database, with two fsyncs) every ~40 MB of WAL, not every 4 MB (about
        # each batch): index pages rewritten by every batch are copied once per checkpoint. Commits are as durable.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        # Foreign keys are checked except in transactions that say their references are right by construction
        # (the store's batch writes): on SQLite every upserted row also scans each child table, which makes
        # the checks cost three times the writes. The pragma cannot change inside a transaction.
        conn.exec_driver_sql(f"PRAGMA foreign_keys = {'OFF' if options.get(UNCHECKED_REFERENCES) else 'ON'}")
        conn.exec_driver_sql("BEGIN" if options.get("netwatch_readonly") else "BEGIN IMMEDIATE")


def alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "netwatch.store:migrations")
    config.attributes["connection"] = connection
    return config


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade the schema to this netwatch's head; refuse a schema from a newer netwatch."""
    with translate_errors(engine):
        with engine.connect() as conn:
            scripts = ScriptDirectory.from_config(alembic_config(conn))
            head = scripts.get_current_head()
            if _current_revisions(conn, scripts) == {head}:
                return
        # SQLite alters a table by copying it and dropping the original: with foreign keys on, dropping leads
        # would cascade to lead_hits or fail. So they are off while migrating, and checked afterwards.
        with _MIGRATING, engine.connect().execution_options(**{UNCHECKED_REFERENCES: True}) as conn:
            if conn.dialect.name == "postgresql":
                # Two crawls starting at once: one migrates, the other waits and then finds the head.
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                conn.commit()
            try:
                # On SQLite the check opens a BEGIN IMMEDIATE transaction that the upgrade runs in: another
                # process migrating the same new file waits for it, then finds the head.
                sqlite = conn.dialect.name == "sqlite"
                if _current_revisions(conn, scripts, end_transaction=not sqlite) != {head}:
                    command.upgrade(alembic_config(conn), "head")
                    if conn.dialect.name == "sqlite":
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            conn.rollback()
                            raise StoreError(f"upgrading {describe(engine.url)} would break {len(broken)} references "
                                             f"(first: {tuple(broken[0])}); nothing was changed")
                    conn.commit()
            finally:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK})
                    conn.commit()


def _current_revisions(conn: sa.Connection, scripts: ScriptDirectory, *, end_transaction: bool = True) -> set[str]:
    current = set(MigrationContext.configure(conn).get_current_heads())
    if end_transaction:
        conn.rollback()
    known = {rev.revision for rev in scripts.walk_revisions()}
    unknown = current - known
    if unknown:
        raise StoreError(
            f"the database {describe(conn.engine.url)} has schema version {', '.join(sorted(unknown))}, "
            f"newer than this netwatch knows (latest {scripts.get_current_head()}): upgrade netwatch; nothing was changed"
        )
    return current


@contextlib.contextmanager
def translate_errors(engine: Engine, doing: str = "using") -> Iterator[None]:
    """Turn driver errors into StoreError with the database named and the likely cause spelled out."""
    try:
        yield
    except StoreError:
        raise
    except sa.exc.DBAPIError as exc:
        message = explain(engine, exc, doing)
        raise StoreError(message, disk_full=DISK_FULL in message) from exc


def explain(engine: Engine, exc: sa.exc.DBAPIError, doing: str) -> str:
    where = describe(engine.url)
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or "no space left" in lowered or "could not extend file" in lowered:
        cause = DISK_FULL
    elif "readonly" in lowered or "read-only" in lowered:
        cause = "the database is read-only: make it writable"
    elif "unable to open database" in lowered:
        cause = "cannot open the database file: check the path and its directory's permissions"
    elif exc.connection_invalidated or "connection" in lowered or "could not translate host" in lowered:
        cause = "the database server is unreachable: is it running, and is NETWATCH_DB_URL right?"
    elif "locked" in lowered or "deadlock" in lowered:
        cause = "another process holds the database too long: try again"
    else:
        cause = "database error"
    return f"{doing} {where} failed: {cause} ({text}). Nothing already stored was changed."
