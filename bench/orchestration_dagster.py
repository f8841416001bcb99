"""Orchestration contender: Dagster 1.x, one job of N no-op ops run by ``execute_in_process``.

    bench/.work/dagster-env/bin/python bench/orchestration_dagster.py --tasks 200 --shape chain

As a Dagster user writes it: one op, aliased ``t0`` .. ``tN-1`` in a ``@job``; an edge is an
ordering dependency with no data (the op returns ``None`` and takes an ``In(Nothing)``, as in
Dagster's docs on ops without data dependencies):

    chain   t0 -> t1 -> ... -> tN-1
    fanout  t0 -> (t1 .. tN-2) -> tN-1, the join taking the list of the middle ops

``execute_in_process()`` with its defaults: an ephemeral instance (run and event storage in
memory, telemetry off) and the in-process executor, which runs the steps one at a time in
this process (so the fan-out's middle tasks run one after another, as Dagster does here).
``run_seconds`` is ``execute_in_process()``; building the job (``@job`` composes and
validates the graph) is timed apart as ``build_seconds``. Dagster walks the graph
recursively, so a chain near 1,000 ops can pass Python's recursion limit (``RecursionError``
in ``graph_definition.py``; 1 run of 3 at 1,000 here, depending on the traversal order); the
limit is left as it is.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import dagster
from dagster import In, JobDefinition, Nothing, job, op

CALLS = itertools.count()


@op(ins={"after": In(Nothing)})
def noop() -> None:
    next(CALLS)


def build(tasks: int, shape: str) -> JobDefinition:
    @job(name=f"bench_{shape}_{tasks}")
    def bench() -> None:
        if shape == "chain":
            previous = noop.alias("t0")()
            for i in range(1, tasks):
                previous = noop.alias(f"t{i}")(after=previous)
            return
        root = noop.alias("t0")()
        middle = [noop.alias(f"t{i}")(after=root) for i in range(1, tasks - 1)]
        noop.alias(f"t{tasks - 1}")(after=middle)

    return bench


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--shape", choices=("chain", "fanout"), required=True)
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3")

    started = time.perf_counter()
    bench = build(args.tasks, args.shape)
    built = time.perf_counter()
    result = bench.execute_in_process()
    seconds = time.perf_counter() - built

    ran = next(CALLS)
    if not result.success or ran != args.tasks:
        print(f"success={result.success}, ran {ran} of {args.tasks} ops", file=sys.stderr)
        return 1
    line = {
        "tool": "dagster",
        "shape": args.shape,
        "tasks": args.tasks,
        "run_seconds": seconds,
        "build_seconds": built - started,
        "version": f"dagster {dagster.__version__}",
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
