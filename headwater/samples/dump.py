"""Read the MySQL classicmodels dump (``mysqlsampledatabase.sql``) into rows of the sample tables.

sqlglot parses the statements (MySQL escapes such as ``\\'`` and ``\\r\\n``, NULL, negative
numbers, hex literals and multi-row VALUES are its job); this module checks that the dump
creates exactly the eight tables with the sample schema's columns in the same order, and
converts every literal to its column's Python type, so any engine receives exactly the dump's
values. The dump is about 200 KB, so it is parsed whole before anything is written; the rows
are then written in chunks like generated ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from headwater.errors import SourceError
from headwater.samples.schema import TABLES
from headwater.samples.values import CONVERSION_ERRORS, Converter, NotALiteral, converter, literal
from headwater.samples.writer import Row

_TABLES = {table.name: table for table in TABLES}
_WHAT_TO_DO = (
    "pass the path of mysqlsampledatabase.sql from the MySQL sample database "
    "(https://www.mysqltutorial.org/mysql-sample-database.aspx), "
    "or leave the dump out to generate a classicmodels-shaped dataset instead"
)
_EDITED = "check the dump for a truncated or edited line, or download it again"


def dump_rows(path: Path) -> dict[str, list[Row]]:
    """Every row of the dump at ``path``, per table, converted to the tables' Python types."""
    dump = _Dump(path, _read(path))
    statements = dump.parse()
    creates = [s for s in statements if isinstance(s, exp.Create) and s.kind == "TABLE"]
    dump.check_tables([dump.created_table(create) for create in creates])
    for create in creates:
        dump.check_columns(create)
    rows: dict[str, list[Row]] = {name: [] for name in _TABLES}
    for statement in statements:
        if isinstance(statement, exp.Insert):
            name, batch = dump.insert_rows(statement)
            rows[name].extend(batch)
    return rows


def _read(path: Path) -> str:
    try:
        # bytes, not read_text: universal newlines would rewrite CR/LF inside string literals
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise SourceError(
            f"the classicmodels dump {path} does not exist", hint=_WHAT_TO_DO
        ) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            hint="re-export the dump with --default-character-set=utf8mb4, "
            "or convert it with `iconv -f latin1 -t utf-8`",
        ) from exc
    except OSError as exc:
        raise SourceError(
            f"cannot read the classicmodels dump {path}: {exc.strerror}", hint=_WHAT_TO_DO
        ) from exc


@dataclass(frozen=True)
class _Dump:
    """The dump's path and text, to check its statements and point at lines in errors."""

    path: Path
    text: str

    def parse(self) -> list[exp.Expression]:
        try:
            statements = sqlglot.parse(self.text, read="mysql")
        except SqlglotError as exc:
            raise SourceError(
                f"{self.path} is not a MySQL dump sqlglot can read: {str(exc).splitlines()[0]}",
                hint=_WHAT_TO_DO,
            ) from exc
        return [statement for statement in statements if isinstance(statement, exp.Expression)]

    def check_tables(self, created: list[str]) -> None:
        """The dump creates exactly the eight tables, or an error saying what it is instead."""
        expected = ", ".join(_TABLES)
        if not set(created) & set(_TABLES):
            found = f"it creates {', '.join(created)}" if created else "it has no CREATE TABLE"
            raise SourceError(
                f"{self.path} is not a classicmodels dump: {found}, not {expected}",
                hint=_WHAT_TO_DO,
            )
        unknown = [name for name in created if name not in _TABLES]
        if unknown:
            raise SourceError(
                f"{self.path} creates tables {', '.join(unknown)} that are not part of "
                f"classicmodels ({expected})",
                hint=_WHAT_TO_DO,
            )
        missing = [name for name in _TABLES if name not in created]
        if missing:
            raise SourceError(
                f"{self.path} is an incomplete classicmodels dump: "
                f"no CREATE TABLE for {', '.join(missing)}",
                hint=_WHAT_TO_DO,
            )

    def created_table(self, create: exp.Create) -> str:
        schema = create.this
        if not isinstance(schema, exp.Schema):
            raise SourceError(f"{self.where(create)}: CREATE TABLE without columns", hint=_EDITED)
        return schema.this.name

    def check_columns(self, create: exp.Create) -> None:
        name = self.created_table(create)
        columns = [c.name for c in create.this.expressions if isinstance(c, exp.ColumnDef)]
        expected = [column.name for column in _TABLES[name].columns]
        if columns != expected:
            raise SourceError(
                f"{self.where(create)}: table `{name}` has the columns {columns}, "
                f"the classicmodels schema has {expected}",
                hint=_WHAT_TO_DO,
            )

    def insert_rows(self, statement: exp.Insert) -> tuple[str, list[Row]]:
        """The rows of one INSERT ... VALUES statement."""
        target = statement.this
        name = target.this.name if isinstance(target, exp.Schema) else target.name
        table = self.table(statement, name)
        if isinstance(target, exp.Schema):
            columns = [column.name for column in target.expressions]
        else:
            columns = [column.name for column in table.columns]
        unknown = [column for column in columns if column not in table.columns]
        if unknown:
            raise SourceError(
                f"{self.where(statement)}: INSERT into `{name}` names columns {unknown} "
                "that the table does not have",
                hint=_EDITED,
            )
        values = statement.expression
        if not isinstance(values, exp.Values):
            raise SourceError(
                f"{self.where(statement)}: INSERT into `{name}` has no VALUES list",
                hint="export the data with mysqldump, which writes INSERT ... VALUES",
            )
        converters = [converter(table.columns[column]) for column in columns]
        return name, [
            self.row(table, number, record, columns, converters)
            for number, record in enumerate(values.expressions, start=1)
        ]

    def row(
        self,
        table: sa.Table,
        number: int,
        record: exp.Expression,
        columns: list[str],
        converters: list[Converter],
    ) -> Row:
        if len(record.expressions) != len(columns):
            raise SourceError(
                f"{self.where(record)}: row {number} of the INSERT into `{table.name}` has "
                f"{len(record.expressions)} values for {len(columns)} columns",
                hint=_EDITED,
            )
        row: dict[str, object] = {}
        for column, convert, node in zip(columns, converters, record.expressions, strict=True):
            try:
                value = literal(node)
            except NotALiteral as exc:
                raise SourceError(
                    f"{self.where(node)}: table `{table.name}` row {number}: {column} is "
                    f"`{exc}`, not a literal",
                    hint="load the dump into MySQL and export it again with mysqldump",
                ) from exc
            try:
                row[column] = None if value is None else convert(value)
            except CONVERSION_ERRORS as exc:
                raise SourceError(
                    f"{self.where(node)}: table `{table.name}` row {number}: "
                    f"cannot read {column}={value!r} as {table.columns[column].type}",
                    hint=_EDITED,
                ) from exc
        return row

    def table(self, statement: exp.Expression, name: str) -> sa.Table:
        try:
            return _TABLES[name]
        except KeyError:
            raise SourceError(
                f"{self.where(statement)}: table `{name}` is not one of the classicmodels "
                f"tables ({', '.join(_TABLES)})",
                hint=_WHAT_TO_DO,
            ) from None

    def where(self, node: exp.Expression) -> str:
        """``path:line`` of ``node`` (lines counted like ``grep -n``), or just the path."""
        for part in node.walk():
            start = part.meta.get("start")
            if isinstance(start, int):
                return f"{self.path}:{self.text.count(chr(10), 0, start) + 1}"
        return str(self.path)
