"""Distributed mode: several machines share one crawl through scrapy-redis (Redis holds the request
queue and the duplicate filter) and write to one PostgreSQL store.

    coordinator (`netwatch nightly --distributed`)          workers (`netwatch worker`, N machines)
    1. creates one store run per target                    waits for a job in Redis
    2. publishes the job (spiders + arguments)     ──────► runs the job's spiders with the shared
    3. seeds the shared queues (start requests)            scheduler: pops requests, pushes new ones
    4. waits until the queues are empty and every          stays open while the job is not done
       worker is idle                                      (an idle worker keeps waiting for work)
    5. marks the job done, gathers every worker's  ◄────── posts its stats per target and exits the job
       stats, finishes the runs (netwatch.analysis.post_run)

Each target's spider gets its own queue and duplicate filter (`<prefix>:<spider>:<target hash>:…`), so
two targets of the same spider class never swap requests. SCHEDULER_PERSIST is on: one worker finishing
must not wipe the shared queue; the coordinator deletes the job's keys at the end.

Liveness: workers and the coordinator beat heartbeat keys with a TTL; a popped request stays in its worker's
in-flight set until the items of its response are stored; the coordinator re-queues a dead worker's
in-flight requests, stops waiting for it and names it; a job left by a dead coordinator is cleared.

Modules: common (keys, connection, settings), scheduler (SharedScheduler, SeedOnlyScheduler), worker (the
workers' middleware, extension and store pipeline; run_worker), inflight (what a worker holds), liveness
(heartbeats, incarnations, reaping the dead), jobs (a job's spiders in a child process;
`python -m netwatch.crawl.distributed` is that child). The coordinator, which orchestrates a night rather than
crawls, is netwatch.ops.coordinator (crawl_targets_shared).
"""

from __future__ import annotations

from netwatch.crawl.distributed.common import (
    DEFAULT_NAMESPACE,
    DistributedError,
    connect,
    job_key,
    redis_url_from_env,
    shared_settings,
    spider_key,
)
from netwatch.crawl.distributed.scheduler import SeedOnlyScheduler, SharedScheduler
from netwatch.crawl.distributed.worker import run_worker

__all__ = [
    "DEFAULT_NAMESPACE", "DistributedError", "SeedOnlyScheduler", "SharedScheduler", "connect",
    "job_key", "redis_url_from_env", "run_worker", "shared_settings", "spider_key",
]
