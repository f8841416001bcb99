"""The SQL that reads an external table in DuckDB, and the S3 access a session needs.

Files read alike (one CSV layout, one compression) go to one ``read_csv``/``read_json``/
``read_parquet`` call over their explicit list, with ``hive_partitioning`` so that a filter
on a partition column skips the files of other partitions; the calls are stacked with
``UNION ALL BY NAME`` and the registered columns selected, so a table reads as the crawl
registered it. Plain partition folders (``partition_0``…) come from each row's file name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from headwater.connect.sql.quoting import ident, literal
from headwater.lake.crawl.registry import ExternalFile, ExternalTable

if TYPE_CHECKING:
    import duckdb

    from headwater.connect.storage.s3 import S3Access
    from headwater.lake.catalog import Lake

FILE = "__headwater_file"


def external_relation(con: duckdb.DuckDBPyConnection, lake: Lake, name: str) -> str | None:
    """The SQL relation of external table ``name`` (``con`` made able to read its files), or
    None when ``name`` is not one (then it is an Iceberg table, or nothing)."""
    if name.count(".") != 1:
        return None
    table = lake.external.get(name)
    if table is None:
        return None
    if table.location.startswith("s3://"):
        access_for(lake, table.connection).attach(con, table.location.rstrip("/"))
    return relation(table, lake.external.files(name))


def external_view(con: duckdb.DuckDBPyConnection, lake: Lake, name: str) -> bool:
    """Make external table ``name`` a view in ``con``; False when it is not one."""
    sql = external_relation(con, lake, name)
    if sql is None:
        return False
    namespace, table = name.split(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(namespace)}")
    con.execute(f"CREATE OR REPLACE VIEW {ident(namespace)}.{ident(table)} AS SELECT * FROM {sql}")
    return True


def access_for(lake: Lake, connection: str | None) -> S3Access:
    """The S3 access of a table crawled through ``connection``: that connection's settings,
    else the warehouse's, else the AWS_* environment."""
    from headwater.connect.storage.s3 import S3Access

    if connection and connection in lake.s3_connections:
        return lake.s3_connections[connection]
    return lake.s3 or S3Access.resolve()


def relation(table: ExternalTable, files: Sequence[ExternalFile]) -> str:
    """``(SELECT <columns> FROM …)``: the rows of ``files`` as ``table`` registers them."""
    columns = [*table.columns, *((p.name, p.type) for p in table.partitions)]
    if not files:
        empty = ", ".join(f"NULL::{t} AS {ident(n)}" for n, t in columns)
        return f"(SELECT {empty} WHERE false)"
    groups: dict[int, list[ExternalFile]] = {}
    for f in files:
        groups.setdefault(f.layout, []).append(f)
    scans = [_scan(table, index, members) for index, members in sorted(groups.items())]
    source = " UNION ALL BY NAME ".join(f"SELECT * FROM {scan}" for scan in scans)
    projection = [ident(n) for n, _ in table.columns]
    projection += [ident(p.name) for p in table.partitions if p.hive]
    start = len(table.location.rstrip("/")) + 2  # 1-based, after the folder and its "/"
    for part in table.partitions:
        if not part.hive:
            segment = f"split_part({ident(FILE)}[{start}:], '/', {part.level + 1})"
            projection.append(f"CAST({segment} AS {part.type}) AS {ident(part.name)}")
    return f"(SELECT {', '.join(projection)} FROM ({source}))"


def _scan(table: ExternalTable, index: int, files: Sequence[ExternalFile]) -> str:
    layout = table.layouts[index]
    listing = "[" + ", ".join(literal(table.file_location(f.path)) for f in files) + "]"
    types = dict(table.columns)
    options: list[str] = []
    hive = [p for p in table.partitions if p.hive]
    if hive:
        declared = ", ".join(f"{literal(p.name)}: {literal(p.type)}" for p in hive)
        options.append(f"hive_partitioning = true, hive_types = {{{declared}}}")
    else:
        options.append("hive_partitioning = false")
    if any(not p.hive for p in table.partitions):
        options.append(f"filename = {literal(FILE)}")
    if layout.format == "parquet":
        return f"read_parquet({listing}, union_by_name = true, {', '.join(options)})"
    options.extend(f"{key} = {value}" for key, value in layout.options)
    if layout.compression:
        options.append(f"compression = {literal(layout.compression)}")
    if layout.format in ("csv", "tsv"):
        declared = ", ".join(
            f"{literal(n)}: {literal(types.get(n, 'VARCHAR'))}" for n in layout.names
        )
        return (
            f"read_csv({listing}, columns = {{{declared}}}, auto_detect = false, "
            f"{', '.join(options)})"
        )
    present = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in table.columns)
    return f"read_json({listing}, columns = {{{present}}}, {', '.join(options)})"
