"""Orchestration contender: Headwater, in process, every task run recorded in the metadata store.

    python bench/orchestration_headwater.py --tasks 200 --shape chain

A throwaway project holds one Python pipeline of no-op ``@task`` functions in the graph every
contender runs (see bench/orchestration.py):

    chain   t0 -> t1 -> ... -> tN-1
    fanout  t0 -> (t1 .. tN-2 in parallel) -> tN-1

It runs with the default executor (a thread pool of the pipeline's ``parallelism``, 4) against
the default SQLite metadata store, which records every task's state changes, attempts and
value. Prints one JSON line: ``{"tool", "shape", "tasks", "run_seconds", ...}``;
``run_seconds`` is ``Workspace.run`` alone (interpreter start, imports and the project's
loading and planning excluded, as for the other contenders); ``plan_seconds`` is the planning.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

PIPELINE = """
from headwater import pipeline, task

SHAPE = "{shape}"
TASKS = {tasks}


@task
def noop():
    return None


@pipeline
def bench():
    if SHAPE == "chain":
        previous = noop.override(id="t0")()
        for i in range(1, TASKS):
            previous = noop.override(id=f"t{{i}}")(after=previous)
        return
    root = noop.override(id="t0")()
    middle = [noop.override(id=f"t{{i}}")(after=root) for i in range(1, TASKS - 1)]
    noop.override(id=f"t{{TASKS - 1}}")(after=middle)
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--shape", choices=("chain", "fanout"), required=True)
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3")
    from headwater import Workspace

    with tempfile.TemporaryDirectory(prefix="hw-orchestration-") as folder:
        root = Path(folder)
        (root / "headwater.yaml").write_text("name: bench\n")
        (root / "pipelines").mkdir()
        (root / "pipelines" / "bench_dag.py").write_text(
            PIPELINE.format(shape=args.shape, tasks=args.tasks)
        )
        ws = Workspace.open(root)
        planned = time.perf_counter()
        dag = ws.plan("bench")
        ws.store  # noqa: B018 - open the metadata store outside the timed run
        started = time.perf_counter()
        record = ws.run("bench", dag=dag)
        seconds = time.perf_counter() - started
        recorded = sum(1 for t in ws.store.run(record.run_id).tasks if t.status == "success")
        ws.close()
    if recorded != args.tasks:
        print(f"recorded {recorded} successful task runs, expected {args.tasks}", file=sys.stderr)
        return 1
    line = {
        "tool": "headwater",
        "shape": args.shape,
        "tasks": args.tasks,
        "run_seconds": round(seconds, 4),
        "plan_seconds": round(started - planned, 4),
        "recorded_task_runs": recorded,
        "python": platform.python_version(),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
