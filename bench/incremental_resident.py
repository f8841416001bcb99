"""A resident contender for ``bench/incremental.py``: one process that loads on request.

The scheduler and ``headwater serve`` run loads in a process that has already imported
everything and run before; this measures that case. The process reads one line per round on
stdin and answers one JSON line on stdout with the seconds of that load, timed in process, and
its own peak RSS so far:

    python bench/incremental_resident.py headwater PROJECT
    python bench/incremental_resident.py cx URL STATE_FILE OUT_DIR

``headwater`` runs pipeline ``p`` of PROJECT (``Workspace.open(...).run("p")``; a line
``full`` runs it with a full refresh); ``cx`` runs the hand-written ConnectorX read of
``incremental.CX_SCRIPT`` as a function. Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def headwater(project: str) -> Callable[[str], int]:
    from headwater import Workspace

    def run(command: str) -> int:
        # raises RunFailed when a task fails
        Workspace.open(project).run("p", full_refresh=command == "full")
        return 0

    return run


def cx(url: str, state_file: str, out_dir: str) -> Callable[[str], int]:
    import connectorx
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def run(command: str) -> int:
        state = json.loads(Path(state_file).read_text())
        table = connectorx.read_sql(
            url, f"SELECT * FROM events WHERE id > {int(state['last'])}", return_type="arrow"
        )
        if table.num_rows:
            pq.write_table(table, f"{out_dir}/events-{state['files']:05d}.parquet")
            state = {"last": pc.max(table["id"]).as_py(), "files": state["files"] + 1}
            Path(state_file).write_text(json.dumps(state))
        return int(table.num_rows)

    return run


def main(argv: list[str]) -> int:
    kind, *args = argv
    run = headwater(*args) if kind == "headwater" else cx(*args)
    for line in sys.stdin:
        started = time.perf_counter()
        try:
            run(line.strip())
            answer = {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}
        except Exception as exc:  # reported to the parent, which marks the round failed
            answer = {"error": f"{type(exc).__name__}: {exc}", "peak_mb": peak_mb()}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
