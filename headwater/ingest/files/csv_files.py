"""CSV and TSV files: sniffed one by one, read in groups of one layout, bad rows as rejects.

DuckDB's rejects tables (``store_rejects``) give each bad row's file, line, column, error and
raw text, but they cannot be combined with ``union_by_name``. So each file is sniffed (a few
ms), files of the same layout are read together by one ``read_csv`` with explicit columns,
and every group is cast to the union of all columns by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import duckdb
import pyarrow as pa

from headwater.connect.sql.duckdb_types import common_type
from headwater.connect.sql.quoting import ident, literal
from headwater.connect.storage import FileEntry
from headwater.errors import SourceError
from headwater.ingest.extraction import Reject
from headwater.ingest.files.scan import FILE, Scan
from headwater.ingest.files.table_types import read_types
from headwater.project.files import FileTable


@dataclass(frozen=True)
class Layout:
    """How a group of files is parsed: dialect and column names (types are unified later)."""

    options: tuple[tuple[str, str], ...]  # read_csv option → SQL value
    names: tuple[str, ...]


def scan(
    con: duckdb.DuckDBPyConnection,
    entries: list[FileEntry],
    table: FileTable,
    kind: str,
    table_schema: pa.Schema | None = None,
) -> Scan:
    user = _user_options(table, kind)
    groups: dict[Layout, list[FileEntry]] = {}
    types: dict[str, list[str]] = {}
    for entry in entries:
        layout, columns = _sniff(con, entry, user)
        if table.columns:  # the sniffer gives the dialect; the user gives names and types
            columns = list(table.columns.items())
            layout = Layout(layout.options, tuple(table.columns))
        groups.setdefault(layout, []).append(entry)
        for name, t in columns:
            types.setdefault(name, []).append(t)
    union = {name: common_type(con, found) for name, found in types.items()}
    union = read_types(con, union, table_schema)
    queries = [_select(layout, files, union) for layout, files in groups.items()]
    return Scan(queries, {e.location: e.path for e in entries}, _rejects(entries))


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
    return Layout(tuple(sorted(options.items())), tuple(n for n, _ in pairs)), pairs


def _select(layout: Layout, files: list[FileEntry], union: dict[str, str]) -> str:
    listing = "[" + ", ".join(literal(f.location) for f in files) + "]"
    declared = ", ".join(f"{literal(n)}: {literal(union[n])}" for n in layout.names)
    args = "".join(f", {key} = {value}" for key, value in layout.options)
    present = set(layout.names)
    projection = ", ".join(
        ident(name) if name in present else f"NULL::{t} AS {ident(name)}"
        for name, t in union.items()
    )
    return (
        f"SELECT {projection}, {ident(FILE)} FROM read_csv({listing}{args}, "
        f"columns = {{{declared}}}, auto_detect = false, store_rejects = true, "
        f"filename = {literal(FILE)})"
    )


def _rejects(entries: Iterable[FileEntry]) -> Any:
    paths = {e.location: e.path for e in entries}

    def collect(con: duckdb.DuckDBPyConnection) -> list[Reject]:
        rows = con.execute(
            "SELECT s.file_path, e.line, e.column_name, e.error_type::VARCHAR, e.error_message, "
            "e.csv_line FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id) "
            "ORDER BY s.file_path, e.line, e.column_idx"
        ).fetchall()
        # a line can have several errors (too many columns and a value that does not cast):
        # it is still one rejected line
        return [
            _one_reject(paths.get(file, file), line, list(errors))
            for (file, line), errors in groupby(rows, key=lambda r: (r[0], r[1]))
        ]

    return collect


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
