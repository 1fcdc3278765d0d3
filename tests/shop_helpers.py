"""What the real-shop-engine tests share: a free loopback port, waiting for a started server, and running
`netwatch crawl generic` (then `netwatch leads export`) over a shop as a new user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

NETWATCH = [sys.executable, "-c", "from netwatch.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(name: str, port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text(encoding='utf-8')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{name} did not start on port {port}: {log.read_text(encoding='utf-8')[-2000:]}")


def crawl_generic(base_url: str, tmp: Path):
    """The crawl with pipelines and store on: (finished process, items, stats, exported leads)."""
    env = {**os.environ, "NETWATCH_DB_URL": f"sqlite:///{tmp / 'netwatch.db'}"}
    done = subprocess.run([*NETWATCH, "crawl", "generic", "-a", f"start_url={base_url}/", "--out",
                           str(tmp / "items.jsonl"), "--stats", str(tmp / "stats.json")],
                          env=env, cwd=tmp, capture_output=True, text=True, timeout=900)
    subprocess.run([*NETWATCH, "leads", "export", "--format", "jsonl", "--lang", "en", "--out", str(tmp / "leads.jsonl")],
                   env=env, cwd=tmp, check=True, capture_output=True, timeout=300)
    items = [json.loads(line) for line in (tmp / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    leads = [json.loads(line) for line in (tmp / "leads.jsonl").read_text(encoding="utf-8").splitlines()]
    (stats,) = json.loads((tmp / "stats.json").read_text(encoding="utf-8"))
    return done, items, stats, leads


def products_right(expected: dict, found: dict) -> list:
    """The numbers of the seeded products a crawl found with their title and price right."""
    return [n for n, product in expected.items() if n in found and found[n]["title"] == product.title
            and found[n]["price"] == float(product.price)]
