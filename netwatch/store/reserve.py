"""Room kept beside an SQLite database for a run's last word.

A crawl whose batch the full disk refused still has to record that it failed; in WAL mode that write needs
new WAL frames, and a full disk has none. So the store keeps a small file of allocated space next to the
database (FILE-reserve), gives it up when the run's end is refused for lack of space, and writes it again on
the next open that finds room. PostgreSQL manages its own disk: nothing is reserved there."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

# A run's end rewrites its row and its statistics (~10-40 KB of JSON): a few dozen 4 KB WAL frames.
RESERVE_BYTES = 256 * 1024


def reserve_path(database: Path) -> Path:
    return database.with_name(database.name + "-reserve")


def keep_reserve(database: Path, size: int = RESERVE_BYTES) -> bool:
    """Make sure the reserve beside `database` holds `size` allocated bytes; False (logged) when the disk has
    no room for it, as it may not right after a full disk stopped a crawl."""
    path = reserve_path(database)
    try:
        if path.exists() and path.stat().st_size >= size:
            return True
        with open(path, "ab") as handle:
            os.posix_fallocate(handle.fileno(), 0, size)
        return True
    except OSError as exc:
        path.unlink(missing_ok=True)
        logger.warning("no room for the %d KB kept beside %s for recording a run's end on a full disk: %s",
                       size // 1024, database, exc.strerror or exc)
        return False


def release_reserve(database: Path) -> bool:
    """Give the reserve's space back to the disk; False when there was none to give."""
    path = reserve_path(database)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    logger.warning("the disk beside %s is full: used the space kept for recording the run's end", database)
    return True
