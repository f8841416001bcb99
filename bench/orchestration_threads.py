"""Orchestration contender: a plain ``concurrent.futures.ThreadPoolExecutor``, the baseline.

    python bench/orchestration_threads.py --tasks 200 --shape chain

No orchestrator at all: each task is a no-op function submitted to a thread pool (default
size), and a task is submitted only once the tasks it depends on have finished. Nothing is
recorded anywhere. The graph is the one every contender runs (see bench/orchestration.py):

    chain   t0 -> t1 -> ... -> tN-1
    fanout  t0 -> (t1 .. tN-2 in parallel) -> tN-1

Prints one JSON line: ``{"tool", "shape", "tasks", "run_seconds", ...}``; ``run_seconds`` is
the time of the run alone (interpreter start and imports excluded).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

CALLS = itertools.count()


def noop() -> None:
    next(CALLS)


def run(tasks: int, shape: str) -> None:
    with ThreadPoolExecutor() as pool:
        if shape == "chain":
            for _ in range(tasks):
                pool.submit(noop).result()
            return
        pool.submit(noop).result()
        done, _ = wait([pool.submit(noop) for _ in range(tasks - 2)])
        for future in done:
            future.result()
        pool.submit(noop).result()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--shape", choices=("chain", "fanout"), required=True)
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3")
    started = time.perf_counter()
    run(args.tasks, args.shape)
    seconds = time.perf_counter() - started
    ran = next(CALLS)
    if ran != args.tasks:
        print(f"ran {ran} tasks, expected {args.tasks}", file=sys.stderr)
        return 1
    line = {
        "tool": "threads",
        "shape": args.shape,
        "tasks": args.tasks,
        "run_seconds": seconds,
        "version": f"Python {platform.python_version()}",
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
