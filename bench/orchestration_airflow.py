"""Orchestration contender: Apache Airflow 3, one DAG of N no-op tasks run by ``dag.test()``.

    bench/.work/airflow-env/bin/python bench/orchestration_airflow.py --tasks 200 --shape chain

As an Airflow user writes it: a DAG file in the DAGs folder, with ``dag.test()`` under
``if __name__ == "__main__"``. Each task is a TaskFlow ``@task`` calling a no-op Python function
(not ``EmptyOperator``, which Airflow marks successful without running it); an edge is ``>>``,
an ordering dependency with nothing passed between tasks:

    chain   t0 >> t1 >> ... >> tN-1
    fanout  t0 >> [t1 .. tN-2] >> tN-1

``dag.test()`` syncs the DAGs folder to the metadata database, creates a DAG run and runs
every task instance in this process, one at a time, recording each state in the metadata
database (SQLite under ``AIRFLOW_HOME``). It finds the DAG by id in the DAGs folder (elsewhere
it fails: "Cannot create DagRun ... because the dag is not serialized"), so this file is also
a DAG file: the harness links it into ``$AIRFLOW_HOME/dags`` and runs
``airflow db migrate`` once beforehand; the DAG's size and shape reach the parse through
``BENCH_AIRFLOW_DAG``. ``run_seconds`` is ``dag.test()`` (which parses the DAGs folder and
serializes the DAG as part of every call); building the DAG object in this script is timed
apart as ``build_seconds``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from datetime import datetime

from airflow.sdk import DAG, task

CALLS = itertools.count()
SPEC = "BENCH_AIRFLOW_DAG"  # "<shape>:<tasks>"


@task
def noop() -> None:
    next(CALLS)


def build(tasks: int, shape: str) -> DAG:
    with DAG(
        dag_id=f"bench_{shape}_{tasks}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
    ) as dag:
        nodes = [noop.override(task_id=f"t{i}")() for i in range(tasks)]
        if shape == "chain":
            for upstream, downstream in itertools.pairwise(nodes):
                upstream >> downstream
        else:
            middle = nodes[1:-1]
            nodes[0] >> middle
            for node in middle:
                node >> nodes[-1]
    return dag


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--shape", choices=("chain", "fanout"), required=True)
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3")
    os.environ[SPEC] = f"{args.shape}:{args.tasks}"

    import airflow
    from airflow.utils.state import DagRunState

    started = time.perf_counter()
    dag = build(args.tasks, args.shape)
    built = time.perf_counter()
    run = dag.test()
    seconds = time.perf_counter() - built

    ran = next(CALLS)
    if run.state != DagRunState.SUCCESS or ran != args.tasks:
        print(f"DAG run ended {run.state}, ran {ran} of {args.tasks} tasks", file=sys.stderr)
        return 1
    line = {
        "tool": "airflow",
        "shape": args.shape,
        "tasks": args.tasks,
        "run_seconds": seconds,
        "build_seconds": built - started,
        "version": f"apache-airflow {airflow.__version__}",
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
elif os.environ.get(SPEC):  # parsed from the DAGs folder during dag.test()
    _shape, _tasks = os.environ[SPEC].split(":")
    dag = build(int(_tasks), _shape)
