"""Check results written to the embedded store with ``sqlite3``, without SQLAlchemy.

A ``headwater check`` of a 5M-row table scans it in about a second; importing SQLAlchemy
to record its eight results took 0.3–0.5 s more on a 2-core machine (docs/benchmarks.md,
"Data quality"). For a SQLite store that already exists at the current revision, the
results are inserted here, in the rows :class:`headwater.state.store.Store` writes and reads
(a test reads one's rows with the other). Any other store — PostgreSQL, a new file, another
revision — goes through ``Store``, which creates, migrates or refuses it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater.errors import StateError
from headwater.state.revision import HEAD

# SQLAlchemy's SQLite DATETIME storage format: what Store reads back
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class LiteCheckStore:
    """The check-result methods of :class:`~headwater.state.store.Store` over sqlite3."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, url: str) -> LiteCheckStore | None:
        """The store at ``url`` when it is an existing SQLite file at the current revision."""
        if not url.startswith("sqlite:///"):
            return None
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        con = _connect(path)
        try:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
        finally:
            con.close()
        return cls(path) if row and row[0] == HEAD else None

    def add_check_results(self, results: Sequence[Any], run_id: str | None = None) -> None:
        """Record check results (:class:`headwater.quality.results.CheckResult`)."""
        if not results:
            return
        at = datetime.now(UTC).strftime(_TIME_FORMAT)
        rows = [
            (
                run_id,
                c.table,
                c.check,
                c.kind,
                c.severity,
                int(c.passed),
                c.evaluated,
                c.failing,
                json.dumps(c.observed),
                c.error,
                at,
            )
            for c in results
        ]
        con = _connect(self.path)
        try:
            with con:  # one transaction: every result or none
                con.executemany(
                    "INSERT INTO check_results (run_id, table_name, check_name, kind, severity, "
                    "passed, evaluated, failing, observed, error, evaluated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StateError(
                f"the checks ran, but their results could not be recorded in the metadata "
                f"store {self.path}: {exc}",
                hint="is the disk full, or is another process holding the store? free it and "
                "run the checks again",
            ) from exc
        finally:
            con.close()

    def check_history(
        self, table: str | None = None, check: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Recorded check results, newest first (all tables, one table, or one check)."""
        where, params = [], []
        if table is not None:
            where.append("table_name = ?")
            params.append(table)
        if check is not None:
            where.append("check_name = ?")
            params.append(check)
        sql = "SELECT * FROM check_results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        con = _connect(self.path)
        try:
            con.row_factory = sqlite3.Row
            rows = con.execute(f"{sql} ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(
                f"cannot read check results from the metadata store {self.path}: {exc}",
                hint="check that the file is readable and not held by another process",
            ) from exc
        finally:
            con.close()
        return [_row(dict(row)) for row in rows]


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as Store returns it: typed booleans, JSON and times in UTC."""
    row["passed"] = bool(row["passed"])
    # the column's JSON type has numeric affinity: SQLite keeps a JSON number as a number
    if isinstance(row["observed"], str):
        row["observed"] = json.loads(row["observed"])
    row["evaluated_at"] = datetime.strptime(row["evaluated_at"], _TIME_FORMAT).replace(tzinfo=UTC)
    return row
