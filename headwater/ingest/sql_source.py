"""A SQL table or query as a resource: filtered by the cursor, split into ranges if asked."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, reader_for
from headwater.errors import SourceError
from headwater.ingest.extraction import Extraction, ReadContext
from headwater.project.config import SourceTable, SqlSource
from headwater.retry import retryable


@dataclass
class SqlResource:
    """One entry of a SQL source's ``tables``."""

    db: SqlDatabase
    source: SqlSource
    entry: SourceTable

    @property
    def name(self) -> str:
        return self.entry.name

    @cached_property
    def reader(self) -> str:
        """The source's reader; ``auto`` is chosen once per load (by size on PostgreSQL)."""
        return reader_for(self.db, self.request(), self.source.reader)

    def request(self, where: str | None = None) -> ReadRequest:
        return ReadRequest(
            table=None if self.entry.query else self.entry.source_table,
            query=self.entry.query,
            schema=self.entry.schema_,
            batch_rows=self.source.batch_rows,
            where=where,
        )

    def read(self, context: ReadContext) -> Extraction:
        if self.reader != "connectorx":
            self.db.check()  # ConnectorX connects itself; a failure is explained below
        reader = READERS[self.reader]  # type: ignore[index]
        cursor = None
        if context.cursor_column and context.cursor_start is not None:
            cursor = (
                f"{self.db.quote(context.cursor_column)} >= {sql_literal(context.cursor_start)}"
            )
        ranges = self.ranges(cursor) if self.entry.partition else [None]
        wheres = [" AND ".join(c for c in (cursor, r) if c) or None for r in ranges]
        try:
            readers = [reader(self.db, self.request(w)) for w in wheres]
        except SourceError:
            self.db.check()  # an unreachable server or a refused login says so clearly
            raise
        return Extraction(readers=readers, complete=cursor is None)

    def ranges(self, base: str | None) -> list[str | None]:
        """Conditions splitting the rows into ``partition.count`` ranges of the column."""
        assert self.entry.partition is not None
        column, count = self.entry.partition.column, self.entry.partition.count
        if count == 1:
            return [None]
        col = self.db.quote(column)
        low, high = self._bounds(col, base)
        if low is None or high is None or count == 1:
            return [None]
        cuts = _cuts(low, high, count)
        if not cuts:  # one value (or too few to split): one range
            return [None]
        out: list[str | None] = []
        for i in range(len(cuts) + 1):
            parts = []
            if i > 0:
                parts.append(f"{col} >= {sql_literal(cuts[i - 1])}")
            if i < len(cuts):
                parts.append(f"{col} < {sql_literal(cuts[i])}")
            text = " AND ".join(parts)
            out.append(f"({text} OR {col} IS NULL)" if i == 0 else text)
        return out

    def _bounds(self, col: str, base: str | None) -> tuple[Any, Any]:
        request = self.request()
        body = (
            f"({request.query}) AS q"
            if request.query
            else self.db.qualified(self.entry.source_table, self.entry.schema_)
        )
        sql = f"SELECT min({col}), max({col}) FROM {body}" + (f" WHERE {base}" if base else "")
        try:
            with self.db.engine.connect() as conn:
                row = conn.execute(sa.text(sql)).one()
        except sa.exc.DBAPIError as exc:
            if retryable(exc):
                raise self.db.read_error(request.describe(), exc, None) from exc
            raise SourceError(
                f"connection `{self.db.name}`: cannot split {request.describe()} on "
                f"`{self.entry.partition.column if self.entry.partition else ''}`: {exc.orig}",
                hint="partition on a numeric or date column of the table",
            ) from exc
        return row[0], row[1]

    def max_cursor(self, column: str) -> Any:
        """The source's current maximum of ``column`` (to notice a cursor going backwards)."""
        request = self.request()
        body = (
            f"({request.query}) AS q"
            if request.query
            else self.db.qualified(self.entry.source_table, self.entry.schema_)
        )
        try:
            with self.db.engine.connect() as conn:
                return conn.execute(
                    sa.text(f"SELECT max({self.db.quote(column)}) FROM {body}")
                ).scalar()
        except sa.exc.DBAPIError as exc:
            raise self.db.read_error(
                f"the maximum of `{column}` in {request.describe()}", exc, None
            ) from exc


def _cuts(low: Any, high: Any, count: int) -> list[Any]:
    """``count - 1`` values splitting [low, high] into ranges of equal width."""
    if isinstance(low, datetime) and isinstance(high, datetime):
        step = (high - low) / count
        return [low + step * i for i in range(1, count)]
    if isinstance(low, date) and isinstance(high, date):
        days = (high - low).days
        return sorted({low + timedelta(days=math.ceil(days * i / count)) for i in range(1, count)})
    if isinstance(low, int | Decimal) and isinstance(high, int | Decimal):
        width = math.ceil((int(high) - int(low) + 1) / count)
        return [int(low) + width * i for i in range(1, count) if int(low) + width * i <= int(high)]
    if isinstance(low, float) and isinstance(high, float):
        return [low + (high - low) * i / count for i in range(1, count)]
    raise SourceError(
        f"cannot split a column of values like {low!r} into ranges",
        hint="partition on a numeric, date or timestamp column",
    )


def sql_literal(value: Any) -> str:
    """A cursor or range value as a literal both MySQL and PostgreSQL compare correctly."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # compared as UTC: MySQL literals take no offset
            value = value.astimezone(UTC).replace(tzinfo=None)
        text = value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return "'" + text.replace("'", "''") + "'"
