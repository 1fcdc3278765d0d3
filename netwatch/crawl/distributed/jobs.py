"""Running a job's spiders in a child process (one reactor each): seeding the shared queues (the
coordinator) or crawling from them (a worker). `python -m netwatch.crawl.distributed` is the child."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from netwatch.crawl.distributed.common import shared_settings

_HERE = "netwatch.crawl.distributed"


def job_settings(job: Mapping[str, Any], redis_url: str, *, seed_only: bool) -> dict[str, Any]:
    from netwatch.crawl.runner import crawl_settings

    base = crawl_settings({"NETWATCH_DB_URL": job["db_url"], **job["settings"]})
    settings: dict[str, Any] = {**job["settings"], "NETWATCH_DB_URL": job["db_url"],
                                **shared_settings(redis_url, job["prefix"])}
    if seed_only:
        settings["SCHEDULER"] = f"{_HERE}.scheduler.SeedOnlyScheduler"
        settings["ITEM_PIPELINES"] = {}
        settings["ROBOTSTXT_OBEY"] = False  # seeding fetches nothing; the workers obey robots.txt
        return settings
    pipelines = dict(base.getdict("ITEM_PIPELINES"))
    order = pipelines.pop("netwatch.crawl.pipelines.store.StorePipeline", 900)
    pipelines[f"{_HERE}.worker.SharedRunStorePipeline"] = order
    settings["ITEM_PIPELINES"] = pipelines
    settings["NETWATCH_COUNT_FETCHES"] = job.get("count_fetches", False)
    return settings


def run_job_spiders(job_path: str, redis_url: str, mode: str, worker_id: str = "") -> int:
    """Child process: run every spider of the job, seeding only (coordinator) or as a worker."""
    from netwatch.crawl.runner import crawl_in_process, crawl_settings, resolve_target

    job = json.loads(open(job_path, encoding="utf-8").read())
    settings = crawl_settings(job_settings(job, redis_url, seed_only=mode == "seed"))
    # Screenshots wait until the coordinator has finished the shared runs (netwatch.crawl.screens).
    settings.set("NETWATCH_SCREENSHOTS", False, priority="cmdline")
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
        extensions[f"{_HERE}.worker.WorkerPresence"] = 600
        settings.set("EXTENSIONS", extensions, priority="cmdline")
        middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
        for spidercls, _ in resolved:
            middlewares.update((spidercls.custom_settings or {}).get("SPIDER_MIDDLEWARES", {}))
        middlewares[f"{_HERE}.worker.SeededByCoordinator"] = 10
        middlewares[f"{_HERE}.inflight.InFlightOutput"] = 1  # the outermost: sees what reaches the pipelines
        settings.set("SPIDER_MIDDLEWARES", middlewares, priority="cmdline")
    crawl_in_process(settings, resolved)
    return 0


def spawn(mode: str, job: Mapping[str, Any], redis_url: str, worker_id: str = "") -> int:
    """Run the job's spiders in a child process that ends with this one; its exit code."""
    import subprocess
    import sys
    import tempfile

    from netwatch.domain.process import die_with_parent

    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as handle:
        json.dump(job, handle)
    try:
        return subprocess.run([sys.executable, "-m", _HERE, mode, handle.name, redis_url, worker_id],
                              preexec_fn=die_with_parent, check=False).returncode
    finally:
        os.unlink(handle.name)
