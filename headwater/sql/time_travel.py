"""Time travel: a table read as of a time or a snapshot, written in the SQL that Athena reads.

    SELECT … FROM gold.t FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 10:00:00'
    SELECT … FROM gold.t FOR VERSION AS OF 4476864423849953108

``FOR SYSTEM_TIME AS OF`` and ``FOR SYSTEM_VERSION AS OF`` (SQL:2011, BigQuery) and DuckDB's
``AT (TIMESTAMP => …)`` / ``AT (VERSION => …)`` say the same. A timestamp is any SQL expression
(``now() - INTERVAL 1 DAY``); without a time zone it is UTC. It selects the snapshot that was
current at that moment. A version is a snapshot id, or the name of a tag or branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from headwater.errors import QueryError

if TYPE_CHECKING:
    import duckdb
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot
    from sqlglot import exp

_SHOW = "`headwater show {name}` lists its snapshots"


@dataclass(frozen=True)
class AsOf:
    """A time-travel clause: what it selects by, and the SQL of the value."""

    by: Literal["timestamp", "version"]
    value: str


def normalize(sql: str) -> str:
    """Spell ``FOR SYSTEM_VERSION AS OF`` as ``FOR VERSION AS OF``, the form sqlglot parses.

    Tokens, not text, are matched: the words inside a string or a comment stay as they are.
    """
    if "system_version" not in sql.lower():
        return sql
    from sqlglot import Dialect
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    try:
        tokens = Dialect.get_or_raise("duckdb").tokenize(sql)
    except TokenError:
        return sql  # the parser reports it
    out, last = [], 0
    for i, token in enumerate(tokens[:-3]):
        words = [t.text.upper() for t in tokens[i + 1 : i + 4]]
        if token.token_type == TokenType.FOR and words == ["SYSTEM_VERSION", "AS", "OF"]:
            out.append(sql[last : tokens[i + 1].start] + "VERSION")
            last = tokens[i + 1].end + 1
    return "".join(out) + sql[last:]


def as_of(table: exp.Table) -> AsOf | None:
    """The time-travel clause on ``table``, or None; an unsupported form is a QueryError."""
    from sqlglot import exp

    version, when = table.args.get("version"), table.args.get("when")
    if isinstance(version, exp.Version):
        by, mode, value = str(version.this), str(version.args.get("kind")), version.expression
    elif isinstance(when, exp.HistoricalData):
        by, mode, value = str(when.args.get("kind")), str(when.this), when.expression
    else:
        return None
    by = by.upper()
    if mode.upper() not in ("AS OF", "AT") or by not in ("TIMESTAMP", "VERSION"):
        raise QueryError(
            f"`{table.sql(dialect='duckdb')}`: only `FOR TIMESTAMP AS OF …` and "
            "`FOR VERSION AS OF …` select a past version of a table",
            hint="e.g. FROM gold.t FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 10:00:00'",
        )
    return AsOf("timestamp" if by == "TIMESTAMP" else "version", value.sql(dialect="duckdb"))


def detach(table: exp.Table, schema: str) -> None:
    """Point ``table`` at the view of its past version, in ``schema``, under the same name."""
    from sqlglot import exp

    table.set("version", None)
    table.set("when", None)
    table.set("catalog", None)
    table.set("db", exp.to_identifier(schema, quoted=True))


def snapshot_as_of(
    table: Table, name: str, clause: AsOf, con: duckdb.DuckDBPyConnection
) -> Snapshot:
    """The snapshot of ``table`` (called ``name``) that ``clause`` selects; the value is
    computed by DuckDB, so any expression of the right type works."""
    import duckdb

    if not table.metadata.snapshots:
        raise QueryError(
            f"table `{name}` has no snapshots yet, so it has no past version",
            hint="read it without FOR … AS OF",
        )
    cast = "epoch_ms(CAST(({}) AS TIMESTAMPTZ))" if clause.by == "timestamp" else "({})"
    try:
        row = con.execute("SELECT " + cast.format(clause.value)).fetchone()
    except duckdb.Error as exc:
        raise QueryError(
            f"`{clause.value}` is not a {clause.by} for `{name}`: {str(exc).strip().splitlines()[0]}",
            hint="e.g. FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 10:00:00' or "
            "FOR VERSION AS OF <snapshot id>",
        ) from exc
    value = row[0] if row else None
    if clause.by == "timestamp":
        return _at_time(table, name, value)
    return _version(table, name, value)


def _at_time(table: Table, name: str, millis: object) -> Snapshot:
    if not isinstance(millis, int):
        raise QueryError(f"the time to read `{name}` at is NULL", hint="give a timestamp")
    snapshot = table.snapshot_as_of_timestamp(millis)
    if snapshot is not None:
        return snapshot
    known = {s.snapshot_id for s in table.metadata.snapshots}
    moments = [(e.timestamp_ms, e.snapshot_id) for e in table.history() if e.snapshot_id in known]
    moments = moments or [(s.timestamp_ms, s.snapshot_id) for s in table.metadata.snapshots]
    first_ms, first_id = min(moments)
    raise QueryError(
        f"table `{name}` has no snapshot at or before {_time(millis)}: its first snapshot "
        f"({first_id}) was committed at {_time(first_ms)}",
        hint=f"read it at a later time; {_SHOW.format(name=name)}",
    )


def _version(table: Table, name: str, value: object) -> Snapshot:
    snapshot = None
    if isinstance(value, int) and not isinstance(value, bool):
        snapshot = table.snapshot_by_id(value)
    elif isinstance(value, str):
        snapshot = table.snapshot_by_name(value)
    if snapshot is not None:
        return snapshot
    recent = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)[-3:]
    listing = ", ".join(str(s.snapshot_id) for s in reversed(recent))
    raise QueryError(
        f"table `{name}` has no snapshot {value!r} (the latest: {listing})",
        hint=f"a version is a snapshot id, or a tag or branch name; {_SHOW.format(name=name)}",
    )


def _time(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
