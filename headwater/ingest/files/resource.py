"""A table of files: list the glob, read the new and changed files, remember what was read."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from headwater.connect.sql.quoting import ident, literal
from headwater.connect.storage import FileEntry, Storage, attach, open_storage
from headwater.errors import SourceError
from headwater.ingest.extraction import Extraction, ReadContext, Reject
from headwater.ingest.files import csv_files, jsonl_files, state, whole_files
from headwater.ingest.files.formats import resolve_format
from headwater.ingest.files.scan import FILE, Scan
from headwater.ingest.origin import ROW, Locate
from headwater.project import Project
from headwater.project.files import FilesConnection, FileSource, FileTable

log = logging.getLogger(__name__)


def build(
    project: Project, source: FileSource, table: FileTable, connection: FilesConnection
) -> FileResource:
    """The resource for one table of a file source."""
    storage = open_storage(
        connection.url, project.root, connection.s3, f"connections.{source.connection}.url"
    )
    return FileResource(table, storage, source.batch_rows)


@dataclass(frozen=True)
class FileResource:
    """Files matching a glob; each read takes the files not read, or changed, since the last."""

    table: FileTable
    storage: Storage
    batch_rows: int = 100_000

    @property
    def name(self) -> str:
        return self.table.name

    def read(self, context: ReadContext) -> Extraction:
        entries = list(self.storage.list(self.table.glob))
        seen = state.decode(context.state)
        if not entries:  # a mistyped glob or path looks like this too: say so, not "unchanged"
            log.warning(
                "%s: no file matches `%s` under %s%s; check the table's `glob` and the "
                "connection's `path`",
                self.name,
                self.table.glob,
                self.storage.root,
                " any more (the table keeps its rows)" if seen else "",
            )
        todo = state.changed(entries, seen)
        after = state.encode(entries)
        if not todo:
            if entries:  # (no match at all was said above, as a warning)
                log.info(
                    "%s: none of the %d files of `%s` is new",
                    self.name,
                    len(entries),
                    self.table.glob,
                )
            empty = pa.RecordBatchReader.from_batches(pa.schema([]), iter(()))
            # an empty match is not an empty source: never let merge delete every row for it
            return Extraction([empty], state=lambda: after, complete=False)
        kind = resolve_format(self.table.format, todo, self.table.glob)
        workdir = Path(tempfile.mkdtemp(prefix="headwater-files-", dir=context.landing))
        con = self._connect()
        try:
            scan = self._scan(con, todo, kind, workdir, context)
            stream = Stream(con, scan, self._select(scan), self.batch_rows, workdir)
            reader = stream.reader(self.table.glob)
        except BaseException:
            con.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        return Extraction(
            [reader],
            state=lambda: after,
            rejects=stream.rejects,
            complete=len(todo) == len(entries),
            locate=_locator(scan),
        )

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            attach(self.storage, con)
        except BaseException:
            con.close()
            raise
        return con

    def _scan(
        self,
        con: duckdb.DuckDBPyConnection,
        todo: list[FileEntry],
        kind: str,
        workdir: Path,
        context: ReadContext,
    ) -> Scan:
        if kind in ("csv", "tsv"):
            return csv_files.scan(con, todo, self.table, kind, context.table_schema, self._connect)
        if kind == "jsonl":
            return jsonl_files.scan(con, todo, workdir)
        return whole_files.scan(todo, kind)

    def _select(self, scan: Scan) -> Callable[[str], str]:
        """Each scan query with the file column named as asked (a path under the root), if
        asked; the hidden ``FILE`` stays for the load (:mod:`headwater.ingest.origin`)."""
        column = self.table.file_column
        if column is None:
            return lambda query: query
        pairs = ", ".join(f"{k}: {literal(v)}" for k, v in scan.locations.items())
        path = f"MAP {{{pairs}}}[{ident(FILE)}]"
        return lambda query: f"SELECT *, {path} AS {ident(column)} FROM ({query})"


def _locator(scan: Scan) -> Locate:
    """``path:line`` of rows by their file and position; the path alone for formats whose
    files are read whole (JSON, Parquet) and for a file whose lines cannot be told apart (a
    line that does not decode)."""

    def locate(file: int, rows: Sequence[int]) -> list[str]:
        path = scan.locations[file]
        lines = None if scan.lines is None else scan.lines(file, rows)
        if lines is None:
            return [path] * len(rows)
        return [f"{path}:{line}" for line in lines]

    return locate


class Stream:
    """The scan's queries run one after another as one Arrow stream; rejects once drained."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        scan: Scan,
        select: Callable[[str], str],
        batch_rows: int,
        workdir: Path,
    ) -> None:
        self.con = con
        self.scan = scan
        self.queries = [select(q) for q in scan.queries]
        self.batch_rows = batch_rows
        self.workdir = workdir
        self.found: list[Reject] = list(scan.found)
        self.counts: dict[int, int] = {}  # rows read so far per file

    def rejects(self) -> list[Reject]:
        return self.found

    def reader(self, glob: str) -> pa.RecordBatchReader:
        first = self._run(self.queries[0], glob)
        schema = first.schema

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in self._guard(first, glob):
                    yield self._numbered(batch)
                for query in self.queries[1:]:
                    for batch in self._guard(self._run(query, glob), glob):
                        yield self._numbered(batch.cast(schema))
                self.found.extend(self._guarded_rejects(glob))
            finally:
                self.con.close()
                shutil.rmtree(self.workdir, ignore_errors=True)

        return pa.RecordBatchReader.from_batches(schema.append(_ROW_FIELD), batches())

    def _numbered(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the position of each row among those read from its file.

        A query reads its files one after another, each in order (DuckDB keeps the insertion
        order), so a batch is a few runs of one file each: numbered per run, vectorised."""
        n = batch.num_rows
        positions = _positions(max(n, self.batch_rows))
        files = batch.column(FILE)
        if n and files[0] == files[n - 1]:
            runs = [(0, n, files[0].as_py())]
        else:
            encoded = pc.run_end_encode(files)
            ends = encoded.run_ends.to_pylist()
            runs = list(zip([0, *ends[:-1]], ends, encoded.values.to_pylist(), strict=True))
        parts = []
        for start, end, file in runs:
            done = self.counts.get(file, 0)
            parts.append(pc.add(positions.slice(0, end - start), done))
            self.counts[file] = done + end - start
        rows = pa.concat_arrays(parts) if parts else pa.array([], pa.int64())
        return batch.append_column(_ROW_FIELD, rows)

    def _run(self, query: str, glob: str) -> pa.RecordBatchReader:
        try:
            return self.con.execute(query).to_arrow_reader(self.batch_rows)
        except duckdb.Error as exc:
            raise _unreadable(glob, exc) from exc

    def _guard(self, reader: pa.RecordBatchReader, glob: str) -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except duckdb.Error as exc:
            raise _unreadable(glob, exc) from exc

    def _guarded_rejects(self, glob: str) -> list[Reject]:
        try:
            return self.scan.rejects(self.con, self.counts)
        except duckdb.Error as exc:
            raise _unreadable(glob, exc) from exc


_ROW_FIELD = pa.field(ROW, pa.int64())
_POSITIONS = [pa.array([], pa.int64())]


def _positions(n: int) -> pa.Array:
    """0, 1, … at least up to ``n``: made once per process (an immutable array, shared)."""
    have = _POSITIONS[0]
    if len(have) < n:
        have = _POSITIONS[0] = pa.array(range(n), pa.int64())
    return have


def _unreadable(glob: str, exc: duckdb.Error) -> SourceError:
    message = str(exc).strip().splitlines()[0]
    return SourceError(
        f"cannot read the files of `{glob}`: {message}",
        hint="fix or remove the file it names, or set the table's `format:`/CSV options",
    )
