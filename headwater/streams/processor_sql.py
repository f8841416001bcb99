"""A processor's SQL transform: a ``SELECT … FROM records`` that DuckDB runs over each
micro-batch, with the routes and the output keys computed in the same query.

The statement works record by record (it may drop records with ``WHERE`` or make several rows
of one with ``UNNEST``): each output row must say which input record it came from, so that a
replay after a crash gives it the same de-duplication id. The statement is therefore parsed
(sqlglot) and the batch-row column added to its select list when ``*`` does not bring it
already; aggregates, ``GROUP BY``, ``DISTINCT``, window functions and ``LIMIT`` are refused,
since they would mix records of a micro-batch whose bounds are arbitrary (aggregate in a model
or over a delivered table instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from headwater.errors import ProjectError
from headwater.streams.processor_batch import Applied, Output
from headwater.streams.processor_json import ROW, json_table
from headwater.streams.processor_routes import Routes, quote_identifier
from headwater.streams.records import Record

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

RECORDS = "records"  # the table a processor's SQL selects from


def follow_rows(sql: str, where: str) -> str:
    """``sql`` with the batch-row column in its output (see the module docstring)."""
    import sqlglot
    from sqlglot import exp

    def refused(why: str) -> ProjectError:
        return ProjectError(
            f"{where}: {why}",
            hint="a processor's SQL is one `SELECT … FROM records` working record by record; "
            "aggregate in a model or over the delivered table instead",
        )

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise refused(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if not isinstance(tree, exp.Select):
        raise refused("the SQL is not one SELECT statement")
    for clause in ("group", "having", "distinct", "limit", "offset", "qualify"):
        if tree.args.get(clause):
            raise refused(f"{clause.upper()} mixes the records of a micro-batch")
    for node in (*tree.find_all(exp.AggFunc), *tree.find_all(exp.Window)):
        if node.find_ancestor(exp.Select) is tree and not node.find_ancestor(exp.Lambda):
            raise refused(f"`{node.sql('duckdb')}` mixes the records of a micro-batch")
    source = tree.args.get("from_") or tree.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or table.name != RECORDS or table.args.get("db"):
        raise refused("the SQL must select FROM records (the micro-batch)")
    if any(isinstance(e, exp.Star) or e.find(exp.Star) for e in tree.expressions):
        return sql  # `*` (or `records.*`) brings the row column along
    tree.select(exp.column(ROW, table=table.alias_or_name, quoted=True), copy=False)
    return tree.sql(dialect="duckdb")


class SqlTransform:
    """Runs a processor's SQL and routes over micro-batches (one DuckDB connection)."""

    def __init__(self, sql: str, routes: Routes, partition_key: str | None, where: str) -> None:
        import duckdb

        self.sql = follow_rows(sql, where)
        self.routes = routes
        self.partition_key = partition_key
        self.where = where
        # one thread: micro-batches are small, and a worker is one core (more workers scale)
        self.db: duckdb.DuckDBPyConnection = duckdb.connect(config={"threads": 1})
        self._queries: dict[pa.Schema, str] = {}

    def _query(self, schema: pa.Schema) -> str:
        """The whole query for batches of this schema (the key column may be missing)."""
        query = self._queries.get(schema)
        if query is None:
            columns = self.db.sql(self.sql).columns
            if ROW not in columns:
                raise ProjectError(
                    f"{self.where}: the SQL's output does not say which record each row came from",
                    hint="select `*` or name the columns directly in the outer SELECT FROM records",
                )
            key = (
                f"CAST({quote_identifier(self.partition_key)} AS VARCHAR)"
                if self.partition_key in columns
                else "NULL::VARCHAR"
            )
            row = quote_identifier(ROW)
            # the output's own columns as one JSON object (a struct: cheaper than dropping
            # the row column from to_json of the whole row)
            fields = ", ".join(f"{_string(c)}: {quote_identifier(c)}" for c in columns if c != ROW)
            query = self._queries[schema] = (
                f"WITH __headwater_out AS ({self.sql}) SELECT {row}, "
                f"{self.routes.case()} AS __headwater_route, {key} AS __headwater_key, "
                f"to_json({{{fields}}}) AS __headwater_json FROM __headwater_out"
            )
        return query

    def apply(self, records: Sequence[Record]) -> Applied:
        table = json_table([r.data for r in records])
        self.db.register(RECORDS, table)
        try:
            result = self.db.execute(self._query(table.schema)).to_arrow_table()
        finally:
            self.db.unregister(RECORDS)
        rows, routes, keys, datas = (result.column(i).to_pylist() for i in range(4))
        return Applied(
            [
                Output(row, route, data.encode(), key)
                for row, route, key, data in zip(rows, routes, keys, datas, strict=True)
            ]
        )

    def close(self) -> None:
        self.db.close()


def _string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
