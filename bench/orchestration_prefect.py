"""Orchestration contender: Prefect 3, one flow of N no-op tasks.

    bench/.work/prefect-env/bin/python bench/orchestration_prefect.py --tasks 200 --shape chain

As a Prefect user writes it, with Prefect's defaults: no API URL configured, so Prefect starts
its temporary local server (SQLite under ``PREFECT_HOME``) and records the flow run and every
task run there; the default task runner (a thread pool) runs submitted tasks.

    chain   the tasks called one after another in the flow body (each call waits for its
            task run to finish)
    fanout  the root submitted, then N-2 tasks submitted with ``wait_for=[root]``, then the
            join submitted with ``wait_for`` all of them; the flow waits for the join

The temporary server is started before the clock starts (one API call) and timed apart as
``setup_seconds``: it is paid once per process, not per task. ``run_seconds`` is the flow call.

Prefect records task runs asynchronously: the client sends their state changes as events and
the server writes them to its database in the background. A script that exits right after
its flow stops the temporary server with most of its task runs not yet written (here, 6 to
60 of 200 were in the database). So, after the flow returns, this script waits, untimed by
``run_seconds`` but inside the process's wall time, until the API counts N completed task
runs for the flow run (``recorded_seconds``: from the start of the flow until then; at most
``--record-timeout`` seconds, past which the run fails); ``recorded_at_return`` is the count
when the flow returned.
The harness sets ``PREFECT_HOME``, turns analytics off (``DO_NOT_TRACK``,
``PREFECT_SERVER_ANALYTICS_ENABLED``) and gives the temporary server 180 s to start instead
of 20 (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``), which a loaded 2-core machine
can need.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import prefect
from prefect import flow, task
from prefect.client.orchestration import SyncPrefectClient, get_client

CALLS = itertools.count()


@task
def noop() -> None:
    next(CALLS)


@flow(name="bench-chain")
def chain(tasks: int) -> None:
    for _ in range(tasks):
        noop()


@flow(name="bench-fanout")
def fanout(tasks: int) -> None:
    root = noop.submit()
    middle = [noop.submit(wait_for=[root]) for _ in range(tasks - 2)]
    noop.submit(wait_for=middle).result()


def completed_task_runs(client: SyncPrefectClient, flow_run_id: str) -> int:
    body = {
        "flow_runs": {"id": {"any_": [flow_run_id]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    response = client.request("POST", "/task_runs/count", json=body)
    response.raise_for_status()
    return int(response.json())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--shape", choices=("chain", "fanout"), required=True)
    parser.add_argument(
        "--record-timeout", type=float, help="seconds; 60 + 0.2 per task unless given"
    )
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3")
    record_timeout = args.record_timeout or 60 + 0.2 * args.tasks

    started = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.hello()  # starts the temporary server when no API URL is set
    setup = time.perf_counter() - started

    started = time.perf_counter()
    state = (chain if args.shape == "chain" else fanout)(args.tasks, return_state=True)
    seconds = time.perf_counter() - started

    ran = next(CALLS)
    if not state.is_completed() or ran != args.tasks:
        print(f"flow ended {state.type}, ran {ran} of {args.tasks} tasks", file=sys.stderr)
        return 1
    flow_run_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        at_return = recorded = completed_task_runs(client, flow_run_id)
        while recorded < args.tasks and time.perf_counter() - started < record_timeout:
            time.sleep(0.1)
            recorded = completed_task_runs(client, flow_run_id)
    recorded_seconds = time.perf_counter() - started
    if recorded != args.tasks:
        print(
            f"{recorded} of {args.tasks} task runs recorded after {recorded_seconds:.0f} s",
            file=sys.stderr,
        )
        return 1
    line = {
        "tool": "prefect",
        "shape": args.shape,
        "tasks": args.tasks,
        "run_seconds": seconds,
        "setup_seconds": setup,
        "recorded_seconds": recorded_seconds,
        "recorded_at_return": at_return,
        "version": f"prefect {prefect.__version__}",
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
