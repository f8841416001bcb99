"""How much can two ranges gain at all here? ConnectorX's own partitioned read, no writing.

Reads ``hw_bench_inc.events`` (made by bench/incremental.py) whole into memory with
ConnectorX, once with one connection and once with ``partition_on="id"`` and
``partition_num=2`` (ConnectorX splits the range and reads both halves on its own threads).
This is the ceiling for any 2-range load on this machine: the database server and the
reader share its cores.

    .venv/bin/python bench/partitions_raw.py --repeat 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

URLS = {
    "mysql": "mysql://root@127.0.0.1:3306/hw_bench_inc",
    "postgres": "postgresql://postgres@127.0.0.1:5432/hw_bench_inc",
}

CHILD = """
import sys, time, connectorx as cx
url, n = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
extra = {} if n == 1 else {"partition_on": "id", "partition_num": n}
table = cx.read_sql(url, "SELECT * FROM events", return_type="arrow", **extra)
print(table.num_rows, time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    for db, url in URLS.items():
        times: dict[int, float] = {}
        for n in (1, 2):
            runs = []
            for _ in range(options.repeat):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, url, str(n)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                runs.append(float(out[1]))
                rows = int(out[0])
            times[n] = statistics.median(runs)
            print(f"{db:9} partitions={n}  rows={rows:,}  median {times[n]:.2f} s", flush=True)
        print(f"{db:9} speed-up with 2 partitions: {times[1] / times[2]:.2f}x")


if __name__ == "__main__":
    main()
