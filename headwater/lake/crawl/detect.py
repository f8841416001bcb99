"""Tell a file's format by its first bytes, not its name: Parquet magic, JSON, CSV dialect.

A gzip or zstd file is looked into through pyarrow's decompressing stream. Only the head is
read (``HEAD_BYTES``), so detection costs one small read per file on any storage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa

# Enough for a header and a few records; types are sampled later by DuckDB.
HEAD_BYTES = 64 << 10

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"

# Delimiters tried, most common first: the one splitting every sampled line the same way wins.
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_LINES = 20


class NotData(Exception):
    """The file is not one of the formats the crawler reads; the message says why."""


@dataclass(frozen=True)
class Detected:
    """What a file's head says about it."""

    format: str  # csv | tsv | json | jsonl | parquet
    compression: str | None = None  # gzip | zstd (files DuckDB must decompress)
    delimiter: str | None = None  # csv/tsv
    header: str | None = None  # csv/tsv: the first line, which tells layouts apart
    keys: tuple[str, ...] | None = None  # jsonl: the first record's keys, in order


def detect(stream: BinaryIO, name: str) -> Detected:
    """Detect the format of the file ``name`` from its opened ``stream``."""
    data = stream.read(HEAD_BYTES)  # one read: on S3 one ranged request
    if data[: len(PARQUET_MAGIC)] == PARQUET_MAGIC:
        return Detected("parquet")
    compression = (
        "gzip" if data.startswith(GZIP_MAGIC) else "zstd" if data.startswith(ZSTD_MAGIC) else None
    )
    complete = len(data) < HEAD_BYTES
    if compression is not None:
        data = _decompressed_head(data, stream, compression)
        complete = len(data) < HEAD_BYTES
    if not data.strip():
        raise NotData("the file is empty")
    if b"\x00" in data:
        raise NotData("binary content that is not Parquet, CSV, TSV or JSON")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4:  # not just a character cut at the end of the head
            raise NotData(f"not UTF-8 text (byte {exc.start})") from None
        text = data[: exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    found = _json(text)
    if found is not None:
        return Detected(found[0], compression, keys=found[1])
    return _delimited(text, name, compression, complete)


def _decompressed_head(first: bytes, stream: BinaryIO, compression: str) -> bytes:
    raw = pa.PythonFile(_Prepended(first, stream), mode="r")
    try:
        with pa.CompressedInputStream(raw, compression) as unpacked:
            return bytes(unpacked.read(HEAD_BYTES))
    except (OSError, pa.ArrowException) as exc:
        raise NotData(f"{compression} data that does not decompress: {exc}") from None


def _json(text: str) -> tuple[str, tuple[str, ...] | None] | None:
    """("jsonl", keys) or ("json", None) when the text starts like JSON; None otherwise."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json", None
    if not stripped.startswith("{"):
        return None
    first, _, more = stripped.partition("\n")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return "json", None  # one object spread over lines: a JSON document
    if not isinstance(record, dict):
        return "json", None
    if more.strip() and not more.lstrip().startswith("{"):
        raise NotData("starts like JSON Lines, but its second line is not a JSON object")
    return "jsonl", tuple(record)


def _delimited(text: str, name: str, compression: str | None, complete: bool) -> Detected:
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the head may end inside a line
    lines = [line for line in lines if line.strip()][:SAMPLE_LINES]
    for delimiter in DELIMITERS:
        counts = {_fields(line, delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            kind = "tsv" if delimiter == "\t" else "csv"
            return Detected(kind, compression, delimiter=delimiter, header=lines[0])
    if name.lower().removesuffix(".gz").removesuffix(".zst").endswith((".csv", ".tsv", ".txt")):
        return Detected("csv", compression, delimiter=",", header=lines[0])  # one column
    raise NotData("text without a delimiter that splits its lines evenly (not CSV or TSV)")


def _fields(line: str, delimiter: str) -> int:
    """Fields in one line, ignoring delimiters inside double quotes."""
    count, quoted = 1, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            count += 1
    return count


class _Prepended:
    """A read-only stream that gives ``first`` before the rest of ``stream``."""

    def __init__(self, first: bytes, stream: BinaryIO) -> None:
        self._first = first
        self._stream = stream
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        if not self._first:
            return self._stream.read(size)
        if size < 0:
            out, self._first = self._first + self._stream.read(), b""
            return out
        out, self._first = self._first[:size], self._first[size:]
        if len(out) < size:
            out += self._stream.read(size - len(out))
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
