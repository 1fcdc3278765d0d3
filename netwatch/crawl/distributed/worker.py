"""The worker's side: its Scrapy components (a spider middleware, an extension, a store pipeline) and
`run_worker`, the loop of `netwatch worker` that waits for jobs in Redis and crawls them."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import socket
import time
from typing import ClassVar

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.queue import PriorityQueue
from twisted.internet.task import LoopingCall

from netwatch.crawl.distributed.common import DEFAULT_NAMESPACE, connect, job_key, spider_key, worker_incarnation
from netwatch.crawl.distributed.inflight import InFlight
from netwatch.crawl.distributed.jobs import spawn
from netwatch.crawl.distributed.liveness import alive_key, new_incarnation
from netwatch.crawl.distributed.scheduler import queue_key
from netwatch.crawl.pipelines.store import StorePipeline
from netwatch.store import Store

log = logging.getLogger(__name__)

HANDED_BACK = "netwatch_handed_back"  # meta flag of a request an idle worker took from the shared queue
HANDED_BACK_STAT = "netwatch/distributed/woken"  # how often an idle worker took work that way


class SeededByCoordinator:
    """Spider middleware of the workers: drop the spider's own start requests. The coordinator already
    put them in the shared queue, and netwatch's start requests are dont_filter (a start page is
    fetched even when a sitemap listed it), so every worker would fetch them again."""

    async def process_start(self, start):  # type: ignore[no-untyped-def]
        return
        yield  # an async generator that yields nothing


class WorkerPresence:
    """Extension in each worker: beats this worker's heartbeat, keeps the spider open while the job is not
    done, tells the coordinator whether this worker is idle, wakes an idle worker when other workers queue
    work, and posts the spider's stats when it closes."""

    # One heartbeat per worker process (one crawler per target, one extension each). A reactor call, not a
    # thread: a worker whose reactor hangs stops beating too.
    heartbeat: ClassVar[LoopingCall | None] = None

    def __init__(self, crawler) -> None:  # type: ignore[no-untyped-def]
        settings = crawler.settings
        self.crawler = crawler
        self.server = redis.Redis.from_url(settings["REDIS_URL"], decode_responses=True)
        self.prefix = settings.get("NETWATCH_REDIS_PREFIX")
        self.worker_id = worker_incarnation(settings)
        self.beat_every = settings.getfloat("NETWATCH_HEARTBEAT_SECONDS")
        self.beat_ttl = settings.getfloat("NETWATCH_HEARTBEAT_TTL")
        self.idle_poll = settings.getfloat("NETWATCH_IDLE_POLL")
        self.marked_idle = False  # this worker's idle marker is set in Redis
        self.queue: PriorityQueue | None = None  # the spider's shared queue, to take work from when idle
        self.waking: LoopingCall | None = None

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
        are meant to be fetched again (a page re-fetched through the browser to render it) — but not the
        ones an idle worker handed back to its engine (see _take_work), which only became dont_filter then."""
        if (request.dont_filter and not request.meta.get(HANDED_BACK)) or response.url.endswith("/robots.txt"):
            return
        first = self.server.hsetnx(f"{self.prefix}:fetched", response.url, self.worker_id)
        if not first and self.server.hget(f"{self.prefix}:fetched", response.url) != self.worker_id:
            self.server.sadd(f"{self.prefix}:fetched_by_two_workers", response.url)

    def _idle_key(self, spider) -> str:  # type: ignore[no-untyped-def]
        return f"{self.prefix}:idle:{self.worker_id}:{spider_key(spider.name, getattr(spider, 'target', None))}"

    def _beat(self) -> None:
        try:
            self.server.set(alive_key(self.prefix, self.worker_id), int(time.time()), px=int(self.beat_ttl * 1000))
        except redis.RedisError as exc:  # Redis away for a moment: the key lives on for its TTL
            log.warning("worker %s: heartbeat failed: %s", self.worker_id, exc)

    def spider_opened(self, spider) -> None:  # type: ignore[no-untyped-def]
        if WorkerPresence.heartbeat is None:  # alive before it is listed: the coordinator never sees it dead
            WorkerPresence.heartbeat = LoopingCall(self._beat)
            WorkerPresence.heartbeat.start(self.beat_every, now=True)
        self.server.sadd(f"{self.prefix}:workers", self.worker_id)
        self.server.sadd(f"{self.prefix}:busy_spiders", self._idle_key(spider))
        serializer = self.crawler.settings.get("SCHEDULER_SERIALIZER")  # as the scheduler reads it
        if isinstance(serializer, str):
            serializer = importlib.import_module(serializer)
        # Its own client: queued requests are binary, self.server decodes answers as text.
        self.queue = PriorityQueue(redis.Redis.from_url(self.crawler.settings["REDIS_URL"]), spider,
                                   queue_key(self.prefix, spider), serializer)

    def request_scheduled(self, request, spider) -> None:  # type: ignore[no-untyped-def]
        if self.marked_idle:  # a Redis call only when the marker is set, not for every request
            self.server.srem(f"{self.prefix}:idle_spiders", self._idle_key(spider))
            self.marked_idle = False

    def spider_idle(self, spider) -> None:  # type: ignore[no-untyped-def]
        self.server.sadd(f"{self.prefix}:idle_spiders", self._idle_key(spider))
        self.marked_idle = True
        if not self.server.exists(f"{self.prefix}:done"):
            # An idle engine looks at its scheduler again only on its heartbeat (every 5 s): work another
            # worker queues meanwhile would wait that long. Look at the shared queue more often.
            if self.waking is None or not self.waking.running:
                self.waking = LoopingCall(self._take_work)
                self.waking.start(self.idle_poll, now=False).addErrback(
                    lambda failure: log.error("worker %s: taking shared work failed: %s", self.worker_id,
                                              failure.getErrorMessage()))
            raise DontCloseSpider("the shared crawl is not finished: waiting for work")

    def _take_work(self) -> None:
        """While idle: pop a request from the shared queue and hand it to the engine (Scrapy's public
        engine.crawl), which schedules it and so wakes up. dont_filter: the shared duplicate filter
        already holds its fingerprint and would drop it."""
        if not self.marked_idle or self.queue is None:
            self._stop_waking()  # busy again; the next spider_idle starts it anew
            return
        request = self.queue.pop()
        if request is not None:
            self.crawler.stats.inc_value(HANDED_BACK_STAT)
            self.crawler.engine.crawl(request.replace(dont_filter=True, meta={**request.meta, HANDED_BACK: True}))

    def _stop_waking(self) -> None:
        if self.waking is not None and self.waking.running:
            self.waking.stop()

    def spider_closed(self, spider, reason: str) -> None:  # type: ignore[no-untyped-def]
        self._stop_waking()
        stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
        stats["finish_reason"] = reason
        key = f"{self.prefix}:stats:{spider_key(spider.name, getattr(spider, 'target', None))}"
        self.server.hset(key, self.worker_id, json.dumps(stats))
        tracker = InFlight.of(self.crawler)
        if tracker is not None and reason == "finished":  # the pipelines stored everything at close
            tracker.forget()


class SharedRunStorePipeline(StorePipeline):
    """The store pipeline for a shared crawl: every worker writes into the run the coordinator created
    for the target (spider argument `netwatch_run_id`); the coordinator finishes it once, after all
    workers are done (the post-run step marks unseen listings delisted and scores the stored reviews,
    so no single worker may run it).

    A batch committed releases the requests whose items it held from this worker's in-flight set (see
    netwatch.crawl.distributed.inflight); an idle spider writes its batch at once."""

    @classmethod
    def from_crawler(cls, crawler):  # type: ignore[no-untyped-def]
        pipeline = super().from_crawler(crawler)
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        return pipeline

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = await asyncio.to_thread(Store, self.db_url)
        self.run_id = int(spider.netwatch_run_id)
        self.crawler.stats.set_value("netwatch/run_id", self.run_id)
        self.start_timer()

    def has_pending(self) -> bool:
        tracker = InFlight.of(self.crawler)
        return super().has_pending() or bool(tracker and tracker.answered)

    async def _write_batch(self) -> None:
        tracker = InFlight.of(self.crawler)
        answered = set(tracker.answered) if tracker else set()  # their items are in this batch or stored
        await super()._write_batch()
        if tracker is not None:
            tracker.release(answered)

    def spider_idle(self, spider) -> None:  # type: ignore[no-untyped-def]
        """Nothing is in progress: every request taken is finished with; store and release them now (the
        coordinator calls the crawl drained only once no worker holds requests in flight)."""
        tracker = InFlight.of(self.crawler)
        if tracker is not None:
            tracker.all_answered()
        if self.has_pending() and not self.flushing.locked():
            asyncio.get_running_loop().create_task(self.flush_logging_errors())

    async def spider_closed(self, spider, reason: str) -> None:  # type: ignore[no-untyped-def]
        if self.store is not None:
            self.store.close()
            self.store = None


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
        incarnation = new_incarnation(worker_id)  # a restarted worker is not taken for its dead predecessor
        log.info("worker %s: joining job %s (%d spiders)", incarnation, job["prefix"], len(job["spiders"]))
        code = spawn("work", job, redis_url, incarnation)
        done_jobs.add(job["prefix"])
        if once:
            return code
        idle_since = time.monotonic()
