"""What the agent imports before it forks: all of Headwater and the libraries its commands use.

Importing these is what makes a cold ``headwater`` command take about a second; a forked
child finds them already imported. A library that is not installed is skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass, field

#: imported on first use by Headwater's modules, so named here
LIBRARIES = (
    "pyarrow.parquet",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.csv",
    "pyarrow.json",
    "duckdb",
    "connectorx",
    "fastavro",
    "sqlalchemy.dialects.mysql.pymysql",
    "sqlalchemy.dialects.postgresql.psycopg",
    "sqlalchemy.dialects.sqlite",
    "pymysql",
    "psycopg",
    "pyiceberg.catalog.sql",
    "pyiceberg.table",
    "pyiceberg.io.pyarrow",
    "httpx",
    "redis",
)


@dataclass
class Preloaded:
    """What the agent imported, and how long it took."""

    modules: int = 0
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)


def preload() -> Preloaded:
    """Import every Headwater module and :data:`LIBRARIES`; note those that cannot be."""
    import sys

    import headwater

    started = time.perf_counter()
    skipped: dict[str, str] = {}
    # the command's own entry first: its modules then register their commands in the order
    # a cold start does, which is the order `--help` lists them in
    names = ["headwater.cli.app"] + [
        m.name
        for m in pkgutil.walk_packages(headwater.__path__, "headwater.")
        if not m.name.endswith("__main__")
    ]
    for name in (*names, *LIBRARIES):
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional extra missing: its commands import it as usual
            skipped[name] = f"{type(exc).__name__}: {exc}"
    _quiesce()
    return Preloaded(len(sys.modules), time.perf_counter() - started, skipped)


def _quiesce() -> None:
    """Stop the threads importing started, which a forked child would lack.

    ``import duckdb`` opens a default connection with a pool of worker threads; a child
    that used DuckDB would abort at exit joining threads that were never forked into it.
    Closed here, the default connection opens again in the child on first use.
    """
    import sys

    duckdb = sys.modules.get("duckdb")
    if duckdb is not None:
        duckdb.default_connection().close()
