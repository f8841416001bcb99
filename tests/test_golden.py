"""Golden files for the two SQL compilers, one input and one expected output per case.

    tests/golden/checks/<case>.yaml               a table's columns (DuckDB types) and its checks
    tests/golden/checks/<case>.sql                what headwater.quality.compile makes of them
    tests/golden/time_travel/catalog.yaml         the tables the statements read: schemas,
                                                  snapshots (fixed ids and times), tags
    tests/golden/time_travel/<case>.sql           one statement, after `--` lines saying why
    tests/golden/time_travel/<case>.expected.sql  the scans it maps (time travel, pruning)
                                                  and the statement that runs

Each case compares the compiler's output with the expected file exactly. After a deliberate
change to a compiler, rewrite the expected files and review the diff line by line:

    HEADWATER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

A golden file that encodes a bug is worse than none: read every file the update changed.

Nothing but memory is used: checks are compiled for empty in-memory DuckDB tables of the
declared columns, and statements are mapped over pyiceberg tables built from metadata in
memory. Planning the data files is pyiceberg's and is recorded instead (which snapshot, under
which filter); test_query_time_travel.py runs such statements over a real lake. Every golden
statement is also run by DuckDB on empty tables, so no golden file holds SQL that does not run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pyiceberg import expressions as ice
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadataV2
from pyiceberg.types import (
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)

from headwater.connect.sql.quoting import ident
from headwater.errors import HeadwaterError, QueryError, TableNotFound
from headwater.project.positions import parse_yaml
from headwater.quality.compile import CheckError, Compiled, compile_check, fill
from headwater.quality.entries import parse
from headwater.quality.evaluate import _condition, _select_only
from headwater.quality.rules import KINDS, CustomSql, Relationships, RowCount
from headwater.sql.scans import prepare

GOLDEN = Path(__file__).parent / "golden"
CHECKS = GOLDEN / "checks"
TIME_TRAVEL = GOLDEN / "time_travel"
UPDATE = os.environ.get("HEADWATER_UPDATE_GOLDEN") == "1"


def compare(expected: Path, got: str) -> None:
    """``got`` equals the file ``expected``; with HEADWATER_UPDATE_GOLDEN=1 it becomes it."""
    if UPDATE:
        expected.write_text(got, encoding="utf-8")
        return
    assert expected.exists(), f"no {expected.name}: run with HEADWATER_UPDATE_GOLDEN=1"
    assert got == expected.read_text(encoding="utf-8"), (
        f"{expected.name} differs from the compiler's output; if the change is meant, "
        "rewrite it with HEADWATER_UPDATE_GOLDEN=1 and review the diff"
    )


def relation(name: str) -> str:
    """How the workspace names a catalog table in the checks' SQL (``"shop"."orders"``)."""
    return ".".join(ident(part) for part in name.split("."))


# ---------------------------------------------------------------- checks → SQL


@dataclass(frozen=True)
class CheckCase:
    table: str
    tables: dict[str, dict[str, str]]  # table → column → DuckDB type
    entries: list[Any]
    bounds: dict[str, tuple[int, int]]


def load_check_case(path: Path) -> CheckCase:
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path)).data
    return CheckCase(
        table=data["table"],
        tables={t: {str(c): str(k) for c, k in cols.items()} for t, cols in data["tables"].items()},
        entries=list(data["checks"]),
        bounds={c: (int(lo), int(hi)) for c, (lo, hi) in (data.get("bounds") or {}).items()},
    )


def empty_tables(case: CheckCase) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the case's tables, empty."""
    con = duckdb.connect()
    for table, columns in case.tables.items():
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(table.split('.')[0])}")
        listing = ", ".join(f"{ident(c)} {kind}" for c, kind in columns.items())
        con.execute(f"CREATE TABLE {relation(table)} ({listing})")
    return con


def render_checks(case: CheckCase, source: str) -> str:
    """The compiled checks as one SQL script: the scan, then each check's own statements.

    Column types are DuckDB's own spelling, from DESCRIBE as evaluate() reads them, and
    placeholders are filled as evaluate() fills them; statements end with `;` so the script
    runs as it is in DuckDB over tables of these names."""
    rel = relation(case.table)
    with empty_tables(case) as con:
        described = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    columns = {str(row[0]): str(row[1]) for row in described}
    out = [f"-- {source}: the checks of {case.table}, compiled", ""]
    compiled: list[tuple[int, Any, Compiled | str]] = []
    for index, entry in enumerate(case.entries):
        check = parse(entry)
        try:
            cond = _condition(check.where)
            item: Compiled | str = compile_check(
                check, index, case.table, columns, cond, case.bounds or None
            )
        except (CheckError, HeadwaterError) as exc:
            item = str(exc)
        compiled.append((index, check, item))

    scanned = [
        (a, sql)
        for _, _, c in compiled
        if isinstance(c, Compiled)
        for a, sql in c.expressions.items()
    ]
    if scanned:
        out.append("-- the scan: every check's aggregates in one pass over the table")
        out.append("SELECT")
        out.append(",\n".join(f"  {sql} AS {alias}" for alias, sql in scanned))
        out.append(f"FROM {rel};")
        out.append("")

    for index, check, item in compiled:
        mostly = "" if check.mostly == 1 else f", mostly {check.mostly}"
        title = f"-- c{index} {check.label} ({check.kind}, {check.severity}{mostly})"
        if isinstance(item, str):
            out.extend([f"{title}: refused", *(f"--   {line}" for line in item.splitlines()), ""])
            continue
        out.append(f"{title}: {item.expected}")
        other = None
        if isinstance(check, Relationships):
            other = relation(check.to)
        elif isinstance(check, RowCount) and check.equal_to:
            other = relation(check.equal_to)
        if item.expressions:
            out.append(f"--   read from the scan: {', '.join(item.expressions)}")
        if item.query is not None:
            sql = None
            if isinstance(check, CustomSql):
                try:
                    sql = _select_only(check.sql).replace("{table}", rel)
                except CheckError as exc:
                    out.extend([f"--   refused: {exc}", ""])
                    continue
            out.append("--   its own query:")
            out.append(fill(item.query, table=rel, other=other, sql=sql) + ";")
        if item.failing_rows is not None:
            out.append("--   failing rows:")
            settings = item.sample_settings.items()
            out.extend(f"SET {name} = {value};" for name, value in settings)
            cond = fill(item.failing_rows, table=rel, other=other)
            out.append(f"SELECT * FROM {rel} WHERE {cond};")
            out.extend(f"RESET {name};" for name, _ in settings)
        out.append("")
    return "\n".join(out)


def check_cases() -> list[Path]:
    return sorted(CHECKS.glob("*.yaml"))


@pytest.mark.parametrize("path", check_cases(), ids=lambda p: p.stem)
def test_checks_compile_to_their_golden_sql(path: Path) -> None:
    case = load_check_case(path)
    compare(path.with_suffix(".sql"), render_checks(case, f"checks/{path.name}"))


@pytest.mark.parametrize("path", check_cases(), ids=lambda p: p.stem)
def test_golden_check_sql_binds_in_duckdb(path: Path) -> None:
    """Every statement of the golden file runs on empty tables of the declared columns."""
    case = load_check_case(path)
    script = path.with_suffix(".sql").read_text(encoding="utf-8")
    with empty_tables(case) as con:
        for statement in con.extract_statements(script):
            con.execute(statement)


def test_golden_check_names_are_unique_per_table() -> None:
    """As the suite loader requires: results are kept by name."""
    for path in check_cases():
        labels = [parse(entry).label for entry in load_check_case(path).entries]
        assert len(labels) == len(set(labels)), path.name


def test_every_check_kind_has_a_golden_case() -> None:
    covered = set()
    for path in check_cases():
        covered |= {parse(entry).kind for entry in load_check_case(path).entries}
    assert covered == set(KINDS)


# ---------------------------------------------------------------- time travel and pruning → scans

_TYPES: dict[str, IcebergType] = {
    "boolean": BooleanType(),
    "int": IntegerType(),
    "long": LongType(),
    "double": DoubleType(),
    "string": StringType(),
    "date": DateType(),
    "timestamp": TimestampType(),
    "timestamptz": TimestamptzType(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def _iceberg_type(text: str) -> IcebergType:
    decimal = _DECIMAL.match(text)
    return DecimalType(int(decimal[1]), int(decimal[2])) if decimal else _TYPES[text]


def _millis(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class PlannedTable(Table):
    """A pyiceberg table over metadata in memory, whose file planning records what it was
    asked for instead of reading manifests (that part is pyiceberg's)."""

    def scan(  # type: ignore[override]
        self, row_filter: Any = ice.AlwaysTrue(), snapshot_id: int | None = None, **_: Any
    ) -> Any:
        described = (
            "every file" if row_filter == ice.AlwaysTrue() else f"files where {show(row_filter)}"
        )
        planned = _File(f"snapshot {snapshot_id}: {described}")
        return _Scan([_Task(planned)])


@dataclass(frozen=True)
class _File:
    file_path: str


@dataclass(frozen=True)
class _Task:
    file: _File
    delete_files: tuple[()] = ()


@dataclass(frozen=True)
class _Scan:
    tasks: list[_Task]

    def plan_files(self) -> list[_Task]:
        return self.tasks


def load_catalog(path: Path) -> dict[str, PlannedTable]:
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path)).data
    tables: dict[str, PlannedTable] = {}
    for name, spec in data.items():
        columns: dict[str, int] = {}
        schemas = []
        for schema_id, fields in enumerate(spec["schemas"]):
            nested = []
            for column, kind in fields.items():
                field_id = columns.setdefault(str(column), len(columns) + 1)
                nested.append(
                    NestedField(field_id, str(column), _iceberg_type(kind), required=False)
                )
            schemas.append(Schema(*nested, schema_id=schema_id))
        snapshots, log, parent = [], [], None
        for sequence, snap in enumerate(spec["snapshots"], start=1):
            ms = _millis(snap["at"])
            snapshots.append(
                {
                    "snapshot-id": snap["id"],
                    "parent-snapshot-id": parent,
                    "sequence-number": sequence,
                    "timestamp-ms": ms,
                    "manifest-list": f"memory://{name}/snap-{snap['id']}.avro",
                    "summary": {"operation": "append"},
                    "schema-id": snap["schema"],
                }
            )
            log.append({"snapshot-id": snap["id"], "timestamp-ms": ms})
            parent = snap["id"]
        refs = {"main": {"snapshot-id": parent, "type": "branch"}} if parent else {}
        refs |= {
            tag: {"snapshot-id": sid, "type": "tag"}
            for tag, sid in (spec.get("tags") or {}).items()
        }
        metadata = TableMetadataV2.model_validate(
            {
                "location": f"memory://{name}",
                "table-uuid": "00000000-0000-4000-8000-000000000000",
                "last-updated-ms": log[-1]["timestamp-ms"] if log else 0,
                "last-column-id": len(columns),
                "schemas": schemas,
                "current-schema-id": len(schemas) - 1,
                "partition-specs": [{"spec-id": 0, "fields": []}],
                "default-spec-id": 0,
                "last-partition-id": 999,
                "sort-orders": [{"order-id": 0, "fields": []}],
                "default-sort-order-id": 0,
                "snapshots": snapshots,
                "snapshot-log": log,
                "current-snapshot-id": parent,
                "last-sequence-number": len(snapshots),
                "refs": refs,
            }
        )
        tables[name] = PlannedTable(
            tuple(name.split(".")),
            metadata,
            f"memory://{name}/metadata.json",
            PyArrowFileIO(),
            None,  # type: ignore[arg-type]
        )
    return tables


@dataclass
class RecordingLake:
    """The part of the lake that scans.prepare reads: tables by name."""

    catalog: dict[str, PlannedTable]

    def table(self, name: str) -> Table:
        if name not in self.catalog:
            raise TableNotFound(f"no table `{name}`")
        return self.catalog[name]

    def tables(self) -> list[str]:
        return sorted(self.catalog)


@dataclass
class RecordingSession:
    """A session whose views are recorded, not created; its DuckDB connection is real (it
    computes AS OF values and has the last word on what is a read)."""

    lake: RecordingLake
    con: duckdb.DuckDBPyConnection = field(default_factory=duckdb.connect)
    mapped: list[str] = field(default_factory=list)
    views: dict[tuple[str, str], pa.Schema] = field(default_factory=dict)  # (schema, table)

    def __post_init__(self) -> None:
        self.con.execute("SET TimeZone = 'UTC'")  # as Session does: a time without a zone is UTC

    def map_table(self, name: str) -> None:
        self.mapped.append(f"-- {name}: the whole table at its current snapshot")
        namespace, table = name.split(".")
        self.views[namespace, table] = self.lake.catalog[name].schema().as_arrow()

    def map_scan(
        self,
        name: str,
        files: list[str],
        schema: pa.Schema,
        evolved: bool,
        in_schema: str | None = None,
    ) -> None:
        namespace, table = name.split(".")
        view = f"{ident(in_schema or namespace)}.{ident(table)}"
        self.views[in_schema or namespace, table] = schema
        union = ", by column name" if evolved else ""
        self.mapped.append(
            f"-- {view} := {name} at {'; '.join(files)} (columns {', '.join(schema.names)}{union})"
        )


def show(expr: Any) -> str:
    """An Iceberg row filter in SQL words, to read in a golden file."""
    ops: dict[type, str] = {
        ice.EqualTo: "=",
        ice.NotEqualTo: "<>",
        ice.GreaterThan: ">",
        ice.GreaterThanOrEqual: ">=",
        ice.LessThan: "<",
        ice.LessThanOrEqual: "<=",
    }
    if isinstance(expr, ice.And):
        return f"({show(expr.left)} AND {show(expr.right)})"
    if isinstance(expr, ice.Or):
        return f"({show(expr.left)} OR {show(expr.right)})"
    name = ident(expr.term.name)
    if type(expr) in ops:
        return f"{name} {ops[type(expr)]} {_literal(expr.literal)}"
    if isinstance(expr, ice.In):
        return f"{name} IN ({', '.join(sorted(_literal(v) for v in expr.literals))})"
    if isinstance(expr, ice.StartsWith):
        return f"{name} STARTS WITH {_literal(expr.literal)}"
    if isinstance(expr, ice.IsNull):
        return f"{name} IS NULL"
    if isinstance(expr, ice.NotNull):
        return f"{name} IS NOT NULL"
    raise AssertionError(f"no rendering for {expr!r}")


def _literal(lit: Any) -> str:
    """An Iceberg literal as SQL; dates and timestamps are days and microseconds in it."""
    kind, value = type(lit).__name__, lit.value
    if kind == "DateLiteral":
        return f"DATE '{date(1970, 1, 1) + timedelta(days=value)}'"
    if kind == "TimestampLiteral":
        moment = datetime(1970, 1, 1) + timedelta(microseconds=value)  # UTC for TIMESTAMPTZ
        return f"TIMESTAMP '{moment}'"
    if kind == "StringLiteral":
        return "'" + value.replace("'", "''") + "'"
    if kind == "BooleanLiteral":
        return str(value).lower()
    if kind in ("LongLiteral", "DecimalLiteral"):
        return str(value)
    raise AssertionError(f"no rendering for {lit!r}")


def render_statement(catalog: dict[str, PlannedTable], sql: str) -> str:
    """The scans ``sql`` maps and the statement it runs (or the QueryError it raises)."""
    session = RecordingSession(RecordingLake(catalog))
    try:
        statement = prepare(session, sql)  # type: ignore[arg-type]
    except QueryError as exc:
        lines = [f"-- QueryError: {exc.message}"]
        if exc.hint:
            lines.append(f"-- hint: {exc.hint}")
        return "\n".join([*session.mapped, *lines]) + "\n"
    finally:
        session.con.close()
    return "\n".join([*session.mapped, statement.strip()]) + "\n"


def run_on_empty_views(catalog: dict[str, PlannedTable], sql: str) -> None:
    """Run the statement ``sql`` is mapped to, over empty tables standing for its views."""
    session = RecordingSession(RecordingLake(catalog))
    with session.con as con:
        statement = prepare(session, sql)  # type: ignore[arg-type]
        for (folder, table), schema in session.views.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(folder)}")
            con.register("__empty", schema.empty_table())
            con.execute(f"CREATE TABLE {ident(folder)}.{ident(table)} AS FROM __empty")
            con.unregister("__empty")
        con.execute(statement).fetchall()


def statement_cases() -> list[Path]:
    return sorted(p for p in TIME_TRAVEL.glob("*.sql") if not p.name.endswith(".expected.sql"))


def _statement(path: Path) -> str:
    """The case's statement: its file without the leading `--` lines that describe it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines).strip() + "\n"


@pytest.fixture(scope="module")
def catalog() -> Iterator[dict[str, PlannedTable]]:
    yield load_catalog(TIME_TRAVEL / "catalog.yaml")


@pytest.mark.parametrize("path", statement_cases(), ids=lambda p: p.stem)
def test_statements_map_to_their_golden_scans(path: Path, catalog: dict[str, PlannedTable]) -> None:
    got = render_statement(catalog, _statement(path))
    compare(path.with_name(path.stem + ".expected.sql"), got)


@pytest.mark.parametrize("path", statement_cases(), ids=lambda p: p.stem)
def test_golden_statements_run_in_duckdb(path: Path, catalog: dict[str, PlannedTable]) -> None:
    """The statement each case runs is one DuckDB binds and runs over its views."""
    if path.name.startswith("error_"):
        with pytest.raises(QueryError):
            run_on_empty_views(catalog, _statement(path))
    else:
        run_on_empty_views(catalog, _statement(path))


def test_no_expected_file_without_its_case() -> None:
    """A case removed takes its expected file with it."""
    orphans = [p for p in CHECKS.glob("*.sql") if not p.with_suffix(".yaml").exists()]
    orphans += [
        p
        for p in TIME_TRAVEL.glob("*.expected.sql")
        if not p.with_name(p.name.removesuffix(".expected.sql") + ".sql").exists()
    ]
    assert orphans == []
