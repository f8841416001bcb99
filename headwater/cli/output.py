"""Writing query results as a table, CSV, JSON (an array of row objects) or Parquet."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.table import Table

from headwater.errors import HeadwaterError

if TYPE_CHECKING:  # Arrow is imported when a result is written, not when the CLI starts
    import pyarrow as pa

Format = Literal["table", "csv", "json", "parquet"]


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(table: pa.Table) -> str:
    return json.dumps(table.to_pylist(), default=_json_value, ensure_ascii=False, indent=2)


def to_csv(table: pa.Table) -> bytes:
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    return buffer.getvalue()


def render_table(table: pa.Table, console: Console, max_rows: int) -> None:
    import pyarrow as pa

    view = Table(show_lines=False, header_style="bold")
    for field in table.schema:
        numeric = (
            pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_decimal(field.type)
        )
        view.add_column(field.name, justify="right" if numeric else "left")
    for row in table.slice(0, max_rows).to_pylist():
        view.add_row(*("" if v is None else _cell(v) for v in row.values()))
    console.print(view)
    shown = min(max_rows, table.num_rows)
    note = f"{table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    if shown < table.num_rows:
        note += f", first {shown} shown (use --format csv or --output for all)"
    console.print(f"[dim]{note}[/dim]")


def _cell(value: Any) -> str:
    if isinstance(value, decimal.Decimal):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    return str(value)


def write_result(
    table: pa.Table, fmt: Format, output: Path | None, console: Console, max_rows: int
) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (a file) or to the terminal."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        if output is None:
            raise HeadwaterError(
                "--format parquet needs --output FILE", hint="e.g. --output result.parquet"
            )
        pq.write_table(table, output)
    elif fmt == "csv":
        data = to_csv(table)
        if output:
            output.write_bytes(data)
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
    elif fmt == "json":
        text = to_json(table)
        if output:
            output.write_text(text + "\n", encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")
    elif output:
        output.write_bytes(to_csv(table))
    else:
        render_table(table, console, max_rows)
    if output:
        console.print(f"[dim]wrote {table.num_rows} rows to {output}[/dim]", highlight=False)
