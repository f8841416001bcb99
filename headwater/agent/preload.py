"""What the agent imports before it forks: all of Headwater and the libraries its commands use.

Importing these is what makes a cold ``headwater`` command take about a second; a forked
child finds them already imported. A library that is not installed is skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from contextlib import suppress
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
    _complete_models()
    _quiesce()
    return Preloaded(len(sys.modules), time.perf_counter() - started, skipped)


def _complete_models() -> None:
    """Build the validators of Headwater's config models now, not in every child.

    The models defer that work to their first use (a cold command pays only for what it
    validates); a child would pay 25 ms for the project file's models alone.
    """
    from pydantic import BaseModel

    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith("headwater.") and not model.__pydantic_complete__:
            # one that cannot be built yet is built in the child on first use, as when cold
            with suppress(Exception):
                model.model_rebuild()


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
