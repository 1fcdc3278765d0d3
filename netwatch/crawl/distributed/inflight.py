"""A worker's requests in flight: popped from the shared queue, their items not stored yet.

The scheduler's pop moves a request from the queue into `<spider prefix>:inflight:<incarnation>` (one Lua
call, same score), so at every moment a request is in the queue, in a worker's in-flight set, or done.
It leaves the set only after the store has committed the items its response produced:

    response_received     +1 (the callback's output is still to come)
    each item it yields   +1 (counted by InFlightOutput, the outermost spider middleware)
    item_scraped / item_dropped / item_error   -1
    the callback's output ends                 -1      -> at 0: answered
    the store pipeline commits a batch: the requests answered before it began are removed from the set.

Requests that never get a response to the spider (download errors, redirects, robots.txt refusals) have
nothing to store: they are released when the spider is next idle (nothing is in progress then). A worker
that dies loses nothing the coordinator cannot re-queue (netwatch.crawl.distributed.liveness).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import redis
from scrapy import Request, signals

INFLIGHT_META = "netwatch_inflight"  # the token of a popped request (renewed each time it is popped)


class InFlight:
    """One crawler's (one target's) in-flight requests of this worker incarnation."""

    def __init__(self, server: redis.Redis, key: str) -> None:
        self.server, self.key = server, key
        self.held: dict[int, bytes] = {}  # token -> the encoded request, as it is in the Redis set
        self.pending: dict[int, int] = {}  # token -> outputs of its response still on their way to the store
        self.answered: set[int] = set()  # everything it produced is in the store pipeline's buffer (or stored)

    @classmethod
    def of(cls, crawler: Any) -> InFlight | None:
        return getattr(crawler, "netwatch_inflight", None)

    def connect(self, crawler: Any) -> None:
        crawler.netwatch_inflight = self
        for handler, signal in ((self.response_received, signals.response_received),
                                (self.item_done, signals.item_scraped), (self.item_done, signals.item_dropped),
                                (self.item_done, signals.item_error)):
            crawler.signals.connect(handler, signal=signal)

    def took(self, token: int, data: bytes, request: Request) -> Request:
        self.held[token] = data
        request.meta[INFLIGHT_META] = token
        return request

    def token_of(self, message: Any) -> int | None:
        """The in-flight token of a request or response of this crawler (None for a Failure)."""
        try:
            token = message.meta.get(INFLIGHT_META)
        except AttributeError:  # a Failure, or a response without its request
            return None
        return token if token in self.held else None

    def count(self, token: int | None, delta: int) -> None:
        if token is None:
            return
        left = self.pending.get(token, 0) + delta
        if left > 0:
            self.pending[token] = left
        else:
            self.pending.pop(token, None)
            self.answered.add(token)

    def response_received(self, response: Any, request: Request, spider: Any) -> None:
        self.count(self.token_of(request), +1)

    def item_done(self, item: Any, response: Any = None, **_: Any) -> None:
        self.count(self.token_of(response), -1)

    def all_answered(self) -> None:
        """The engine is idle: every request it took is finished with."""
        self.pending.clear()
        self.answered.update(self.held)

    def release(self, tokens: Iterable[int]) -> None:
        """The store has committed everything these produced: out of the in-flight set."""
        data = [self.held.pop(token) for token in tokens if token in self.held]
        self.answered.difference_update(tokens)
        if data:
            self.server.zrem(self.key, *data)

    def forget(self) -> None:
        """The spider closed after storing everything: nothing of it is in flight."""
        self.held.clear()
        self.pending.clear()
        self.answered.clear()
        self.server.delete(self.key)


class InFlightOutput:
    """Spider middleware (the outermost): counts the items each response's callback hands to the
    pipelines, and says when its output has ended (see the module docstring)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> InFlightOutput:
        return cls(crawler)

    async def process_spider_output(self, response: Any, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        tracker = InFlight.of(self.crawler)
        token = tracker.token_of(response) if tracker else None
        try:
            async for output in result:
                if token is not None and output is not None and not isinstance(output, Request):
                    tracker.count(token, +1)  # type: ignore[union-attr]
                yield output
        finally:
            if token is not None:
                tracker.count(token, -1)  # type: ignore[union-attr]
