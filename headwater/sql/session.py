"""A DuckDB session in which catalog tables are views over their Iceberg data files.

Only the tables a statement references are mapped, each at its current snapshot; the files are
scanned by DuckDB's Parquet reader, so projections and filters are pushed down to the files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from headwater.connect.sql.quoting import ident, literal
from headwater.errors import ModelError, QueryError
from headwater.lake.catalog import Lake

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
        lake.attach(self.con)  # an s3:// warehouse: httpfs and the lake's credentials
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self._mapped: set[str] = set()
        self.sandboxed = False  # a served query (Workspace.query_stream): see sql/sandbox.py

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
        # the crawler refuses a name an Iceberg table has, so trying Iceberg first cannot
        # hide an external table
        current = self.lake.current_metadata(name)
        if current is None:
            from headwater.lake.crawl.relation import external_view

            if external_view(self.con, self.lake, name):  # files registered by `headwater crawl`
                self._mapped.add(name)
                return
            current = self.lake.table_metadata(name)  # raises TableNotFound with the fix
        namespace, table = name.split(".")
        files = [_path(f.path) for f in current.data_files]
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(namespace)}")
        target = f"{ident(namespace)}.{ident(table)}"
        if files:
            listing = ", ".join(literal(f) for f in files)
            evolved = current.schema_count > 1
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

    def map_scan(
        self,
        name: str,
        files: list[str],
        schema: pa.Schema,
        evolved: bool,
        in_schema: str | None = None,
    ) -> None:
        """Make ``files`` (some data files of catalog table ``name``) queryable as ``name``, or
        as ``"<in_schema>".<table>``: a past snapshot, or the files a filter can match."""
        namespace, table = name.split(".")
        if in_schema is None:
            self._mapped.discard(name)  # the view no longer holds the whole table
        folder = in_schema or namespace
        target = f"{ident(folder)}.{ident(table)}"
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(folder)}")
        # an earlier statement's view or (empty) table: replacing one kind by the other fails
        found = self.con.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [folder, table],
        ).fetchone()
        if found:
            self.con.execute(f"DROP {'VIEW' if found[0] == 'VIEW' else 'TABLE'} {target}")
        if files:
            listing = ", ".join(literal(_path(f)) for f in files)
            options = ", union_by_name = true" if evolved else ""
            self.con.execute(
                f"CREATE VIEW {target} AS SELECT * FROM read_parquet([{listing}]{options})"
            )
        else:
            self.con.register("__headwater_empty", schema.empty_table())
            self.con.execute(f"CREATE TABLE {target} AS SELECT * FROM __headwater_empty")
            self.con.unregister("__headwater_empty")

    def query(self, sql: str, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """Run a read-only statement over catalog tables; results stream in batches.

        A table may be read as of a past time or snapshot (``FOR TIMESTAMP AS OF …``,
        ``FOR VERSION AS OF …``), and a WHERE clause keeps the files it cannot match out of
        the scan (see :mod:`headwater.sql.scans`).
        """
        import duckdb

        from headwater.sql.scans import prepare

        try:
            statement = prepare(self, sql)
            if self.sandboxed:  # a served query: the lake's tables, not the server's secrets
                from headwater.sql.sandbox import refuse_server_functions

                refuse_server_functions(self.con, statement)
            return _failing_as_query_error(self.con.execute(statement).to_arrow_reader(batch_rows))
        except RecursionError as exc:  # the parser recurses once per nesting level
            raise QueryError(
                "the query nests too deeply to be read (parentheses or subqueries inside one "
                "another, hundreds of levels)",
                hint="write it with fewer levels, e.g. with a WITH clause",
            ) from exc
        except duckdb.Error as exc:
            detail = self._told_with_lake_tables(exc)
            raise QueryError(detail, hint="fix the SQL and run again") from exc

    def _told_with_lake_tables(self, exc: duckdb.Error) -> str:
        """DuckDB's message, a missing table's suggestions taken from the lake's tables."""
        from headwater.sql.missing_tables import suggest_lake_tables

        text = str(exc).strip()
        if "does not exist" not in text:
            return text
        return suggest_lake_tables(text, self.lake.tables())

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
            raise model_error(exc, file, self._told_with_lake_tables(exc)) from exc


def _failing_as_query_error(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """``reader``, where an error DuckDB meets while computing later batches is a QueryError
    too (DuckDB raises it as an Arrow IO error from the stream)."""
    import pyarrow as pa

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (pa.ArrowException, OSError) as exc:
            raise QueryError(str(exc).strip(), hint="fix the SQL and run again") from exc

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def model_error(exc: duckdb.Error, file: str, text: str | None = None) -> ModelError:
    """DuckDB's message (or ``text`` told of it), first line only, at the line DuckDB
    points to."""
    text = text or str(exc).strip()
    match = _LINE.search(text)
    return ModelError(
        text.splitlines()[0],
        file=file,
        line=int(match.group(1)) if match else None,
        hint="fix the model's SQL; try it with `headwater query`",
    )
