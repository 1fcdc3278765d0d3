"""The coordinator: publishes a job, waits until the shared crawl has drained, gathers the workers'
stats, finishes each target's run through the post-run step (netwatch.analysis.post_run) and takes the
screenshots of the runs' new serious leads (netwatch.crawl.screens).

Liveness (netwatch.crawl.distributed.liveness): the coordinator holds `<namespace>:coordinator` by a
heartbeat; a job key without it was left by a killed coordinator and is cleared. While waiting it reaps
workers whose heartbeat expired: their requests in flight go back to the queue, the drain does not wait
for them, their stats are not waited for, and every target's stats name them (`netwatch/distributed/lost_workers`)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from netwatch.analysis.post_run import finish
from netwatch.crawl import settings as defaults
from netwatch.crawl.distributed.common import DEFAULT_NAMESPACE, DistributedError, connect, job_key, spider_key
from netwatch.crawl.distributed.jobs import spawn
from netwatch.crawl.distributed.liveness import (
    CoordinatorBeat,
    clear_stale_job,
    inflight_count,
    lost_key,
    reap_dead_workers,
    worker_name,
)
from netwatch.crawl.screens import screenshots_of_runs
from netwatch.store import Store
from netwatch.store.nightly import record_crawl_run

log = logging.getLogger(__name__)


class CoordinatorBusy(DistributedError):
    """Another coordinator is alive on this Redis namespace."""


def _queued(client: redis.Redis, prefix: str) -> int:
    return sum(client.zcard(key) for key in client.scan_iter(f"{prefix}:*:requests"))


def _drained(client: redis.Redis, prefix: str, min_workers: int) -> bool:
    workers = client.scard(f"{prefix}:workers")
    busy = client.smembers(f"{prefix}:busy_spiders")
    idle = client.smembers(f"{prefix}:idle_spiders")
    # In flight: popped and not yet stored (an idle worker stores and releases them within a moment).
    return (workers >= min_workers and bool(busy) and busy <= idle and _queued(client, prefix) == 0
            and inflight_count(client, prefix) == 0)


def _reap(client: redis.Redis, prefix: str, finished: set[str] | frozenset[str] = frozenset()) -> None:
    for incarnation, requeued in reap_dead_workers(client, prefix, finished):
        log.warning("worker %s stopped beating: taken for dead, its %d request(s) in flight re-queued",
                    incarnation, requeued)


def crawl_targets_shared(targets: Sequence[Any], db_url: str, settings: Mapping[str, Any], *, redis_url: str,
                         namespace: str = DEFAULT_NAMESPACE, min_workers: int = 1, timeout: float = 6 * 3600,
                         poll: float = 1.0, count_fetches: bool = False,
                         stats_out: dict[str, Any] | None = None) -> dict[int, Any]:
    """The nightly run's crawl, done by `netwatch worker` processes: seed, wait for the drain, finish runs.

    Same contract as netwatch.ops.nightly.crawl_targets_locally. `stats_out` receives the shared figures
    (worker incarnations seen, the crawl's own duration, URLs fetched by two workers when `count_fetches`,
    the lost workers and how many requests they held were re-queued). Raises CoordinatorBusy when another
    coordinator is alive on the namespace, DistributedError when the crawl cannot go on.
    """
    from netwatch.crawl.runner import crawl_settings
    from netwatch.ops.crawl_child import NIGHTLY_RUN_SETTING, CrawlOutcome, spider_for  # nightly calls this module

    client = connect(redis_url)
    job_name = job_key(namespace)
    prefix = f"{namespace}:{uuid.uuid4().hex[:12]}"
    beat = CoordinatorBeat(client, namespace, prefix, float(settings.get("NETWATCH_HEARTBEAT_SECONDS",
                                                                         defaults.NETWATCH_HEARTBEAT_SECONDS)),
                           float(settings.get("NETWATCH_HEARTBEAT_TTL", defaults.NETWATCH_HEARTBEAT_TTL)))
    holder = beat.acquire()
    if holder is not None:
        raise CoordinatorBusy(f"another coordinator is running job {holder} on {redis_url} (namespace "
                              f"{namespace!r}); wait for it to finish")
    stale = client.get(job_name)
    if stale:
        log.warning("cleared the stale job %s: the coordinator that published it stopped beating (killed?)",
                    clear_stale_job(client, job_name, stale))
    store: Store | None = None
    try:
        store = Store(db_url)
        spiders = []
        for target in targets:
            spec = spider_for(target)
            spider_name = "generic" if spec[0] == "generic" else "profile"
            run_id = store.start_run(spider_name, spec[1]["target"])
            if settings.get(NIGHTLY_RUN_SETTING) is not None:  # the night's as soon as it exists (a kill loses no lead)
                record_crawl_run(store, settings[NIGHTLY_RUN_SETTING], target.id, run_id)
            spiders.append({"id": target.id, "spec": spec, "run_id": run_id})
        job = {"prefix": prefix, "db_url": db_url, "settings": dict(settings), "spiders": spiders,
               "count_fetches": count_fetches}
        code = spawn("seed", job, redis_url)
        if code:
            raise DistributedError(f"seeding the shared queue failed (exit {code}); see the log above")
        client.set(job_name, json.dumps(job))
        published = time.monotonic()
        log.info("job %s published: %d spiders, %d requests queued; waiting for workers", prefix, len(spiders),
                 _queued(client, prefix))
        deadline = time.monotonic() + timeout
        last_dequeued, stable_since = None, None
        while True:
            if beat.lost.is_set():
                raise DistributedError(f"this coordinator's heartbeat ({job_name}) lapsed and another coordinator "
                                       "took the namespace: stopping")
            _reap(client, prefix)
            if time.monotonic() > deadline:
                raise DistributedError(f"the shared crawl did not drain within {timeout:.0f} s "
                                       f"({client.scard(f'{prefix}:workers')} worker(s) joined, "
                                       f"{client.scard(lost_key(prefix))} of them lost, "
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
        scrapy_settings = crawl_settings(settings)
        outcomes = _gather(client, store, prefix, spiders, poll, CrawlOutcome, stats_out, scrapy_settings)
        # The workers take none: the runs' leads are complete only now (netwatch.crawl.screens).
        shots = screenshots_of_runs(db_url, [entry["run_id"] for entry in spiders], scrapy_settings)
        if stats_out is not None:
            stats_out.update({"workers": worker_count, "crawl_seconds": round(crawl_seconds, 3),
                              "fetched_urls": client.hlen(f"{prefix}:fetched"),
                              "fetched_by_two_workers": sorted(client.smembers(f"{prefix}:fetched_by_two_workers")),
                              "lost_workers": sorted(client.smembers(lost_key(prefix))),
                              "requeued": int(client.get(f"{prefix}:requeued") or 0),
                              "screenshots": sum(len(record["pages"]) for record in shots)})
        return outcomes
    finally:
        if client.get(job_name) and json.loads(client.get(job_name))["prefix"] == prefix:
            client.delete(job_name)
        # Leave the done flag a little while so late workers close their spiders; drop everything else.
        for key in client.scan_iter(f"{prefix}:*"):
            if key != f"{prefix}:done":
                client.delete(key)
        client.expire(f"{prefix}:done", 600)
        beat.release()
        if store is not None:
            store.close()


def _gather(client: redis.Redis, store: Store, prefix: str, spiders: Sequence[Mapping[str, Any]], poll: float,
            outcome_cls: type, stats_out: dict[str, Any] | None, settings: Any) -> dict[int, Any]:
    """Wait for every live worker's stats per spider (up to a minute; a lost worker's never come), add them
    up, judge the whole crawl's health (each worker judged only its part; a lost worker is an alarm), and
    finish each run with the post-run step (here, once all workers' listings are in). A target no worker
    reported on is finished as killed: nothing says it went through."""
    from netwatch.crawl.health import LAST_GOOD_STAT, LOST_WORKERS_STAT, last_good_items
    from netwatch.crawl.monitors import judge

    signals_file = settings.get("NETWATCH_SIGNALS_FILE")
    deadline = time.monotonic() + 60
    keys = {entry["id"]: f"{prefix}:stats:{spider_key(*_spider_identity(entry))}" for entry in spiders}
    while time.monotonic() < deadline:
        # A worker that posted all its stats stops beating because it is done, not dead.
        finished = set.intersection(*(set(client.hkeys(key)) for key in keys.values())) if keys else set()
        _reap(client, prefix, finished)
        if client.smembers(f"{prefix}:workers") - client.smembers(lost_key(prefix)) <= finished:
            break
        time.sleep(poll / 2)
    lost = sorted(client.smembers(lost_key(prefix)))
    outcomes = {}
    pages_by_worker: Counter[str] = Counter()
    for entry in spiders:
        by_worker = {worker: json.loads(value) for worker, value in client.hgetall(keys[entry["id"]]).items()}
        posted = list(by_worker.values())
        for worker, stats in by_worker.items():
            pages_by_worker[worker_name(worker)] += int(stats.get("response_received_count", 0))
        stats = combine_stats(posted)
        stats["netwatch/run_id"] = entry["run_id"]
        stats["netwatch/workers"] = len(posted)
        if lost:
            stats[LOST_WORKERS_STAT] = ", ".join(lost)
        last_good = last_good_items(store.earlier_runs_stats(entry["run_id"]))
        stats.pop(LAST_GOOD_STAT, None)
        if last_good is not None:
            stats[LAST_GOOD_STAT] = last_good
        stats = judge(stats, settings)
        stats = finish(store, entry["run_id"], stats, stats.get("finish_reason"), signals_file=signals_file)
        error = None if posted else "no worker reported on this target"
        outcomes[entry["id"]] = outcome_cls(entry["run_id"], stats, error)
    if stats_out is not None:
        stats_out["pages_by_worker"] = dict(pages_by_worker)
    return outcomes


def _spider_identity(entry: Mapping[str, Any]) -> tuple[str, str]:
    name = "generic" if entry["spec"][0] == "generic" else "profile"
    return name, entry["spec"][1]["target"]


def combine_stats(posted: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One crawl's stats from its workers' parts: counts added, lists joined (each entry once: budget hits,
    site failures), mappings merged (closed sites), finish reason 'finished' only if all were."""
    combined: dict[str, Any] = {}
    for stats in posted:
        for key, value in stats.items():
            known = combined.get(key)
            if isinstance(value, list) and isinstance(known, list):
                combined[key] = known + [entry for entry in value if entry not in known]
            elif isinstance(value, dict) and isinstance(known, dict):
                combined[key] = {**value, **known}
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                combined.setdefault(key, value)
            else:
                combined[key] = combined.get(key, 0) + value
    reasons = {stats.get("finish_reason") for stats in posted}
    combined["finish_reason"] = "finished" if reasons == {"finished"} else next(
        (reason for reason in reasons if reason != "finished"), None)
    return combined
