"""Run the benchmarks, each in its own process (Twisted's reactor cannot restart), and print their figures.

    python -m bench                 # all of them
    python -m bench rules store     # bench_rules.py and bench_store.py only
    python -m bench rules -- --quick   # arguments after -- go to every benchmark's main()
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    available = sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))
    chosen = argv or available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"\n=== bench_{name} ===", flush=True)
        started = time.perf_counter()
        # main() may return its figures; only an int is an exit status.
        code = (f"import sys; from bench.bench_{name} import main; "
                f"status = main({extra!r}); sys.exit(status if isinstance(status, int) else 0)")
        result = subprocess.run([sys.executable, "-c", code], cwd=BENCH_DIR.parent)
        print(f"--- bench_{name}: exit {result.returncode}, {time.perf_counter() - started:.1f} s", flush=True)
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
