"""Writing query results as a table, CSV, JSON (an array of row objects) or Parquet.

Results are written batch by batch as they stream from the engine: memory holds one batch
(and, for the terminal table, the rows shown), whatever the result's size.
"""

from __future__ import annotations

import decimal
import json
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from headwater.errors import HeadwaterError
from headwater.json_values import finite, json_value

if TYPE_CHECKING:  # Arrow is imported when a result is written, not when the CLI starts
    import pyarrow as pa

Format = Literal["table", "csv", "json", "parquet"]


def render_table(
    table: pa.Table, console: Console, max_rows: int, total: int | None = None
) -> None:
    """Show the first ``max_rows`` rows of ``table``; ``total``: the result's row count, when
    ``table`` holds only the rows to show."""
    import pyarrow as pa

    view = Table(show_lines=False, header_style="bold")
    for field in table.schema:
        numeric = (
            pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_decimal(field.type)
        )
        view.add_column(Text(field.name), justify="right" if numeric else "left")
    for row in table.slice(0, max_rows).to_pylist():
        view.add_row(*(cell(v) for v in row.values()))
    console.print(view)
    total = table.num_rows if total is None else total
    shown = min(max_rows, total)
    note = f"{total} row{'s' if total != 1 else ''}"
    if shown < total:
        note += f", first {shown} shown (use --format csv or --output for all)"
    console.print(f"[dim]{note}[/dim]")


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless n is 1: "1 task", "2 tasks", "1,204 rows"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def cell(value: Any) -> Text:
    """A value as the terminal shows it: exactly as stored (never read as Rich markup or
    emoji codes), numbers in full with thousands separators, bytes as hex."""
    return Text(cell_text(value))


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, decimal.Decimal | float) and not isinstance(value, bool):
        # ',' alone keeps every digit: a Decimal as stored, a float as its shortest repr
        return f"{value:,}"
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    return str(value)


def write_stream(
    reader: pa.RecordBatchReader,
    fmt: Format,
    output: Path | None,
    console: Console,
    max_rows: int,
) -> int:
    """Write the batches of ``reader`` in ``fmt`` to ``output`` (a file) or to the terminal as
    they arrive; returns the rows written. A file appears only once it is complete."""
    import pyarrow as pa

    if fmt == "parquet" and output is None:
        raise HeadwaterError(
            "--format parquet needs --output FILE", hint="e.g. --output result.parquet"
        )
    if output is None and fmt == "table":
        shown: list[pa.RecordBatch] = []
        total = 0
        for batch in reader:
            if total < max_rows:
                shown.append(batch.slice(0, max_rows - total))
            total += batch.num_rows
        render_table(pa.Table.from_batches(shown, reader.schema), console, max_rows, total)
        return total
    if output is None:
        rows = _write(reader, fmt, sys.stdout.buffer)
        sys.stdout.flush()
        return rows
    partial = output.with_name(f".{output.name}.partial")
    try:
        with open(partial, "wb") as sink:
            rows = _write(reader, "csv" if fmt == "table" else fmt, sink)
        os.replace(partial, output)
    except OSError as exc:  # a missing folder, a full disk, a directory in the way
        raise HeadwaterError(
            f"cannot write {output}: {exc.strerror or exc}",
            hint="check that its folder exists, is writable and has space",
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    console.print(f"[dim]wrote {rows} rows to {output}[/dim]", highlight=False)
    return rows


def _write(reader: pa.RecordBatchReader, fmt: Format, sink: IO[bytes]) -> int:
    """Stream ``reader`` into ``sink`` as CSV, JSON or Parquet; returns the rows."""
    rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(sink, reader.schema) as parquet:
            for batch in reader:
                parquet.write_batch(batch)
                rows += batch.num_rows
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        with pacsv.CSVWriter(sink, reader.schema) as csv:
            for batch in reader:
                csv.write_batch(batch)
                rows += batch.num_rows
    else:
        sink.write(b"[")
        for batch in reader:
            for row in batch.to_pylist():
                text = json.dumps(
                    finite(row), default=json_value, ensure_ascii=False, indent=2, allow_nan=False
                )
                # the layout json.dumps(rows, indent=2) gives, one row at a time
                sink.write(((",\n  " if rows else "\n  ") + text.replace("\n", "\n  ")).encode())
                rows += 1
        sink.write(b"\n]\n" if rows else b"]\n")
    return rows
