"""Turn JSON records (API pages, Redis values, JSON files) into typed Arrow batches.

Records are spooled to JSON Lines files as they arrive (memory holds one page), then DuckDB
reads the files back with its JSON reader: types are inferred from *every* record (not a
sample), objects become structs, arrays lists, ISO dates and timestamps typed, and records
missing a field get NULL. This keeps per-record Python down to ``json.dumps`` and hands the
typing to a vectorised engine made for it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from headwater.connect.sql.quoting import ident, literal
from headwater.tempdirs import make as make_tempdir

# One spool file holds this many records before the next one starts.
RECORDS_PER_FILE = 50_000


class RecordSpool:
    """JSON Lines files under a folder of their own; ``reader()`` types and streams them."""

    def __init__(self, folder: Path | None = None, prefix: str = "records") -> None:
        self._owned = folder is None
        self.folder = make_tempdir("spool") if folder is None else folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prefix = prefix
        self._file: TextIO | None = None
        self._in_file = 0
        self._files: list[Path] = []
        self.count = 0

    def add(self, record: Mapping[str, Any]) -> None:
        self.add_json(json.dumps(record, default=str, ensure_ascii=False))

    def add_many(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def add_json(self, line: str) -> None:
        """Add one record already encoded as a JSON object (no newlines inside)."""
        if self._file is None or self._in_file >= RECORDS_PER_FILE:
            self._roll()
        assert self._file is not None
        self._file.write(line)
        self._file.write("\n")
        self._in_file += 1
        self.count += 1

    def _roll(self) -> None:
        if self._file is not None:
            self._file.close()
        path = self.folder / f"{self._prefix}-{len(self._files):05d}.jsonl"
        self._files.append(path)
        self._file = path.open("w", encoding="utf-8")
        self._in_file = 0

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        """Delete the spool (only a folder this spool created itself is removed whole)."""
        self.close()
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            for path in self._files:
                path.unlink(missing_ok=True)

    def reader(
        self, batch_rows: int = 100_000, flatten: bool = False, separator: str = "__"
    ) -> pa.RecordBatchReader:
        """The records as typed Arrow batches; the spool is deleted once they are read.

        ``flatten`` turns nested objects into top-level columns named ``parent__child``
        (arrays stay lists).
        """
        self.close()
        return json_reader(self._files, batch_rows, flatten, separator, on_done=self.discard)


def json_reader(
    files: Iterable[Path | str],
    batch_rows: int = 100_000,
    flatten: bool = False,
    separator: str = "__",
    on_done: Any = None,
) -> pa.RecordBatchReader:
    """Typed Arrow batches from JSON Lines files, types inferred over every record."""
    import duckdb

    paths = [str(p) for p in files]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if not paths:
        con.close()
        if on_done is not None:
            on_done()
        return pa.RecordBatchReader.from_batches(pa.schema([]), iter(()))
    listing = "[" + ", ".join(literal(p) for p in paths) + "]"
    source = (
        f"read_json({listing}, format = 'newline_delimited', sample_size = -1, "
        "union_by_name = true, maximum_depth = -1)"
    )
    sql = f"SELECT * FROM {source}"
    if flatten:
        schema = con.execute(f"{sql} LIMIT 0").to_arrow_reader().schema
        sql = f"SELECT {', '.join(_flat_columns(schema, separator))} FROM {source}"
    result = con.execute(sql).to_arrow_reader(batch_rows)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from result
        finally:
            con.close()
            if on_done is not None:
                on_done()

    return pa.RecordBatchReader.from_batches(result.schema, batches())


def _flat_columns(schema: pa.Schema, separator: str) -> list[str]:
    def walk(path: list[str], t: pa.DataType) -> Iterator[str]:
        if pa.types.is_struct(t):
            for child in t:
                yield from walk([*path, child.name], child.type)
        else:
            expr = ident(path[0]) + "".join(f"[{literal(p)}]" for p in path[1:])
            yield f"{expr} AS {ident(separator.join(path))}"

    return [c for field in schema for c in walk([field.name], field.type)]
