"""Distributed mode: several machines share one crawl through scrapy-redis (Redis holds the request
queue and the duplicate filter) and write to one PostgreSQL store.

    coordinator (`netwatch nightly --distributed`)          workers (`netwatch worker`, N machines)
    1. creates one store run per target                    waits for a job in Redis
    2. publishes the job (spiders + arguments)     ──────► runs the job's spiders with the shared
    3. seeds the shared queues (start requests)            scheduler: pops requests, pushes new ones
    4. waits until the queues are empty and every          stays open while the job is not done
       worker is idle                                      (an idle worker keeps waiting for work)
    5. marks the job done, gathers every worker's  ◄────── posts its stats per target and exits the job
       stats, finishes the runs (delisting, price checks)

Each target's spider gets its own queue and duplicate filter (`<prefix>:<spider>:<target hash>:…`), so
two targets of the same spider class never swap requests. SCHEDULER_PERSIST is on: one worker finishing
must not wipe the shared queue; the coordinator deletes the job's keys at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as _RedisScheduler

from netwatch.crawl.pipelines.store import StorePipeline
from netwatch.store import Store

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "netwatch"  # Redis key namespace: `<namespace>:job` is the job workers pick up
WORKER_TTL = 30  # seconds a worker's registration lives without a heartbeat


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


class DistributedError(RuntimeError):
    """The shared crawl cannot go on; the message says why."""


def spider_key(name: str, target: str | None) -> str:
    """The part of a Redis key naming one target's spider: `profile:1a2b…` (targets are long URLs)."""
    digest = hashlib.sha1((target or "").encode()).hexdigest()[:16]
    return f"{name}:{digest}"


def shared_settings(redis_url: str, prefix: str, *, idle_poll: float = 0.5) -> dict[str, Any]:
    """Scrapy settings that make a crawl one worker of the shared crawl under `prefix`."""
    return {
        "SCHEDULER": "netwatch.crawl.distributed.SharedScheduler",
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


# -- Scrapy side: the workers' scheduler, extension, middleware and store pipeline ------------------


# One round trip instead of two for each request: the duplicate filter's SADD and the queue's ZADD (only
# for a new fingerprint), and the queue's pop with the count the coordinator watches (only when a
# request was popped). Same keys and encodings as scrapy-redis's RFPDupeFilter and PriorityQueue.
_ENQUEUE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
_DEQUEUE = """
local popped = redis.call('ZRANGE', KEYS[1], 0, 0)
if #popped == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('INCR', KEYS[2])
return popped[1]
"""


class SharedScheduler(_RedisScheduler):
    """scrapy-redis's scheduler with per-target keys under the job's prefix, its duplicate check and
    push done in one Redis call, and its pop likewise (see _ENQUEUE, _DEQUEUE).

    It also counts with `stats.inc_value(key)`: scrapy-redis 0.9.1 passes `spider=`, which Scrapy 2.19
    deprecates, so enqueue_request and next_request are restated here without it.
    """

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        instance.prefix = crawler.settings.get("NETWATCH_REDIS_PREFIX")
        return instance

    def open(self, spider):  # type: ignore[no-untyped-def]
        base = f"{self.prefix}:{spider_key(spider.name, getattr(spider, 'target', None))}"
        # Keys without %(spider)s placeholders: scrapy-redis's "key % {...}" leaves them unchanged.
        self.queue_key = f"{base}:requests"
        self.df = RFPDupeFilter(self.server, key=f"{base}:dupefilter", debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        self.dequeued_key = f"{self.prefix}:dequeued"
        opened = super().open(spider)
        if not isinstance(self.queue, PriorityQueue):
            raise DistributedError(f"SCHEDULER_QUEUE_CLASS must be scrapy_redis.queue.PriorityQueue, "
                                   f"not {type(self.queue).__name__}")
        self._enqueue = self.server.register_script(_ENQUEUE)
        self._dequeue = self.server.register_script(_DEQUEUE)
        return opened

    def enqueue_request(self, request):  # type: ignore[no-untyped-def]
        if request.dont_filter:
            self.queue.push(request)
        elif not self._enqueue(keys=[self.df.key, self.queue.key],
                               args=[self.df.request_fingerprint(request), -request.priority,
                                     self.queue._encode_request(request)]):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self):  # type: ignore[no-untyped-def]
        data = self._dequeue(keys=[self.queue.key, self.dequeued_key])
        if data is None:
            return None
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        # The coordinator sees the count move and does not call the crawl drained.
        return self.queue._decode_request(data)


class SeedOnlyScheduler(SharedScheduler):
    """Pushes the spiders' start requests into the shared queues and hands none out: the coordinator
    runs the job's spiders with it, so the queues hold the start requests before any worker begins."""

    def next_request(self):  # type: ignore[no-untyped-def]
        return None

    def has_pending_requests(self) -> bool:
        return False


class SeededByCoordinator:
    """Spider middleware of the workers: drop the spider's own start requests. The coordinator already
    put them in the shared queue, and netwatch's start requests are dont_filter (a start page is
    fetched even when a sitemap listed it), so every worker would fetch them again."""

    async def process_start(self, start):  # type: ignore[no-untyped-def]
        return
        yield  # an async generator that yields nothing


class WorkerPresence:
    """Extension in each worker: keeps the spider open while the job is not done, tells the coordinator
    whether this worker is idle, and posts the spider's stats when it closes."""

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        settings = crawler.settings
        self.crawler = crawler
        self.server = redis.Redis.from_url(settings["REDIS_URL"], decode_responses=True)
        self.prefix = settings.get("NETWATCH_REDIS_PREFIX")
        self.worker_id = settings.get("NETWATCH_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"
        self.marked_idle = False  # this worker's idle marker is set in Redis

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_reached_downloader)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        if crawler.settings.getbool("NETWATCH_COUNT_FETCHES"):
            crawler.signals.connect(extension.response_received, signal=signals.response_received)
        return extension

    def response_received(self, response, request, spider) -> None:  # type: ignore[no-untyped-def]
        """Which worker fetched each URL: a URL fetched by two workers is the duplicate the shared
        filter must prevent. Exempt: robots.txt (every worker checks it) and dont_filter requests, which
        are meant to be fetched again (a page re-fetched through the browser to render it)."""
        if request.dont_filter or response.url.endswith("/robots.txt"):
            return
        first = self.server.hsetnx(f"{self.prefix}:fetched", response.url, self.worker_id)
        if not first and self.server.hget(f"{self.prefix}:fetched", response.url) != self.worker_id:
            self.server.sadd(f"{self.prefix}:fetched_by_two_workers", response.url)

    def _idle_key(self, spider) -> str:  # type: ignore[no-untyped-def]
        return f"{self.prefix}:idle:{self.worker_id}:{spider_key(spider.name, getattr(spider, 'target', None))}"

    def spider_opened(self, spider) -> None:  # type: ignore[no-untyped-def]
        self.server.sadd(f"{self.prefix}:workers", self.worker_id)
        self.server.sadd(f"{self.prefix}:busy_spiders", self._idle_key(spider))

    def request_scheduled(self, request, spider) -> None:  # type: ignore[no-untyped-def]
        if self.marked_idle:  # a Redis call only when the marker is set, not for every request
            self.server.srem(f"{self.prefix}:idle_spiders", self._idle_key(spider))
            self.marked_idle = False

    def spider_idle(self, spider) -> None:  # type: ignore[no-untyped-def]
        self.server.sadd(f"{self.prefix}:idle_spiders", self._idle_key(spider))
        self.marked_idle = True
        if not self.server.exists(f"{self.prefix}:done"):
            # Scrapy asks again at its next heartbeat and then pulls from the shared queue.
            raise DontCloseSpider("the shared crawl is not finished: waiting for work")

    def spider_closed(self, spider, reason: str) -> None:  # type: ignore[no-untyped-def]
        stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
        stats["finish_reason"] = reason
        key = f"{self.prefix}:stats:{spider_key(spider.name, getattr(spider, 'target', None))}"
        self.server.hset(key, self.worker_id, json.dumps(stats))


class SharedRunStorePipeline(StorePipeline):
    """The store pipeline for a shared crawl: every worker writes into the run the coordinator created
    for the target (spider argument `netwatch_run_id`); the coordinator finishes it once, after all
    workers are done (finishing marks unseen listings delisted, and the stored reviews are scored then,
    so no single worker may do either)."""

    async def open_spider(self) -> None:
        import asyncio

        spider = self.crawler.spider
        self.store = await asyncio.to_thread(Store, self.db_url)
        self.run_id = int(spider.netwatch_run_id)
        self.crawler.stats.set_value("netwatch/run_id", self.run_id)

    async def spider_closed(self, spider, reason: str) -> None:  # type: ignore[no-untyped-def]
        if self.store is not None:
            self.store.close()
            self.store = None


# -- running a job's spiders (child processes: one reactor each) ------------------------------------


def _job_settings(job: Mapping[str, Any], redis_url: str, *, seed_only: bool) -> dict[str, Any]:
    from netwatch.crawl.runner import crawl_settings

    base = crawl_settings({"NETWATCH_DB_URL": job["db_url"], **job["settings"]})
    settings: dict[str, Any] = {**job["settings"], "NETWATCH_DB_URL": job["db_url"],
                                **shared_settings(redis_url, job["prefix"])}
    if seed_only:
        settings["SCHEDULER"] = "netwatch.crawl.distributed.SeedOnlyScheduler"
        settings["ITEM_PIPELINES"] = {}
        settings["ROBOTSTXT_OBEY"] = False  # seeding fetches nothing; the workers obey robots.txt
        return settings
    pipelines = dict(base.getdict("ITEM_PIPELINES"))
    order = pipelines.pop("netwatch.crawl.pipelines.store.StorePipeline", 900)
    pipelines["netwatch.crawl.distributed.SharedRunStorePipeline"] = order
    settings["ITEM_PIPELINES"] = pipelines
    settings["NETWATCH_COUNT_FETCHES"] = job.get("count_fetches", False)
    return settings


def _run_job_spiders(job_path: str, redis_url: str, mode: str, worker_id: str = "") -> int:
    """Child process: run every spider of the job, seeding only (coordinator) or as a worker."""
    from netwatch.crawl.runner import crawl_in_process, crawl_settings, resolve_target

    job = json.loads(open(job_path, encoding="utf-8").read())
    settings = crawl_settings(_job_settings(job, redis_url, seed_only=mode == "seed"))
    resolved = []
    for entry in job["spiders"]:
        name, args, base_urls = entry["spec"]
        resolved.append(resolve_target(name, {**args, "netwatch_run_id": entry["run_id"]}, base_urls))
    if mode == "work":
        settings.set("NETWATCH_WORKER_ID", worker_id, priority="cmdline")
        # Set at cmdline priority, EXTENSIONS replaces the spiders' own: keep theirs (netwatch's stats).
        extensions = dict(settings.getdict("EXTENSIONS"))
        for spidercls, _ in resolved:
            extensions.update((spidercls.custom_settings or {}).get("EXTENSIONS", {}))
        extensions["netwatch.crawl.distributed.WorkerPresence"] = 600
        settings.set("EXTENSIONS", extensions, priority="cmdline")
        middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
        for spidercls, _ in resolved:
            middlewares.update((spidercls.custom_settings or {}).get("SPIDER_MIDDLEWARES", {}))
        middlewares["netwatch.crawl.distributed.SeededByCoordinator"] = 10
        settings.set("SPIDER_MIDDLEWARES", middlewares, priority="cmdline")
        # An idle worker looks at the shared queue on the engine's heartbeat, every 5 s by default: work
        # another worker just queued would wait that long. Scrapy has no setting for it; the class
        # attribute is its only knob (checked by tests/test_distributed.py through the throughput).
        from scrapy.core.engine import ExecutionEngine

        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = settings.getfloat("NETWATCH_IDLE_POLL")
    crawl_in_process(settings, resolved)
    return 0


def _spawn(mode: str, job: Mapping[str, Any], redis_url: str, worker_id: str = "") -> int:
    import subprocess
    import sys
    import tempfile

    from netwatch.ops.nightly import _die_with_parent

    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump(job, handle)
    try:
        return subprocess.run([sys.executable, "-m", "netwatch.crawl.distributed", mode, handle.name, redis_url, worker_id],
                              preexec_fn=_die_with_parent, check=False).returncode
    finally:
        os.unlink(handle.name)


# -- the coordinator -------------------------------------------------------------------------------


def _queued(client: redis.Redis, prefix: str) -> int:
    return sum(client.zcard(key) for key in client.scan_iter(f"{prefix}:*:requests"))


def _drained(client: redis.Redis, prefix: str, min_workers: int) -> bool:
    workers = client.scard(f"{prefix}:workers")
    busy = client.smembers(f"{prefix}:busy_spiders")
    idle = client.smembers(f"{prefix}:idle_spiders")
    return workers >= min_workers and bool(busy) and busy <= idle and _queued(client, prefix) == 0


def job_key(namespace: str) -> str:
    return f"{namespace}:job"


def crawl_targets_shared(targets: Sequence[Any], db_url: str, settings: Mapping[str, Any], *, redis_url: str,
                         namespace: str = DEFAULT_NAMESPACE, min_workers: int = 1, timeout: float = 6 * 3600,
                         poll: float = 1.0, count_fetches: bool = False,
                         stats_out: dict[str, Any] | None = None) -> dict[int, Any]:
    """The nightly run's crawl, done by `netwatch worker` processes: seed, wait for the drain, finish runs.

    Same contract as netwatch.ops.nightly.crawl_targets_locally. `stats_out` receives the shared figures
    (workers seen, the crawl's own duration, URLs fetched by two workers when `count_fetches`).
    """
    from netwatch.crawl.runner import crawl_settings
    from netwatch.ops.nightly import CrawlOutcome, spider_for

    client = connect(redis_url)
    job_name = job_key(namespace)
    if client.exists(job_name):
        raise DistributedError(f"Redis {redis_url} already holds a job ({client.get(job_name)[:200]}): "
                               f"another coordinator is running, or a killed one left it (delete the key {job_name})")
    prefix = f"{namespace}:{uuid.uuid4().hex[:12]}"
    store = Store(db_url)
    try:
        spiders = []
        for target in targets:
            spec = spider_for(target)
            spider_name = "generic" if spec[0] == "generic" else "profile"
            run_id = store.start_run(spider_name, spec[1]["target"])
            spiders.append({"id": target.id, "spec": spec, "run_id": run_id})
        job = {"prefix": prefix, "db_url": db_url, "settings": dict(settings), "spiders": spiders,
               "count_fetches": count_fetches}
        code = _spawn("seed", job, redis_url)
        if code:
            raise DistributedError(f"seeding the shared queue failed (exit {code}); see the log above")
        client.set(job_name, json.dumps(job))
        published = time.monotonic()
        log.info("job %s published: %d spiders, %d requests queued; waiting for workers", prefix, len(spiders),
                 _queued(client, prefix))
        deadline = time.monotonic() + timeout
        last_dequeued, stable_since = None, None
        while True:
            if time.monotonic() > deadline:
                raise DistributedError(f"the shared crawl did not drain within {timeout:.0f} s "
                                       f"({client.scard(f'{prefix}:workers')} worker(s) joined, "
                                       f"{_queued(client, prefix)} requests still queued): are workers running?")
            dequeued = client.get(f"{prefix}:dequeued")
            if _drained(client, prefix, min_workers):
                # Drained only if no request moved for a while: a worker may be between pop and download.
                if dequeued != last_dequeued or stable_since is None:
                    last_dequeued, stable_since = dequeued, time.monotonic()
                elif time.monotonic() - stable_since >= 3 * poll:
                    break
            else:
                last_dequeued, stable_since = dequeued, None
            time.sleep(poll)
        client.set(f"{prefix}:done", 1)
        crawl_seconds = stable_since - published  # from publishing the job to the last request moving
        worker_count = client.scard(f"{prefix}:workers")
        outcomes = _gather(client, store, prefix, spiders, worker_count, poll, CrawlOutcome, stats_out,
                           crawl_settings(settings))
        if stats_out is not None:
            stats_out.update({"workers": worker_count, "crawl_seconds": round(crawl_seconds, 3),
                              "fetched_urls": client.hlen(f"{prefix}:fetched"),
                              "fetched_by_two_workers": sorted(client.smembers(f"{prefix}:fetched_by_two_workers"))})
        return outcomes
    finally:
        if client.get(job_name) and json.loads(client.get(job_name))["prefix"] == prefix:
            client.delete(job_name)
        # Leave the done flag a little while so late workers close their spiders; drop everything else.
        for key in client.scan_iter(f"{prefix}:*"):
            if key != f"{prefix}:done":
                client.delete(key)
        client.expire(f"{prefix}:done", 600)
        store.close()


def _gather(client: redis.Redis, store: Store, prefix: str, spiders: Sequence[Mapping[str, Any]], worker_count: int,
            poll: float, outcome_cls: type, stats_out: dict[str, Any] | None, settings: Any = None) -> dict[int, Any]:
    """Wait for every worker's stats per spider (up to a minute), add them up, judge the whole crawl's
    health (each worker judged only its part), score each run's stored reviews (here, once all workers'
    listings are in), and finish each run."""
    from netwatch.analysis.reviews.store_pass import score_run, with_review_stats
    from netwatch.crawl.health import LAST_GOOD_STAT, last_good_items
    from netwatch.crawl.monitors import judge
    from netwatch.crawl.runner import crawl_settings

    settings = settings if settings is not None else crawl_settings()
    signals_file = settings.get("NETWATCH_SIGNALS_FILE")

    deadline = time.monotonic() + 60
    keys = {entry["id"]: f"{prefix}:stats:{spider_key(*_spider_identity(entry))}" for entry in spiders}
    while time.monotonic() < deadline and any(client.hlen(key) < worker_count for key in keys.values()):
        time.sleep(poll / 2)
    outcomes = {}
    pages_by_worker: Counter[str] = Counter()
    for entry in spiders:
        by_worker = {worker: json.loads(value) for worker, value in client.hgetall(keys[entry["id"]]).items()}
        posted = list(by_worker.values())
        for worker, stats in by_worker.items():
            pages_by_worker[worker] += int(stats.get("response_received_count", 0))
        stats = combine_stats(posted)
        stats["netwatch/run_id"] = entry["run_id"]
        stats["netwatch/workers"] = len(posted)
        last_good = last_good_items(store.earlier_runs_stats(entry["run_id"]))
        stats.pop(LAST_GOOD_STAT, None)
        if last_good is not None:
            stats[LAST_GOOD_STAT] = last_good
        stats = judge(stats, settings)
        reason = stats.get("finish_reason")
        status = "finished" if reason == "finished" else (reason or "killed")
        if posted and reason != "shutdown":
            stats = with_review_stats(stats, score_run(store, entry["run_id"], signals_file=signals_file))
        store.finish_run(entry["run_id"], stats, status)
        error = None if posted else "no worker reported on this target"
        outcomes[entry["id"]] = outcome_cls(entry["run_id"], stats, error)
    if stats_out is not None:
        stats_out["pages_by_worker"] = dict(pages_by_worker)
    return outcomes


def _spider_identity(entry: Mapping[str, Any]) -> tuple[str, str]:
    name = "generic" if entry["spec"][0] == "generic" else "profile"
    return name, entry["spec"][1]["target"]


def combine_stats(posted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One crawl's stats from its workers' parts: counts added, finish reason 'finished' only if all were."""
    combined: dict[str, Any] = {}
    for stats in posted:
        for key, value in stats.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                combined.setdefault(key, value)
            else:
                combined[key] = combined.get(key, 0) + value
    reasons = {stats.get("finish_reason") for stats in posted}
    combined["finish_reason"] = "finished" if reasons == {"finished"} else next(
        (reason for reason in reasons if reason != "finished"), None)
    return combined


# -- the worker ------------------------------------------------------------------------------------


def run_worker(redis_url: str, *, db_url: str | None = None, namespace: str = DEFAULT_NAMESPACE, once: bool = False,
               poll: float = 0.5, wait: float | None = None, worker_id: str | None = None) -> int:
    """Wait for jobs in Redis and crawl them (each in a child process). `once`: stop after one job;
    `wait`: give up after that many seconds without a job (returns 1)."""
    client = connect(redis_url)
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    done_jobs: set[str] = set()
    idle_since = time.monotonic()
    while True:
        raw = client.get(job_key(namespace))
        job = json.loads(raw) if raw else None
        if job is None or job["prefix"] in done_jobs or client.exists(f"{job['prefix']}:done"):
            if wait is not None and time.monotonic() - idle_since > wait:
                return 1
            time.sleep(poll)
            continue
        if db_url:
            job["db_url"] = db_url  # this machine reaches the store by its own URL
        log.info("worker %s: joining job %s (%d spiders)", worker_id, job["prefix"], len(job["spiders"]))
        code = _spawn("work", job, redis_url, worker_id)
        done_jobs.add(job["prefix"])
        if once:
            return code
        idle_since = time.monotonic()


if __name__ == "__main__":
    import sys

    mode, job_file, url = sys.argv[1:4]
    sys.exit(_run_job_spiders(job_file, url, mode, sys.argv[4] if len(sys.argv) > 4 else ""))
