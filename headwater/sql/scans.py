"""Map what a statement reads: each table at its current snapshot, at a past one (time travel),
or as only the data files its filters can match (pruning).

A table read once, at its current snapshot, under a WHERE clause that prunes, gets a view of
just the files kept, for that statement. A table read as of the past gets a view of that
snapshot's files in a schema of its own (``"gold@<snapshot id>".t``) and the statement is
rewritten to read it there, so one statement can compare two versions of a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.errors import LakeError, QueryError, TableNotFound
from headwater.lake.arrow_types import storable_schema
from headwater.sql import pruning, statements, time_travel
from headwater.sql.references import parse_select

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from sqlglot import exp

    from headwater.sql.session import Session

# schemas DuckDB answers itself; never catalog tables
_SYSTEM = ("information_schema", "pg_catalog")


def prepare(session: Session, sql: str) -> str:
    """Map every catalog table ``sql`` reads into ``session``; returns the statement to run.

    Raises QueryError for anything but one read, for an unknown table (naming the closest
    ones) and for a time-travel clause no snapshot answers."""
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    prefix, body = statements.split_prefix(sql)
    body = time_travel.normalize(body)
    try:
        tree = parse_select(body)
    except (ParseError, TokenError):  # DuckDB's parser names what is wrong, below
        tree = None
    if tree is not None:
        statements.refuse(tree)
    if tree is None or isinstance(tree, exp.Command):
        # sqlglot cannot read it (DuckDB's own syntax, `SHOW ns.table`): DuckDB's parser
        # decides what it is and which tables it reads
        statements.require_read(session.con, sql)
        _map_as_duckdb_reads_it(session, sql)
        return sql
    rewritten = False
    for name, tables in _tables(tree).items():
        try:
            rewritten |= _map(session, name, tables)
        except TableNotFound as exc:  # its message names the closest tables
            raise QueryError(exc.message, hint=exc.hint) from None
    _qualify(session, tree)
    statement = prefix + (tree.sql(dialect="duckdb") if rewritten else body)
    statements.require_read(session.con, statement)
    return statement


def _map_as_duckdb_reads_it(session: Session, sql: str) -> None:
    """Map the catalog tables of a statement sqlglot cannot parse but DuckDB can (its own
    syntax): found by DuckDB's parser, else the statement would fail as if they were missing."""
    from headwater.sql import duckdb_tree

    _, body = statements.split_prefix(sql)
    tree = duckdb_tree.parse(session.con, body)
    for catalog, schema, table in duckdb_tree.tables(tree):
        # catalog tables are namespace.name: a CTE has no schema, DuckDB's own schemas and
        # other attached catalogs are not the lake's
        if catalog or not schema or schema.lower() in _SYSTEM:
            continue
        try:
            session.map_table(f"{schema}.{table}")
        except TableNotFound as exc:
            raise QueryError(exc.message, hint=exc.hint) from None


def _map(session: Session, name: str, tables: list[exp.Table]) -> bool:
    """Map ``name`` for its references ``tables``; True when the statement was rewritten."""
    clauses = [(t, time_travel.as_of(t)) for t in tables]
    current = [t for t, clause in clauses if clause is None]
    past = [(t, clause) for t, clause in clauses if clause is not None]
    if len(current) == 1 and not past and pruning.filtered(current[0]):
        table = _catalog_table(session, name)
        row_filter = None if table is None else pruning.row_filter(current[0], table.schema())
        if table is not None and row_filter is not None:
            snapshot = table.current_snapshot()
            files = _files(table, name, snapshot.snapshot_id if snapshot else None, row_filter)
            session.map_scan(name, files, _arrow(table.schema()), _evolved(table))
            return False
    if current:
        session.map_table(name)
    if not past:
        return False
    table = session.lake.table(name)
    namespace = name.split(".")[0]
    for index, (node, clause) in enumerate(past):
        snapshot = time_travel.snapshot_as_of(table, name, clause, session.con)
        columns = _schema_at(table, snapshot.schema_id)
        row_filter = pruning.row_filter(node, columns)
        # one view per snapshot; a filtered one is this reference's alone
        schema = f"{namespace}@{snapshot.snapshot_id}" + (f"#{index}" if row_filter else "")
        files = _files(table, name, snapshot.snapshot_id, row_filter)
        session.map_scan(name, files, _arrow(columns), _evolved(table), schema)
        time_travel.detach(node, schema)
    return True


def _catalog_table(session: Session, name: str) -> Table | None:
    """The Iceberg table ``name``, or None when it is not one (``map_table`` decides then)."""
    try:
        return session.lake.table(name)
    except TableNotFound:
        return None


def _files(
    table: Table, name: str, snapshot_id: int | None, row_filter: BooleanExpression | None
) -> list[str]:
    """The data files of a snapshot of ``table`` that rows matching ``row_filter`` can be in."""
    from pyiceberg.expressions import AlwaysTrue

    if snapshot_id is None:
        return []
    tasks = table.scan(row_filter=row_filter or AlwaysTrue(), snapshot_id=snapshot_id).plan_files()
    if any(task.delete_files for task in tasks):
        raise LakeError(
            f"table `{name}` has delete files, which direct scans do not apply",
            hint="rewrite the table with a full load",
        )
    return [task.file.file_path for task in tasks]


def _schema_at(table: Table, schema_id: int | None) -> Schema:
    """The schema a snapshot was written with (the current one when it does not say)."""
    schemas = table.schemas()
    return schemas[schema_id] if schema_id in schemas else table.schema()


def _arrow(schema: Schema) -> pa.Schema:
    """``schema`` in the Arrow types its files are written with."""
    return storable_schema(schema.as_arrow())


def _evolved(table: Table) -> bool:
    """Files of different schemas must be read by column name."""
    return len(table.schemas()) > 1


def _tables(tree: exp.Expression) -> dict[str, list[exp.Table]]:
    """Each qualified table ``tree`` reads, with every reference to it (CTEs and table
    functions left out)."""
    from sqlglot import exp

    found: dict[str, list[exp.Table]] = {}
    for table in tree.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func) or not table.db:
            continue
        if table.db.lower() in _SYSTEM and not table.catalog:
            continue
        parts = (table.catalog, table.db, table.name) if table.catalog else (table.db, table.name)
        name = ".".join(parts)
        found.setdefault(name, []).append(table)
    return found


def _qualify(session: Session, tree: exp.Expression) -> None:
    """A catalog table named without its namespace is an error that names the namespace."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    bare = [
        t.name
        for t in tree.find_all(exp.Table)
        if t.name and not t.db and not isinstance(t.this, exp.Func) and t.name.lower() not in ctes
    ]
    if not bare:
        return
    known = session.lake.tables()
    for name in bare:
        matches = [k for k in known if k.split(".")[1].lower() == name.lower()]
        if matches:
            raise QueryError(
                f"table `{name}` needs its namespace: did you mean `{'` or `'.join(matches)}`?",
                hint="catalog tables are NAMESPACE.NAME; `headwater tables` lists them",
            )
