"""Who is still alive in a shared crawl, and what a dead worker held.

Each worker process beats a key with a TTL (`<prefix>:alive:<incarnation>`, NETWATCH_HEARTBEAT_SECONDS /
NETWATCH_HEARTBEAT_TTL). An incarnation is the worker's id plus a fresh token (`w1#3fa9c1d2`): a worker
restarted under the same id is a new incarnation, so its predecessor's death is still seen.

Every request a worker pops stays, until its items are stored, in that worker's in-flight set
(`<spider prefix>:inflight:<incarnation>`, see netwatch.crawl.distributed.inflight). When a heartbeat
expires the coordinator reaps the worker: its in-flight requests go back to their queues (straight into
the queue: their fingerprints are already in the duplicate filter), its idle/busy markers are dropped
(the drain must not wait for it), and it is listed in `<prefix>:lost`.

The coordinator beats too (`<namespace>:coordinator`, holding its job prefix): a job key without a live
coordinator was left by a killed one and is cleared by the next.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

import redis

INCARNATION_SEP = "#"

# Back into the queue with the score it had (ZUNIONSTORE ... AGGREGATE MIN keeps the better of two).
_REQUEUE = """
local held = redis.call('ZCARD', KEYS[1])
if held > 0 then redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[1], 'AGGREGATE', 'MIN') end
redis.call('DEL', KEYS[1])
return held
"""
# Refresh (ARGV[2] ms) or delete (no ARGV[2]) the coordinator's key only while it is still ours.
_OWN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""


def new_incarnation(worker_id: str) -> str:
    return f"{worker_id}{INCARNATION_SEP}{uuid.uuid4().hex[:8]}"


def worker_name(incarnation: str) -> str:
    """The id a worker was started with (`--id`), without its incarnation token."""
    return incarnation.rsplit(INCARNATION_SEP, 1)[0]


def alive_key(prefix: str, incarnation: str) -> str:
    return f"{prefix}:alive:{incarnation}"


def inflight_key(spider_prefix: str, incarnation: str) -> str:
    return f"{spider_prefix}:inflight:{incarnation}"


def lost_key(prefix: str) -> str:
    return f"{prefix}:lost"


def coordinator_key(namespace: str) -> str:
    return f"{namespace}:coordinator"


def _glob(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def inflight_count(client: redis.Redis, prefix: str) -> int:
    """Requests popped by live workers whose items are not stored yet (reaped workers' are re-queued)."""
    return sum(client.zcard(key) for key in client.scan_iter(f"{_glob(prefix)}:*:inflight:*"))


def reap_dead_workers(client: redis.Redis, prefix: str, finished: set[str] | frozenset[str] = frozenset()
                      ) -> list[tuple[str, int]]:
    """Workers of the job whose heartbeat expired, not reaped before: (incarnation, requests re-queued).
    `finished`: workers that posted all their stats, which stop beating because they are done."""
    reaped = []
    requeue = client.register_script(_REQUEUE)
    for incarnation in sorted(client.smembers(f"{prefix}:workers") - client.smembers(lost_key(prefix)) - finished):
        if client.exists(alive_key(prefix, incarnation)):
            continue
        requeued = 0
        for key in client.scan_iter(f"{_glob(prefix)}:*:inflight:{_glob(incarnation)}"):
            queue = key[:-len(f":inflight:{incarnation}")] + ":requests"
            requeued += int(requeue(keys=[key, queue]))
        marker = f"{prefix}:idle:{incarnation}:"
        for name in ("busy_spiders", "idle_spiders"):
            mine = [member for member in client.smembers(f"{prefix}:{name}") if member.startswith(marker)]
            if mine:
                client.srem(f"{prefix}:{name}", *mine)
        client.incrby(f"{prefix}:requeued", requeued)
        client.sadd(lost_key(prefix), incarnation)
        reaped.append((incarnation, requeued))
    return reaped


class CoordinatorBeat:
    """The coordinator's claim on a namespace: `<namespace>:coordinator` = its job prefix, refreshed by a
    thread (the coordinator blocks for minutes in seeding and in the post-run step) until released."""

    def __init__(self, client: redis.Redis, namespace: str, prefix: str, every: float, ttl: float) -> None:
        self.client, self.key, self.prefix = client, coordinator_key(namespace), prefix
        self.every, self.ttl_ms = every, int(ttl * 1000)
        self.lost = threading.Event()  # another coordinator holds the key now: ours expired
        self._stop = threading.Event()
        self._own = client.register_script(_OWN)
        self._thread: threading.Thread | None = None

    def acquire(self) -> str | None:
        """Claim the namespace; None when claimed, else the live holder's job prefix."""
        if self.client.set(self.key, self.prefix, nx=True, px=self.ttl_ms):
            self._thread = threading.Thread(target=self._beat, name="netwatch-coordinator-beat", daemon=True)
            self._thread.start()
            return None
        return self.client.get(self.key) or "(a coordinator that just stopped)"

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not self._own(keys=[self.key], args=[self.prefix, self.ttl_ms]):
                    self.lost.set()
                    return
            except redis.RedisError:
                pass  # Redis away for a moment: the key lives on for its TTL; the next beat tries again

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.every + 5)
            self._own(keys=[self.key], args=[self.prefix])


def clear_stale_job(client: redis.Redis, job_name: str, raw_job: str) -> str:
    """Remove a job no live coordinator owns: its keys go, `done` stays a while so workers still in it
    close their spiders and look for the next job. The stale job's prefix."""
    prefix = job_prefix(raw_job)
    if prefix:
        for key in client.scan_iter(f"{_glob(prefix)}:*"):
            client.delete(key)
        client.set(f"{prefix}:done", 1, ex=600)
    client.delete(job_name)
    return prefix or "(unreadable job)"


def job_prefix(raw_job: Any) -> str | None:
    try:
        return str(json.loads(raw_job)["prefix"])
    except (ValueError, KeyError, TypeError):
        return None
