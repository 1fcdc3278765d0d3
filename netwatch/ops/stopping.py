"""SIGTERM and SIGINT during a nightly run: stop cleanly rather than die.

While a crawl child runs, the first signal is passed on to it as one SIGTERM (Scrapy then shuts down
gracefully: StorePipeline flushes its buffer and the post-run step marks the crawl run killed) and the
night stops once the child is gone and what finished is recorded. Elsewhere (between batches, reading
the store, writing the outbox) the night stops at once: every write is one transaction and every outbox
file is renamed into place, so nothing half-done is left. A second signal stops at once in any case.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long a crawl child asked to stop may take to shut down gracefully before it is killed.
CHILD_GRACE = 20.0


class NightlyInterrupted(RuntimeError):
    """The nightly run was stopped by a signal; the next `netwatch nightly` resumes it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}: the next `netwatch nightly` resumes this night")

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number (143 for SIGTERM)."""
        return 128 + self.signum


class Stopping:
    """Installs the signal handlers for the duration of a night (main thread only: Python delivers
    signals there); `child` is the crawl process currently running, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.child: subprocess.Popen | None = None
        self.asked_at: float | None = None  # when the child was asked to stop
        self._deferring = 0
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        child = self.child
        if first and child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            self.asked_at = time.monotonic()
            return
        if first and (child is not None or self._deferring):
            return  # stops after the batch is recorded
        raise NightlyInterrupted(self.signum)

    def raise_if_requested(self) -> None:
        if self.signum is not None:
            raise NightlyInterrupted(self.signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A signal inside only asks to stop once the block is done (recording a batch's outcomes)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1

    def wait_for_child(self, process: subprocess.Popen) -> int:
        """Wait for the crawl child; once it was asked to stop, kill it after CHILD_GRACE seconds."""
        self.child = process
        try:
            while True:
                try:
                    return process.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    if self.asked_at is not None and time.monotonic() - self.asked_at > CHILD_GRACE:
                        process.kill()
        finally:
            self.child = None
            if process.poll() is None:  # stopped at once (a second signal): the crawl goes too
                process.kill()
                process.wait()

    def __enter__(self) -> Stopping:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            if handler is not None:  # None: set outside Python, cannot be restored from here
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()


_ACTIVE: list[Stopping] = []  # the night running in this process, for crawl_targets_locally


@contextlib.contextmanager
def stopping() -> Iterator[Stopping]:
    with Stopping() as stop:
        _ACTIVE.append(stop)
        try:
            yield stop
        finally:
            _ACTIVE.remove(stop)


def wait_for_child(process: subprocess.Popen) -> int:
    """Wait for a crawl child under the running night's signal handling (or plainly, outside a night)."""
    return _ACTIVE[-1].wait_for_child(process) if _ACTIVE else process.wait()
