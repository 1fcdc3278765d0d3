"""What the coordinator, the workers and their Scrapy components share: Redis keys, the connection,
the settings that make a crawl one worker of a shared crawl."""

from __future__ import annotations

import hashlib
import os
import socket
from typing import Any

import redis

DEFAULT_NAMESPACE = "netwatch"  # Redis key namespace: `<namespace>:job` is the job workers pick up


class DistributedError(RuntimeError):
    """The shared crawl cannot go on; the message says why."""


def redis_url_from_env() -> str | None:
    """NETWATCH_REDIS_URL turns distributed mode on."""
    return os.environ.get("NETWATCH_REDIS_URL") or None


def connect(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise DistributedError(f"cannot reach Redis at {url}: {exc}") from None
    return client


def worker_incarnation(settings: Any) -> str:
    """This worker's incarnation (NETWATCH_WORKER_ID, set by run_worker), else host:pid."""
    return settings.get("NETWATCH_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"


def job_key(namespace: str) -> str:
    return f"{namespace}:job"


def spider_key(name: str, target: str | None) -> str:
    """The part of a Redis key naming one target's spider: `profile:1a2b…` (targets are long URLs)."""
    digest = hashlib.sha1((target or "").encode()).hexdigest()[:16]
    return f"{name}:{digest}"


def spider_prefix(prefix: str, spider: Any) -> str:
    """`<job prefix>:<spider key>`: the start of a running spider's keys (its queue, its duplicate filter)."""
    return f"{prefix}:{spider_key(spider.name, getattr(spider, 'target', None))}"


def shared_settings(redis_url: str, prefix: str, *, idle_poll: float = 0.5) -> dict[str, Any]:
    """Scrapy settings that make a crawl one worker of the shared crawl under `prefix`."""
    return {
        "SCHEDULER": "netwatch.crawl.distributed.scheduler.SharedScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_PERSIST": True,  # the first worker to finish would otherwise clear everyone's queue
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        "REDIS_URL": redis_url,
        "NETWATCH_REDIS_PREFIX": prefix,
        "NETWATCH_IDLE_POLL": idle_poll,
        # A shared run is finished by the coordinator, not by each worker's pipeline.
        "NETWATCH_SHARED_RUN": True,
    }
