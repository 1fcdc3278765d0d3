"""The crawl child of a nightly run or a re-check: the targets crawled in one child process (Twisted's reactor
runs once per process), which stores the items and answers every target's stats (`python -m` this module)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwatch.domain.process import die_with_parent
from netwatch.ops.stopping import wait_for_child
from netwatch.store import Store
from netwatch.store.nightly import record_crawl_run
from netwatch.store.watchlist import Target

NIGHTLY_RUN_SETTING = "NETWATCH_NIGHTLY_RUN_ID"  # passed to the crawl child: whose crawl runs it records
CHILD_MODULE = "netwatch.ops.crawl_child"  # `python -m` of a crawl child (this module's __main__)


@dataclass
class CrawlOutcome:
    """What crawling one target gave: the store's run id for it, its Scrapy stats, or why it failed."""

    run_id: int | None
    stats: dict[str, Any]
    error: str | None = None


def target_key(target: Target) -> str:
    """The `runs.target` of a target's crawls: the same string every night, so the store can tell
    which listings a target no longer shows (delisted) and which leads are gone."""
    return f"profile:{target.profile}@{target.url or ''}" if target.kind == "profile" else target.url or ""


def spider_for(target: Target) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(what netwatch.crawl.runner.resolve_target takes, spider arguments, base URLs) for one target."""
    args: dict[str, Any] = {"target": target_key(target)}
    if target.kind == "profile":
        return str(target.profile), args, ({str(target.profile): target.url} if target.url else {})
    return "generic", {**args, "start_url": target.url}, {}


def crawl_targets_locally(targets: Sequence[Target], db_url: str, settings: Mapping[str, Any]) -> dict[int, CrawlOutcome]:
    """Crawl the targets in one child process (Twisted's reactor runs once per process); it stores the
    items and returns every target's stats."""
    return crawl_specs_locally({target.id: spider_for(target) for target in targets}, db_url, settings)


def crawl_specs_locally(specs: Mapping[int, tuple[str, dict[str, Any], dict[str, str]]], db_url: str,
                        settings: Mapping[str, Any]) -> dict[int, CrawlOutcome]:
    """Crawl {id: (spider or profile, spider arguments, base URLs)} in one child process, as netwatch.crawl.runner
    does for `netwatch crawl`; returns each one's outcome (the re-checks crawl leads' pages through this too)."""
    import subprocess
    import sys
    import tempfile

    outcomes: dict[int, CrawlOutcome] = {}
    with tempfile.TemporaryDirectory(prefix="netwatch-nightly-") as tmp:
        job, answer = Path(tmp) / "job.json", Path(tmp) / "outcomes.json"
        job.write_text(json.dumps({
            "db_url": db_url, "settings": dict(settings),
            "targets": [{"id": key, "spec": spec} for key, spec in specs.items()],
        }), encoding="utf-8")
        # Its own session: a Ctrl-C on the terminal reaches the parent only, which passes one SIGTERM on.
        child = subprocess.Popen([sys.executable, "-m", CHILD_MODULE, str(job), str(answer)],
                                 preexec_fn=die_with_parent, start_new_session=True)
        returncode = wait_for_child(child)
        if answer.exists():
            for target_id, outcome in json.loads(answer.read_text(encoding="utf-8")).items():
                outcomes[int(target_id)] = CrawlOutcome(**outcome)
    for key in specs:
        outcomes.setdefault(key, CrawlOutcome(None, {}, f"the crawl process exited with {returncode}"))
    return outcomes


def _crawl_batch(job_path: str, answer_path: str) -> int:
    """Child process: crawl one batch of targets with netwatch.crawl.runner's settings and spiders."""
    from netwatch.crawl.runner import crawl_in_process, crawl_settings, resolve_target

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    settings = {"NETWATCH_DB_URL": job["db_url"], **job["settings"]}
    nightly_run_id = settings.pop(NIGHTLY_RUN_SETTING, None)
    outcomes: dict[str, dict[str, Any]] = {}
    ids, spiders = [], []
    for entry in job["targets"]:
        name, args, base_urls = entry["spec"]
        try:
            spiders.append(resolve_target(name, args, base_urls))
            ids.append(entry["id"])
        except Exception as exc:  # noqa: BLE001 - a bad target fails alone, the others are crawled
            outcomes[str(entry["id"])] = {"run_id": None, "stats": {}, "error": f"cannot crawl: {exc}"}
    with Store(job["db_url"]) as store:
        def run_started(index: int, run_id: int) -> None:
            # the run is the night's before the crawl's first request: a kill from now on loses none of its leads
            if nightly_run_id is not None:
                record_crawl_run(store, nightly_run_id, ids[index], run_id)

        crawlers = list(zip(ids, crawl_in_process(crawl_settings(settings), spiders, on_run_started=run_started)))
    for target_id, crawler in crawlers:
        stats = json.loads(json.dumps(dict(crawler.stats.get_stats()) if crawler.stats else {}, default=str))
        error = None if stats.get("finish_reason") or stats.get("netwatch/run_id") else \
            "the crawl did not start (its error is in the log above)"
        outcomes[str(target_id)] = {"run_id": stats.get("netwatch/run_id"), "stats": stats, "error": error}
    Path(answer_path).write_text(json.dumps(outcomes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    import sys

    parent = os.getppid()
    # Until Scrapy installs its graceful handler, SIGTERM (the nightly run stopped or died) ends the child here.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        sys.exit(_crawl_batch(*sys.argv[1:3]))
    finally:
        if os.getppid() != parent:  # the nightly run was killed: nobody reads the answer or removes the directory
            shutil.rmtree(Path(sys.argv[1]).parent, ignore_errors=True)
