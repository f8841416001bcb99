"""Records' JSON data into an Arrow table: all of a buffer at once, and record by record only
when that fails, so that a malformed or ill-typed record goes to the errors alone.

The fast path joins the records' data as JSON Lines and hands them to pyarrow's JSON reader
(C++, vectorised); the slow path finds the records that do not parse (``json``), that are not
objects, or that do not fit the schema (pyarrow again, one record at a time).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from headwater.streams.delivery_buffer import Buffered
from headwater.streams.records import MAX_RECORD_BYTES, Record

# pyarrow parses a block at a time and refuses a record straddling two: a block holds the
# largest record the log takes, with room to spare
BLOCK_BYTES = max(8 << 20, 2 * MAX_RECORD_BYTES)

# what the reader does with a field the explicit schema lacks (the table's contract decides)
Unexpected = Literal["infer", "error", "ignore"]


@dataclass(frozen=True, slots=True)
class Failed:
    """A record that could not be delivered, and why (``kind`` is the error type)."""

    record: Record
    kind: str  # MalformedJSON, NotAnObject, SchemaMismatch, PartitionKeyMissing, …
    message: str


def parse(
    records: Sequence[Record], schema: pa.Schema | None, unexpected: Unexpected = "infer"
) -> tuple[pa.Table, Sequence[Record], list[Failed]]:
    """The records as rows of one table (in the order of the records kept), the records kept
    (``records`` itself when every one parsed), and the records that failed."""
    if not records:
        return pa.table({}), [], []
    blob: bytes | pa.Buffer
    if isinstance(records, Buffered):
        blob, breaks = records.lines(), len(records)  # each record after a line break
    else:
        blob, breaks = b"\n".join(r.data for r in records), len(records) - 1
    if _breaks(blob) == breaks:  # no record holds a line break of its own
        try:
            table = _read(blob, schema, unexpected)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        else:
            if table.num_rows == len(records):  # a blank record would have been skipped
                return table, records, []
    del blob
    return _one_by_one(records, schema, unexpected)


def _breaks(blob: bytes | pa.Buffer) -> int:
    """The line breaks in ``blob``, counted where it is (a buffer is not copied)."""
    if isinstance(blob, bytes):
        return blob.count(b"\n")
    octets = pa.Array.from_buffers(pa.uint8(), blob.size, [None, blob])
    return int(pc.equal(octets, pa.scalar(ord("\n"), pa.uint8())).true_count)


def _read(blob: bytes | pa.Buffer, schema: pa.Schema | None, unexpected: Unexpected) -> pa.Table:
    options = pajson.ParseOptions(
        explicit_schema=schema,
        unexpected_field_behavior=unexpected if schema is not None else "infer",
    )
    return pajson.read_json(
        pa.BufferReader(pa.py_buffer(blob)),  # the reader reads the buffer, never a copy
        read_options=pajson.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
        parse_options=options,
    )


def _one_by_one(
    records: Sequence[Record], schema: pa.Schema | None, unexpected: Unexpected
) -> tuple[pa.Table, Sequence[Record], list[Failed]]:
    failed: list[Failed] = []
    good: list[tuple[Record, bytes]] = []
    for record in records:
        try:
            value = json.loads(record.data)
        except (ValueError, UnicodeDecodeError) as exc:
            failed.append(Failed(record, "MalformedJSON", f"not JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            what = type(value).__name__ if value is not None else "null"
            failed.append(Failed(record, "NotAnObject", f"a JSON {what}, not an object"))
            continue
        line = record.data if b"\n" not in record.data else json.dumps(value).encode()
        good.append((record, line))
    if not good:
        return pa.table({}), [], failed
    try:
        table = _read(b"\n".join(line for _, line in good), schema, unexpected)
        if table.num_rows == len(good):
            return table, [r for r, _ in good], failed
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    # some records do not fit the schema, or each other: keep those that do, in order
    tables: list[pa.Table] = []
    kept: list[Record] = []
    unified = schema
    for record, line in good:
        try:
            one = _read(line, schema, unexpected)
            unified = (
                one.schema
                if unified is None
                else pa.unify_schemas([unified, one.schema], promote_options="permissive")
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            failed.append(Failed(record, "SchemaMismatch", _first_line(str(exc))))
            continue
        tables.append(one)
        kept.append(record)
    if not tables:
        return pa.table({}), [], failed
    return pa.concat_tables(tables, promote_options="permissive"), kept, failed


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
