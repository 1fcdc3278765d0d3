"""Process helpers: whether a run's or a lock's holder still lives, and crawl children that end with
their parent."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether a process of this host with that id still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def die_with_parent() -> None:
    """preexec_fn of a crawl child: it ends with the process that started it (a killed nightly run or
    worker must not leave crawls writing)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
