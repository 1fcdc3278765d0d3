"""The workers' scheduler: scrapy-redis's, on the job's per-target keys, one Redis call per request."""

from __future__ import annotations

from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as _RedisScheduler

from netwatch.crawl.distributed.common import DistributedError, spider_prefix, worker_incarnation
from netwatch.crawl.distributed.inflight import InFlight
from netwatch.crawl.distributed.liveness import inflight_key

# One round trip instead of two for each request: the duplicate filter's SADD and the queue's ZADD (only
# for a new fingerprint), and the queue's pop with the count the coordinator watches (only when a
# request was popped), which also moves the request into this worker's in-flight set with its score (see
# netwatch.crawl.distributed.inflight). Same keys and encodings as scrapy-redis's RFPDupeFilter and PriorityQueue.
_ENQUEUE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
_DEQUEUE = """
local popped = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #popped == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('ZADD', KEYS[3], popped[2], popped[1])
return {popped[1], redis.call('INCR', KEYS[2])}
"""


def queue_key(prefix: str, spider) -> str:  # type: ignore[no-untyped-def]
    """The Redis key of a spider's shared request queue."""
    return f"{spider_prefix(prefix, spider)}:requests"


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
        # Keys without %(spider)s placeholders: scrapy-redis's "key % {...}" leaves them unchanged.
        self.queue_key = queue_key(self.prefix, spider)
        self.df = RFPDupeFilter(self.server, key=f"{spider_prefix(self.prefix, spider)}:dupefilter",
                                debug=spider.settings.getbool("DUPEFILTER_DEBUG"))
        self.dequeued_key = f"{self.prefix}:dequeued"
        opened = super().open(spider)
        if not isinstance(self.queue, PriorityQueue):
            raise DistributedError(f"SCHEDULER_QUEUE_CLASS must be scrapy_redis.queue.PriorityQueue, "
                                   f"not {type(self.queue).__name__}")
        self._enqueue = self.server.register_script(_ENQUEUE)
        self._dequeue = self.server.register_script(_DEQUEUE)
        self.inflight = InFlight(self.server, inflight_key(spider_prefix(self.prefix, spider),
                                                           worker_incarnation(self.crawler.settings)))
        self.inflight.connect(self.crawler)
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
        popped = self._dequeue(keys=[self.queue.key, self.dequeued_key, self.inflight.key])
        if popped is None:
            return None
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        # The coordinator sees the count move and does not call the crawl drained; the count numbers the pop.
        data, token = popped
        return self.inflight.took(int(token), data, self.queue._decode_request(data))


class SeedOnlyScheduler(SharedScheduler):
    """Pushes the spiders' start requests into the shared queues and hands none out: the coordinator
    runs the job's spiders with it, so the queues hold the start requests before any worker begins."""

    def next_request(self):  # type: ignore[no-untyped-def]
        return None

    def has_pending_requests(self) -> bool:
        return False
