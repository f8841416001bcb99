"""The peer of ``headwater tables`` in docs/benchmarks.md: every table of a project's catalog
with its rows, data files and bytes, as a pyiceberg user lists them.

    python bench/list_tables_pyiceberg.py examples/classicmodels/.headwater/catalog.db

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyiceberg.catalog.sql import SqlCatalog


def main(catalog_file: str) -> int:
    catalog = SqlCatalog("headwater", uri=f"sqlite:///{Path(catalog_file).resolve()}")
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            snapshot = catalog.load_table(identifier).current_snapshot()
            summary = snapshot.summary if snapshot is not None else None
            counts = [
                summary[key] if summary is not None else "0"
                for key in ("total-records", "total-data-files", "total-files-size")
            ]
            print(".".join(identifier), *counts)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
