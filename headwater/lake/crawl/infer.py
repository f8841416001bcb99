"""Column names and types of files, inferred by DuckDB from a sample, as Glue does.

Files that look alike (same folder pattern, format, compression and header, or first JSON
keys) form a shape; DuckDB's sniffer reads ``sample_rows`` records of up to ``sample_files``
files of each shape, spread over it, and the shape's types are the common supertypes of what
it found. A Parquet file's own footer gives its schema. So 10 000 files of one layout cost a
few DuckDB sniffs, not 10 000.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from headwater.connect.sql.duckdb_types import common_type
from headwater.connect.sql.quoting import literal
from headwater.connect.storage import FileEntry, Storage
from headwater.lake.crawl.detect import Detected
from headwater.lake.crawl.layout import Columns, Layout


@dataclass(frozen=True)
class Probe:
    """A file the crawler could read: how, and the columns its shape holds."""

    entry: FileEntry
    layout: Layout
    columns: Columns

    @property
    def path(self) -> str:
        return self.entry.path


@dataclass(frozen=True)
class Sampling:
    rows: int = 1000  # records read per sampled file (Glue: the first 1 000 or 1 MB)
    files: int = 5  # files sampled per shape; 0 samples every file


def infer(
    con: duckdb.DuckDBPyConnection,
    storage: Storage,
    detected: Sequence[tuple[FileEntry, Detected]],
    sampling: Sampling,
    skip: Callable[[str, str], None],
    progress: Callable[[int], None] | None = None,
    by_folder: bool = False,
) -> list[Probe]:
    """Probes of the files whose sample DuckDB reads; ``skip(path, reason)`` for the rest.

    ``by_folder`` samples each folder on its own (not each folder pattern): for a few new
    partitions that must each fit their table."""
    shapes: dict[tuple[object, ...], list[tuple[FileEntry, Detected]]] = {}
    probes: list[Probe] = []
    parquet_types: dict[pa.Schema, Columns] = {}
    for entry, found in detected:
        if found.format == "parquet":
            probe = _parquet(con, storage, entry, parquet_types, skip)
            if probe is not None:
                probes.append(probe)
            if progress:
                progress(1)
            continue
        shape = found.header if found.format in ("csv", "tsv") else found.keys
        folder = entry.path.rsplit("/", 1)[0] if by_folder else _folder_pattern(entry.path)
        key = (folder, found.format, found.compression, found.delimiter, shape)
        shapes.setdefault(key, []).append((entry, found))
    for members in shapes.values():
        probes.extend(_shape(con, members, sampling, skip))
        if progress:
            progress(len(members))
    return sorted(probes, key=lambda p: p.path)


def _shape(
    con: duckdb.DuckDBPyConnection,
    members: list[tuple[FileEntry, Detected]],
    sampling: Sampling,
    skip: Callable[[str, str], None],
) -> list[Probe]:
    """Sample a shape's files until ``sampling.files`` read; the others share their result."""
    wanted = len(members) if sampling.files <= 0 else min(sampling.files, len(members))
    order = _spread(len(members), wanted)
    layout: Layout | None = None
    found: list[Columns] = []
    failed: set[int] = set()
    for index in order:
        if len(found) == wanted:
            break
        entry, detected = members[index]
        try:
            file_layout, columns = _sample(con, entry, detected, sampling.rows)
        except duckdb.Error as exc:
            failed.add(index)
            skip(entry.path, f"DuckDB cannot read it as {detected.format}: {duckdb_reason(exc)}")
            continue
        layout = layout or file_layout
        found.append(columns)
    if layout is None:
        return []
    merged = merge(con, found)
    return [Probe(entry, layout, merged) for i, (entry, _) in enumerate(members) if i not in failed]


def _sample(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, detected: Detected, rows: int
) -> tuple[Layout, Columns]:
    location = literal(entry.location)
    compression = f", compression = {literal(detected.compression)}" if detected.compression else ""
    if detected.format in ("csv", "tsv"):
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, "
            f"Columns, DateFormat, TimestampFormat FROM sniff_csv({location}, "
            f"delim = {literal(detected.delimiter or ',')}, sample_size = {int(rows)}{compression})"
        ).fetchone()
        assert row is not None
        delim, quote, escape, newline, comment, skip, header, columns, dates, stamps = row
        options = {
            "delim": literal(delim),
            "quote": literal(_unempty(quote)),
            "escape": literal(_unempty(escape)),
            "new_line": literal(newline),
            "comment": literal(_unempty(comment)),
            "skip": str(int(skip)),
            "header": "true" if header else "false",
        }
        if dates:
            options["dateformat"] = literal(dates)
        if stamps:
            options["timestampformat"] = literal(stamps)
        pairs = tuple((str(c["name"]), str(c["type"])) for c in columns)
        names = tuple(n for n, _ in pairs)
        return Layout(
            detected.format, detected.compression, tuple(sorted(options.items())), names
        ), pairs
    shape = "newline_delimited" if detected.format == "jsonl" else "auto"
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_json({location}, format = {literal(shape)}, "
        f"sample_size = {int(rows)}, maximum_depth = -1{compression})"
    ).fetchall()
    pairs = tuple((str(r[0]), str(r[1])) for r in described)
    return Layout(detected.format, detected.compression, (("format", literal(shape)),)), pairs


def _parquet(
    con: duckdb.DuckDBPyConnection,
    storage: Storage,
    entry: FileEntry,
    known: dict[pa.Schema, Columns],
    skip: Callable[[str, str], None],
) -> Probe | None:
    try:
        with storage.open(entry.path) as stream:
            schema = pq.read_schema(stream)
    except (OSError, pa.ArrowException) as exc:
        skip(entry.path, f"a corrupt Parquet file: {_first_line(exc)}")
        return None
    schema = schema.remove_metadata()
    if schema not in known:
        con.register("__headwater_shape", schema.empty_table())
        try:
            rows = con.execute("DESCRIBE SELECT * FROM __headwater_shape").fetchall()
        finally:
            con.unregister("__headwater_shape")
        known[schema] = tuple((str(r[0]), str(r[1])) for r in rows)
    return Probe(entry, Layout("parquet"), known[schema])


def merge(con: duckdb.DuckDBPyConnection, schemas: Sequence[Columns]) -> Columns:
    """Union by name, in first-seen order; a column's type is the supertype of its types
    (BIGINT and DOUBLE make DOUBLE, DATE and TIMESTAMP make TIMESTAMP, else VARCHAR)."""
    types: dict[str, list[str]] = {}
    for columns in schemas:
        for name, t in columns:
            types.setdefault(name, []).append(t)
    return tuple((name, common_type(con, found)) for name, found in types.items())


def _folder_pattern(path: str) -> str:
    """A file's folder with Hive partition values blanked: partitions of one table share it."""
    parts = path.split("/")[:-1]
    return "/".join(p.split("=", 1)[0] + "=*" if "=" in p else p for p in parts)


def _spread(total: int, wanted: int) -> list[int]:
    """Every index, the ``wanted`` spread evenly over ``total`` first (first and last too)."""
    if wanted <= 1 or total <= wanted:
        first = [0] if total else []
    else:
        first = sorted({round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})
    chosen = set(first)
    return first + [i for i in range(total) if i not in chosen]


def _unempty(value: str) -> str:
    """DuckDB's sniffer says ``(empty)`` for no quote/escape/comment character."""
    return "" if value == "(empty)" else value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def duckdb_reason(exc: BaseException) -> str:
    """DuckDB's error in one line: what, in which file, and the value it choked on."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = lines[0]
    found = next((ln.removeprefix("file = ") for ln in lines if ln.startswith("file = ")), None)
    detail = next((ln for ln in lines[1:] if ln.startswith(("Error when", "Original Line"))), None)
    if found:
        text += f" in {found}"
    if detail:
        text += f": {detail}"
    return text
