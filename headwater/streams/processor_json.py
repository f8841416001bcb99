"""A micro-batch of JSON records as an Arrow table, parsed in one vectorised pass (pyarrow's
JSON reader), so that DuckDB can run a processor's SQL and its routes over it.

Row ``i`` of the table is record ``i`` of the batch; the column :data:`ROW` says so, and
follows each row through a processor's SQL. A batch that does not parse as a whole (a record
that is not a JSON object, a field whose type changes) raises, and
:func:`~headwater.streams.processor_batch.isolating` narrows it down.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.json as pa_json

ROW = "__headwater_row"  # the batch index of the record a row came from


class NotAnObject(ValueError):
    """A record that is not a JSON object, so it has no fields to select."""


def json_table(datas: Sequence[bytes]) -> pa.Table:
    """The records (JSON objects, one each) as a table with their fields as columns, plus
    :data:`ROW`."""
    lines = [_one_line(data) for data in datas]
    if len(lines) == 1 and not lines[0].lstrip().startswith(b"{"):
        raise NotAnObject(f"the record is not a JSON object: {lines[0][:80]!r}")
    if not lines:
        table = pa.table({})
    else:
        table = pa_json.read_json(
            io.BytesIO(b"\n".join(lines)),
            read_options=pa_json.ReadOptions(block_size=max(1 << 20, sum(map(len, lines)) + 1)),
        )
    if table.num_rows != len(datas):
        raise NotAnObject(f"{len(datas)} records gave {table.num_rows} rows")
    return table.append_column(ROW, pa.array(range(len(datas)), pa.int64()))


def _one_line(data: bytes) -> bytes:
    """The record on one line: JSON Lines cannot hold a record written over several."""
    if b"\n" in data or b"\r" in data:
        return json.dumps(json.loads(data), separators=(",", ":")).encode()
    return data
