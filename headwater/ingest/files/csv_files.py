"""CSV and TSV files: sniffed one by one, read in groups of one layout, bad rows as rejects.

DuckDB's rejects tables (``store_rejects``) give each bad row's file, line, column, error and
raw text, but they cannot be combined with ``union_by_name``. So each file is sniffed (a few
ms), files of the same layout are read together by one ``read_csv`` with explicit columns,
and every group is cast to the union of all columns by name.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from headwater.connect.sql.duckdb_types import common_type
from headwater.connect.sql.quoting import ident, literal
from headwater.connect.storage import FileEntry
from headwater.errors import SourceError
from headwater.ingest.extraction import Reject
from headwater.ingest.files.jsonl_files import MAX_LINE_BYTES
from headwater.ingest.files.scan import Scan, nth_kept, numbering
from headwater.ingest.files.table_types import read_types
from headwater.project.files import FileTable


@dataclass(frozen=True)
class Dialect:
    """The sniffed dialect as plain values, to find the lines of rows (``lines``)."""

    delimiter: str
    quote: str
    escape: str
    comment: str
    skip: int
    header: bool
    encoding_sql: str  # the read_csv option's value


@dataclass(frozen=True)
class Layout:
    """How a group of files is parsed: dialect and column names (types are unified later)."""

    options: tuple[tuple[str, str], ...]  # read_csv option → SQL value
    names: tuple[str, ...]
    dialect: Dialect


def scan(
    con: duckdb.DuckDBPyConnection,
    entries: list[FileEntry],
    table: FileTable,
    kind: str,
    table_schema: pa.Schema | None = None,
    connect: Callable[[], duckdb.DuckDBPyConnection] | None = None,
) -> Scan:
    """The files as SELECTs of one schema; with ``connect``, the lines of rows can be found
    (on connections of their own, once the read is over or while it goes on)."""
    user = _user_options(table, kind)
    groups: dict[Layout, list[FileEntry]] = {}
    types: dict[str, list[str]] = {}
    for entry in entries:
        layout, columns = _sniff(con, entry, user)
        if table.columns:  # the sniffer gives the dialect; the user gives names and types
            columns = list(table.columns.items())
            layout = Layout(layout.options, tuple(table.columns), layout.dialect)
        groups.setdefault(layout, []).append(entry)
        for name, t in columns:
            types.setdefault(name, []).append(t)
    union = {name: common_type(con, found) for name, found in types.items()}
    union = read_types(con, union, table_schema)
    queries: list[str] = []
    where: list[tuple[FileEntry, Layout]] = []  # by file number, as the queries read them
    for layout, files in groups.items():
        queries.append(_select(layout, files, union, first=len(where)))
        where.extend((entry, layout) for entry in files)

    def lines(file: int, rows: Sequence[int]) -> list[int] | None:
        assert connect is not None
        entry, layout = where[file]
        try:
            return row_lines(connect, entry, layout, union, rows)
        except duckdb.InvalidInputException:
            return None  # a line does not decode: the file cannot be read as lines

    return Scan(
        queries,
        {i: entry.path for i, (entry, _) in enumerate(where)},
        _rejects(where),
        lines=lines if connect is not None else None,
    )


def _user_options(table: FileTable, kind: str) -> dict[str, str]:
    # the delimiter is not sniffed: a few ragged rows in a small file make the sniffer pick
    # another one and read each line as one column, which loads without any reject
    delimiter = table.delimiter or ("\t" if kind == "tsv" else ",")
    options = {"encoding": literal(table.encoding), "delim": literal(delimiter)}
    if table.quote is not None:
        options["quote"] = literal(table.quote)
    if table.header is not None:
        options["header"] = "true" if table.header else "false"
    if table.nulls:
        options["nullstr"] = "[" + ", ".join(literal(s) for s in table.nulls) + "]"
    return options


def _sniff(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, user: dict[str, str]
) -> tuple[Layout, list[tuple[str, str]]]:
    args = "".join(f", {key} = {value}" for key, value in user.items())
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, "
            f"Columns, DateFormat, TimestampFormat FROM sniff_csv({literal(entry.location)}{args}, "
            # bad rows must not defeat the sniffer: the read reports them as rejects
            "ignore_errors = true)"
        ).fetchone()
    except duckdb.Error as exc:
        raise SourceError(
            f"cannot read {entry.path} as CSV: {_first_line(exc)}",
            hint="set `delimiter`, `quote`, `header` or `encoding` on the table",
        ) from exc
    assert row is not None
    delim, quote, escape, newline, comment, skip, header, columns, dates, stamps = row
    quote, escape = _unempty(quote), _unempty(escape)
    if not quote and "quote" not in user:
        # ragged lines make the sniffer give up on quotes; read without them, an unterminated
        # quote would load as data instead of being rejected
        quote, escape = '"', escape or '"'
    options = dict(user)
    options.update(
        delim=literal(delim),
        quote=literal(quote),
        escape=literal(escape),
        new_line=literal(newline),
        comment=literal(_unempty(comment)),
        skip=str(int(skip)),
        header="true" if header else "false",
    )
    if dates:
        options["dateformat"] = literal(dates)
    if stamps:
        options["timestampformat"] = literal(stamps)
    pairs = [(str(c["name"]), str(c["type"])) for c in columns]
    dialect = Dialect(
        delim,
        quote,
        escape,
        _unempty(comment),
        int(skip),
        bool(header),
        options["encoding"],
    )
    return Layout(tuple(sorted(options.items())), tuple(n for n, _ in pairs), dialect), pairs


def _select(layout: Layout, files: list[FileEntry], union: dict[str, str], first: int = 0) -> str:
    listing = "[" + ", ".join(literal(f.location) for f in files) + "]"
    declared = ", ".join(f"{literal(n)}: {literal(union[n])}" for n in layout.names)
    args = "".join(f", {key} = {value}" for key, value in layout.options)
    present = set(layout.names)
    projection = ", ".join(
        ident(name) if name in present else f"NULL::{t} AS {ident(name)}"
        for name, t in union.items()
    )
    number = numbering(first, [f.location for f in files], list(union))
    return (
        f"SELECT {projection}, {number.item} FROM read_csv({listing}{args}, "
        f"columns = {{{declared}}}, auto_detect = false, store_rejects = true{number.option})"
    )


def _rejects(
    where: Sequence[tuple[FileEntry, Layout]],
) -> Callable[[duckdb.DuckDBPyConnection, Mapping[int, int]], list[Reject]]:
    files = {entry.location: (i, entry, layout) for i, (entry, layout) in enumerate(where)}

    def collect(con: duckdb.DuckDBPyConnection, read: Mapping[int, int]) -> list[Reject]:
        rows = con.execute(
            "SELECT s.file_path, e.line, e.column_name, e.error_type::VARCHAR, e.error_message, "
            "e.csv_line FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
            "ORDER BY s.file_path, e.line, e.column_idx"
        ).fetchall()
        rejects: list[Reject] = []
        for location, found in groupby(rows, key=lambda r: r[0]):
            errors = list(found)
            path, real = location, {}
            if location in files:
                number, entry, layout = files[location]
                path = entry.path
                # a file that does not decode cannot be read as lines: DuckDB's numbers stay
                if all(r[3] != "INVALID ENCODING" for r in errors):
                    rejected = {int(r[1]) for r in errors}
                    real = _reject_lines(con, entry, layout.dialect, read.get(number, 0), rejected)
            # a line can have several errors (too many columns and a value that does not
            # cast): it is still one rejected line
            rejects.extend(
                _one_reject(path, real.get(line, line), list(same))
                for line, same in groupby(errors, key=lambda r: r[1])
            )
        return rejects

    return collect


def _reject_lines(
    con: duckdb.DuckDBPyConnection,
    entry: FileEntry,
    dialect: Dialect,
    read: int,
    rejected: set[int],
) -> dict[int, int]:
    """DuckDB's line of each of ``rejected`` → the file's, where they differ.

    DuckDB leaves out the line breaks inside quoted values, so after such a value its line
    numbers fall short; the lines are counted (one more read of a file that has rejects) and
    walked (once more) only when a quoted value spans lines."""
    try:
        if not _spans_lines(con, entry, dialect, read, rejected)[1]:
            return {}
        return _walk(_texts(con, entry, dialect), dialect, rejected, (), lines=rejected)[1]
    except duckdb.InvalidInputException:
        return {}  # a line does not decode: the file cannot be read as lines


def _one_reject(path: str, line: int, errors: list[tuple[Any, ...]]) -> Reject:
    columns = list(dict.fromkeys(column for _, _, column, _, _, _ in errors if column))
    return Reject(
        reason="; ".join(_reason(kind, message) for _, _, _, kind, message, _ in errors),
        record=errors[0][5] or "",
        location=f"{path}:{line}",
        column=", ".join(columns) or None,
    )


def _reason(kind: str, message: str) -> str:
    reason = f"{kind.lower()}: {message}"
    if kind == "UNQUOTED VALUE":
        reason += (
            " The quote is not closed: the lines after it, to the end of the file, are read"
            " as part of this value and kept here; close the quote or set `quote:` on the table."
        )
    if kind == "INVALID ENCODING":
        reason += " Set `encoding:` on the table (utf-8, utf-16 or latin-1) to read this file."
    return reason


def _unempty(value: str) -> str:
    """DuckDB's sniffer says ``(empty)`` for no quote/escape/comment character."""
    return "" if value == "(empty)" else value


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].removeprefix("Invalid Input Error: ")


def row_lines(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    entry: FileEntry,
    layout: Layout,
    union: dict[str, str],
    rows: Sequence[int],
) -> list[int]:
    """The line (from 1) where each of ``rows`` (positions among the rows read from the file,
    from 0) starts, as a text editor shows it.

    Asked only for rows the load refuses, so it may read the file again: once as the scan
    did, for the lines DuckDB rejected, and once as plain lines, for the lines that are no row
    (header, skipped, blank, comment). A row is then the n-th line that is none of these —
    unless a quoted value spans lines, which the counts reveal; then the lines are parsed with
    :mod:`csv` in the file's dialect, as far as the last row asked for.
    """
    con = connect()
    try:
        read, rejected = _read_again(con, entry, layout, union)
        skipped, spans = _spans_lines(con, entry, layout.dialect, read, rejected)
        counted = nth_kept(skipped, rows)
        if not spans:
            return counted
        found = _walk(_texts(con, entry, layout.dialect), layout.dialect, rejected, rows)[0]
    finally:
        con.close()
    return [found.get(row, line) for row, line in zip(rows, counted, strict=True)]


def _spans_lines(
    con: duckdb.DuckDBPyConnection,
    entry: FileEntry,
    dialect: Dialect,
    read: int,
    rejected: set[int],
) -> tuple[list[int], bool]:
    """The lines that hold no row read (sorted), and whether the lines must be walked: a
    quoted value spans lines when the file has more lines than rows read and lines skipped
    (``read`` rows, DuckDB's ``rejected`` lines). :mod:`csv` walks one-character delimiters
    only."""
    total, unread = _plain_lines(con, entry, dialect)
    skipped = sorted(set(unread) | rejected)
    return skipped, total - len(skipped) != read and len(dialect.delimiter) == 1


def _read_again(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, layout: Layout, union: dict[str, str]
) -> tuple[int, set[int]]:
    """How many rows the scan's read of ``entry`` gives, and DuckDB's lines of its rejects."""
    reader = con.execute(_select(layout, [entry], union)).to_arrow_reader(100_000)
    count = sum(batch.num_rows for batch in reader)
    lines = con.execute("SELECT DISTINCT line FROM reject_errors").fetchall()
    return count, {int(line) for (line,) in lines}


def _lines_sql(entry: FileEntry, dialect: Dialect) -> str:
    # \x01 as the delimiter and no quote: one column holding each line as it is
    return (
        f"SELECT line FROM read_csv({literal(entry.location)}, columns = {{'line': 'VARCHAR'}}, "
        "header = false, delim = '\x01', quote = '', escape = '', auto_detect = false, "
        f"encoding = {dialect.encoding_sql}, max_line_size = {MAX_LINE_BYTES})"
    )


def _plain_lines(
    con: duckdb.DuckDBPyConnection, entry: FileEntry, dialect: Dialect
) -> tuple[int, list[int]]:
    """The number of lines of the file, and those that hold no row."""
    first = dialect.skip + (1 if dialect.header else 0)
    unrow = "line IS NULL"
    if dialect.comment:
        unrow += f" OR starts_with(ltrim(line), {literal(dialect.comment)})"
    total = 0
    unread = list(range(1, first + 1))
    sql = f"SELECT {unrow} FROM ({_lines_sql(entry, dialect)})"
    for batch in con.execute(sql).to_arrow_reader(200_000):
        flags = batch.column(0).fill_null(False)
        if flags.true_count:
            unread.extend(
                total + i + 1
                for i in pc.indices_nonzero(flags).to_pylist()
                if total + i + 1 > first
            )
        total += batch.num_rows
    return total, unread


def _texts(con: duckdb.DuckDBPyConnection, entry: FileEntry, dialect: Dialect) -> Iterator[str]:
    for batch in con.execute(_lines_sql(entry, dialect)).to_arrow_reader(10_000):
        for line in batch.column(0).to_pylist():
            yield (line or "") + "\n"


def _walk(
    texts: Iterator[str],
    dialect: Dialect,
    rejected: set[int],
    rows: Sequence[int],
    lines: Collection[int] = (),
) -> tuple[dict[int, int], dict[int, int]]:
    """Row position → first line, and DuckDB's line → the file's for ``lines``, by parsing the
    lines in the file's dialect.

    DuckDB numbers a line without the line breaks inside the quoted values before it; its
    rejected lines are matched on that number, the rows found on their real one."""
    quote = dialect.quote or None
    reader = csv.reader(
        texts,
        delimiter=dialect.delimiter,
        quotechar=quote,
        escapechar=None if dialect.escape in ("", dialect.quote) else dialect.escape,
        doublequote=dialect.escape == dialect.quote,
        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
        strict=False,
    )
    first = dialect.skip + (1 if dialect.header else 0)
    wanted, last = set(rows), max(rows, default=-1)
    asked, last_line = set(lines), max(lines, default=0)
    found: dict[int, int] = {}
    real: dict[int, int] = {}
    inside = 0  # line breaks inside quoted values so far
    end, row = 0, 0
    for record in reader:
        start, end = end + 1, reader.line_num
        duckdb_line = start - inside
        inside += end - start
        if duckdb_line in asked:
            real[duckdb_line] = start
        if row > last and duckdb_line >= last_line:
            break
        if start <= first or not record or duckdb_line in rejected:
            continue
        if dialect.comment and record[0].lstrip().startswith(dialect.comment):
            continue
        if row in wanted:
            found[row] = start
        row += 1
    return found, real
