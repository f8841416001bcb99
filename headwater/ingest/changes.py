"""Compute what merge, incremental and SCD2 loads change, in DuckDB, file by file.

New rows are staged as Parquet; DuckDB compares them with the table's current files and
returns the rows of the files that must be rewritten plus the new rows, so a load rewrites
only the files holding changed keys (copy-on-write), not the whole table. Unchanged rows
produce no change at all, which makes every strategy idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from headwater.connect.sql.quoting import ident, literal, value_literal

if TYPE_CHECKING:
    import duckdb

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
HISTORY_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)
HISTORY_SCHEMA = pa.schema(
    [
        pa.field(VALID_FROM, pa.timestamp("us", tz="UTC")),
        pa.field(VALID_TO, pa.timestamp("us", tz="UTC")),
        pa.field(IS_CURRENT, pa.bool_()),
    ]
)


@dataclass(frozen=True)
class Change:
    """Files to remove from the table and the rows that replace them (a DuckDB query)."""

    remove: list[str]  # data file paths, as the table lists them
    rows: int  # rows in the new files
    inserted: int  # of which new or changed rows (the rest are rewritten unchanged)
    deleted: int  # keys removed (merge) or closed (scd2)


class ChangeSet:
    """A DuckDB session holding the staged rows (``incoming``) and the table (``existing``).

    ``unsent`` are columns of the table the source no longer sends: NULL in every incoming
    row, they say nothing about whether a row changed, so rows are compared without them.
    """

    def __init__(
        self,
        staged: Sequence[str],
        existing: Sequence[str],
        table_schema: pa.Schema,
        incoming_schema: pa.Schema,
        attach: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
        unsent: Collection[str] = (),
    ) -> None:
        import duckdb  # only for loads that compare with the table: a full load needs none

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        if attach is not None:  # the lake's storage (an s3:// warehouse)
            attach(self.con)
        self._existing_paths = {_local(p): p for p in existing}
        self.con.register("shape_incoming", incoming_schema.empty_table())
        self.con.register("shape_existing", table_schema.empty_table())
        self.con.execute(
            "CREATE TEMP VIEW incoming AS SELECT * FROM shape_incoming UNION ALL BY NAME "
            + (
                f"SELECT * FROM read_parquet({_list(staged)}, filename = true, "
                "file_row_number = true, union_by_name = true)"
                if staged
                else "SELECT NULL AS filename, NULL::BIGINT AS file_row_number WHERE false"
            )
        )
        self.con.execute(
            "CREATE TEMP VIEW existing AS SELECT * FROM shape_existing UNION ALL BY NAME "
            + (
                f"SELECT * FROM read_parquet({_list(list(self._existing_paths))}, "
                "filename = true, union_by_name = true)"
                if existing
                else "SELECT NULL AS filename WHERE false"
            )
        )
        self.columns = list(incoming_schema.names)
        # the columns whose values say whether an incoming row differs from the table's
        self.compared = [c for c in self.columns if c not in unsent]
        self.table_columns = list(table_schema.names)
        self._nested = {f.name for f in incoming_schema if pa.types.is_nested(f.type)}

    def close(self) -> None:
        self.con.close()

    def count(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def null_keys(self, keys: Sequence[str]) -> int:
        return self.count(
            "SELECT count(*) FROM incoming WHERE "
            + " OR ".join(f"{ident(k)} IS NULL" for k in keys)
        )

    def latest_per_key(self, keys: Sequence[str], cursor: str | None) -> None:
        """``src``: one incoming row per key, the one with the highest cursor, else the last."""
        order = [f"{ident(cursor)} DESC NULLS LAST"] if cursor else []
        order += ["filename DESC", "file_row_number DESC"]
        self.con.execute(
            f"CREATE TEMP TABLE src AS SELECT {self._cols(self.columns)} FROM incoming "
            f"QUALIFY row_number() OVER (PARTITION BY {self._cols(keys)} "
            f"ORDER BY {', '.join(order)}) = 1"
        )

    # -- incremental without a key: drop rows the table already holds ----------------------

    def new_rows(self, cursor: str, start: object, compare: Sequence[str]) -> str:
        """Incoming rows the table does not hold yet (a multiset difference on ``compare``,
        the columns the table had before this load), among its rows from ``start``."""
        cols = self._cols(compare)
        same = self._same("i", "e", compare)
        return (
            f"WITH i AS (SELECT *, row_number() OVER (PARTITION BY {cols}) AS __hw_n "
            f"FROM incoming), "
            f"e AS (SELECT {cols}, row_number() OVER (PARTITION BY {cols}) AS __hw_n "
            f"FROM existing WHERE {ident(cursor)} >= {value_literal(start)}) "
            f"SELECT {self._cols(self.columns, 'i')} FROM i WHERE NOT EXISTS "
            f"(SELECT 1 FROM e WHERE {same} AND e.__hw_n = i.__hw_n)"
        )

    # -- merge -----------------------------------------------------------------------------

    def merge(
        self, keys: Sequence[str], delete_column: str | None, delete_missing: bool
    ) -> tuple[Change, str]:
        """Upsert ``src`` by ``keys``; returns the change and the query of the new files' rows."""
        same = self._same("s", "e", [c for c in self.compared if c != delete_column])
        on = self._on("s", "e", keys)
        self.con.execute(
            f"CREATE TEMP TABLE changed AS SELECT s.* FROM src s WHERE NOT EXISTS "
            f"(SELECT 1 FROM existing e WHERE {on} AND {same})"
            + (f" AND NOT coalesce(s.{ident(delete_column)}, false)" if delete_column else "")
        )
        deletes = []
        if delete_column:
            deletes.append(
                f"SELECT {self._cols(keys)} FROM src WHERE coalesce({ident(delete_column)}, false)"
            )
        if delete_missing:
            deletes.append(
                f"SELECT {self._cols(keys, 'e')} FROM existing e WHERE NOT EXISTS "
                f"(SELECT 1 FROM src s WHERE {on})"
            )
        self.con.execute(
            f"CREATE TEMP TABLE gone AS {' UNION '.join(deletes)}"
            if deletes
            else f"CREATE TEMP TABLE gone AS SELECT {self._cols(keys)} FROM src WHERE false"
        )
        touched = (
            f"(SELECT {self._cols(keys)} FROM changed UNION SELECT {self._cols(keys)} FROM gone)"
        )
        remove = self._files_with(keys, touched)
        deleted = self.count(
            f"SELECT count(*) FROM existing e WHERE EXISTS (SELECT 1 FROM gone g WHERE "
            f"{self._on('g', 'e', keys)})"
        )
        kept = (
            f"SELECT {self._cols(self.table_columns, 'e')} FROM existing e "
            f"WHERE e.filename IN ({_values(remove)}) AND NOT EXISTS "
            f"(SELECT 1 FROM {touched} t WHERE {self._on('t', 'e', keys)})"
        )
        inserted = self.count("SELECT count(*) FROM changed")
        rows_sql = f"{kept} UNION ALL BY NAME SELECT * FROM changed"
        if delete_column:
            rows_sql = f"SELECT * EXCLUDE ({ident(delete_column)}) FROM ({rows_sql})"
        return self._change(remove, rows_sql, inserted, deleted), rows_sql

    # -- SCD type 2 ------------------------------------------------------------------------

    def scd2(self, keys: Sequence[str], now: datetime, close_missing: bool) -> tuple[Change, str]:
        """New versions for new or changed keys; current versions of changed (and, with
        ``close_missing``, vanished) keys closed at ``now``."""
        current = f"(SELECT * FROM existing WHERE {ident(IS_CURRENT)})"
        same = self._same("s", "c", self.compared)
        on = self._on("s", "c", keys)
        self.con.execute(
            f"CREATE TEMP TABLE changed AS SELECT s.* FROM src s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {current} c WHERE {on} AND {same})"
        )
        closing = [
            f"SELECT {self._cols(keys, 'c')} FROM {current} c WHERE EXISTS "
            f"(SELECT 1 FROM changed s WHERE {on})"
        ]
        if close_missing:
            closing.append(
                f"SELECT {self._cols(keys, 'c')} FROM {current} c WHERE NOT EXISTS "
                f"(SELECT 1 FROM src s WHERE {on})"
            )
        self.con.execute(f"CREATE TEMP TABLE closing AS {' UNION '.join(closing)}")
        touched = f"(SELECT {self._cols(keys)} FROM closing)"
        remove = self._files_with(keys, touched, only_current=True)
        at = value_literal(now)
        closes = (
            f"{ident(IS_CURRENT)} AND EXISTS (SELECT 1 FROM closing k WHERE "
            f"{self._on('k', 'e', keys)})"
        )
        others = [c for c in self.table_columns if c not in (VALID_TO, IS_CURRENT)]
        rewritten = (
            f"SELECT {self._cols(others, 'e')}, "
            f"CASE WHEN {closes} THEN {at} ELSE e.{ident(VALID_TO)} END AS {ident(VALID_TO)}, "
            f"CASE WHEN {closes} THEN false ELSE e.{ident(IS_CURRENT)} END AS {ident(IS_CURRENT)} "
            f"FROM existing e WHERE e.filename IN ({_values(remove)})"
        )
        inserts = (
            f"SELECT *, {at} AS {ident(VALID_FROM)}, NULL::TIMESTAMPTZ AS {ident(VALID_TO)}, "
            f"true AS {ident(IS_CURRENT)} FROM changed"
        )
        inserted = self.count("SELECT count(*) FROM changed")
        deleted = self.count("SELECT count(*) FROM closing")
        rows_sql = f"{rewritten} UNION ALL BY NAME {inserts}"
        return self._change(remove, rows_sql, inserted, deleted), rows_sql

    # -- helpers ---------------------------------------------------------------------------

    def reader(self, sql: str, batch_rows: int) -> pa.RecordBatchReader:
        return self.con.execute(sql).to_arrow_reader(batch_rows)

    def _change(self, remove: list[str], rows_sql: str, inserted: int, deleted: int) -> Change:
        if not remove and inserted == 0:
            return Change([], 0, 0, deleted)
        rows = self.count(f"SELECT count(*) FROM ({rows_sql})")
        return Change([self._existing_paths[p] for p in remove], rows, inserted, deleted)

    def _files_with(
        self, keys: Sequence[str], touched: str, only_current: bool = False
    ) -> list[str]:
        current = f" AND e.{ident(IS_CURRENT)}" if only_current else ""
        rows = self.con.execute(
            f"SELECT DISTINCT e.filename FROM existing e WHERE EXISTS "
            f"(SELECT 1 FROM {touched} t WHERE {self._on('t', 'e', keys)}){current}"
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    @staticmethod
    def _cols(columns: Sequence[str], alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + ident(c) for c in columns)

    @staticmethod
    def _on(a: str, b: str, keys: Sequence[str]) -> str:
        return " AND ".join(f"{a}.{ident(k)} = {b}.{ident(k)}" for k in keys)

    def _same(self, a: str, b: str, columns: Sequence[str]) -> str:
        """Every column of row ``a`` equals row ``b``'s, NULLs equal.

        Nested values are compared as text: DuckDB 1.5 fails comparing lists of structs."""

        def side(alias: str, column: str) -> str:
            ref = f"{alias}.{ident(column)}"
            return f"CAST({ref} AS VARCHAR)" if column in self._nested else ref

        return (
            " AND ".join(f"{side(a, c)} IS NOT DISTINCT FROM {side(b, c)}" for c in columns)
            or "true"
        )


def _local(path: str) -> str:
    return path.removeprefix("file://")


def _list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(literal(_local(p)) for p in paths) + "]"


def _values(paths: Sequence[str]) -> str:
    """Paths (as DuckDB reports them) as the inside of an IN (...) list."""
    return ", ".join(literal(p) for p in paths) if paths else "NULL"
