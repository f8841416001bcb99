"""A DuckDB session in which catalog tables are views over their Iceberg data files.

Only the tables a statement references are mapped, each at its current snapshot; the files are
scanned by DuckDB's Parquet reader, so projections and filters are pushed down to the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from headwater.connect.sql.quoting import ident, literal
from headwater.errors import ModelError, QueryError, TableNotFound, did_you_mean
from headwater.lake.catalog import Lake
from headwater.sql.references import is_query, parse_select, table_references

if TYPE_CHECKING:  # DuckDB loads with the first session: an ingest from MySQL never needs it
    import duckdb
    import pyarrow as pa

_LINE = re.compile(r"LINE (\d+):")


def _path(location: str) -> str:
    return location.removeprefix("file://")


class Session:
    """One DuckDB connection over the lake; not shared between threads."""

    def __init__(self, lake: Lake, threads: int | None = None) -> None:
        import duckdb

        self.lake = lake
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._mapped: set[str] = set()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def map_table(self, name: str) -> None:
        """Make catalog table ``name`` (namespace.table) queryable under the same name."""
        if name in self._mapped:
            return
        namespace, table = name.split(".")
        files = [_path(f) for f in self.lake.data_files(name)]
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(namespace)}")
        target = f"{ident(namespace)}.{ident(table)}"
        if files:
            listing = ", ".join(literal(f) for f in files)
            evolved = len(self.lake.table(name).schemas()) > 1
            options = ", union_by_name = true" if evolved else ""
            self.con.execute(
                f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM read_parquet([{listing}]{options})"
            )
        else:
            empty = self.lake.arrow_schema(name).empty_table()
            self.con.register("__headwater_empty", empty)
            self.con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM __headwater_empty")
            self.con.unregister("__headwater_empty")
        self._mapped.add(name)

    def map_tables(self, names: Iterable[str]) -> None:
        for name in names:
            self.map_table(name)

    def query(self, sql: str, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """Run a read-only statement over catalog tables; results stream in batches."""
        import duckdb

        try:
            tree = parse_select(sql)
        except Exception as exc:  # sqlglot ParseError: let DuckDB give its own message below
            tree = None
            parse_error: Exception | None = exc
        else:
            parse_error = None
        if tree is not None and not is_query(tree):
            raise QueryError(
                "only SELECT statements can be run here",
                hint="tables are written by pipelines (sources and models), not by ad-hoc SQL",
            )
        if tree is not None:
            known = None
            for ref in table_references(tree):
                if "." not in ref.name:
                    continue
                try:
                    self.map_table(ref.name)
                except TableNotFound:
                    known = known if known is not None else self.lake.tables()
                    raise QueryError(
                        f"table `{ref.name}` is not in the catalog{did_you_mean(ref.name, known)}",
                        hint="list tables with `headwater tables`",
                    ) from None
        try:
            return self.con.execute(sql).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            detail = str(exc).strip()
            raise QueryError(detail, hint="fix the SQL and run again") from (parse_error or exc)

    def schema_of(self, sql: str, file: str) -> pa.Schema:
        """The Arrow schema of a model's result, computed without running it."""
        import duckdb

        try:
            return self.con.execute(f"SELECT * FROM ({sql}\n) LIMIT 0").to_arrow_reader().schema
        except duckdb.Error as exc:
            raise model_error(exc, file) from exc

    def copy(self, sql: str, folder: str, prefix: str, file_bytes: int) -> list[str]:
        """Write a model's result as Parquet files ``prefix-*`` into ``folder``, on all cores."""
        from headwater.connect.sql.duckdb_reader import copy_to_parquet

        return copy_to_parquet(self.con, sql + "\n", folder, prefix, file_bytes)

    def run_model(
        self, sql: str, references: Iterable[str], file: str, batch_rows: int = 100_000
    ) -> pa.RecordBatchReader:
        """Stream a model's SELECT; errors become ModelError with the model file and line."""
        import duckdb

        self.map_tables(references)
        try:
            return self.con.execute(sql).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            raise model_error(exc, file) from exc


def model_error(exc: duckdb.Error, file: str) -> ModelError:
    """DuckDB's message, first line only, at the line DuckDB points to."""
    text = str(exc).strip()
    match = _LINE.search(text)
    return ModelError(
        text.splitlines()[0],
        file=file,
        line=int(match.group(1)) if match else None,
        hint="fix the model's SQL; try it with `headwater query`",
    )
