"""The crawler on real folders and a real S3 API: formats by content, schemas, Hive
partitions, grouping, bad files, recrawls under each policy, imports, and queries."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.errors import LakeError, QueryError, SourceError
from headwater.lake.crawl import CrawlOptions, CrawlReport
from tests.services import S3Server

runner = CliRunner()


def project(tmp_path: Path, models: dict[str, str] | None = None) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.yaml").write_text(
        "name: t\npipelines:\n  models:\n    tasks:\n      - models: gold\n"
    )
    for name, sql in (models or {}).items():
        namespace, table = name.split(".")
        path = root / "models" / namespace / f"{table}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return root


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def zstd(text: str) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(text.encode())
    return bytes(sink.getvalue())


def sales_tree(data: Path) -> None:
    """sales/year=Y/month=M/*.csv: 2 years x 2 months, 2 rows each."""
    for year in (2023, 2024):
        for month in (1, 2):
            rows = "".join(
                f"{year * 100 + month * 10 + i},{i + 0.5},{year}-{month:02d}-1{i}\n"
                for i in range(2)
            )
            write(
                data / "sales" / f"year={year}" / f"month={month:02d}" / "part-0.csv",
                "id,amount,day\n" + rows,
            )


def columns(ws: Workspace, name: str) -> list[tuple[str, str]]:
    table = ws.lake.external.get(name)
    assert table is not None
    return [*table.columns, *((p.name, p.type) for p in table.partitions)]


def test_hive_partitions_formats_by_content_and_bad_files(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data"
    sales_tree(data)
    parquet(data / "customers" / "c1.parquet", pa.table({"cid": [1, 2], "name": ["ann", "bob"]}))
    parquet(data / "customers" / "c2.parquet", pa.table({"cid": [3], "name": ["cy"]}))
    write(data / "customers" / "broken.parquet", b"PAR1" + b"\x00" * 40 + b"PAR1")
    # JSON Lines: gzip with a misleading name, zstd with none, plain
    write(
        data / "events" / "e1.txt",
        gzip.compress(b'{"kind": "click", "n": 1}\n{"kind": "view", "n": 2}\n'),
    )
    write(data / "events" / "e2", zstd('{"kind": "click", "n": 3}\n'))
    write(data / "events" / "e3.jsonl", '{"kind": "buy", "n": 4}\n')
    write(data / "events" / "notes.csv", "a,b\n1,2\n")  # mixed formats: the odd one out
    write(data / "events" / "_SUCCESS", "")
    write(data / "events" / "truncated.jsonl.gz", gzip.compress(b'{"kind": "x"}\n' * 5000)[:60])
    write(data / "readings" / "r.dat", "sensor\tvalue\nA\t1.5\nB\t2.5\n")  # TSV, no extension
    write(data / "docs" / "d.json", '[{"doc": 1, "tags": ["a", "b"]}, {"doc": 2, "tags": []}]')

    ws = Workspace.open(root)
    report = ws.crawl("data", "landing")
    assert sorted(t.name for t in report.tables) == [
        "landing.customers",
        "landing.docs",
        "landing.events",
        "landing.readings",
        "landing.sales",
    ]
    assert {t.action for t in report.tables} == {"added"}
    sales = report.table("sales")
    assert (sales.format, sales.files, sales.partitions, sales.partitions_added) == ("csv", 4, 4, 4)
    assert report.partitions_added == 4
    assert columns(ws, "landing.sales") == [
        ("id", "BIGINT"),
        ("amount", "DOUBLE"),
        ("day", "DATE"),
        ("year", "BIGINT"),
        ("month", "BIGINT"),
    ]
    assert columns(ws, "landing.events") == [("kind", "VARCHAR"), ("n", "BIGINT")]
    assert columns(ws, "landing.readings") == [("sensor", "VARCHAR"), ("value", "DOUBLE")]
    assert columns(ws, "landing.docs") == [("doc", "BIGINT"), ("tags", "VARCHAR[]")]

    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["customers/broken.parquet"].startswith("a corrupt Parquet file")
    assert reasons["events/notes.csv"].startswith("mixed formats: events holds 3 jsonl files")
    assert reasons["events/_SUCCESS"].startswith("a hidden or marker file")
    assert reasons["events/truncated.jsonl.gz"].startswith("gzip data that does not decompress")
    assert len(reasons) == 4 and report.files_seen == 15

    got = ws.query(
        "SELECT year, month, count(*) AS n, sum(amount) AS amount FROM landing.sales "
        "GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    assert got == [
        {"year": y, "month": m, "n": 2, "amount": 2.0} for y in (2023, 2024) for m in (1, 2)
    ]
    assert ws.query("SELECT n, kind FROM landing.events ORDER BY n").to_pylist() == [
        {"n": 1, "kind": "click"},
        {"n": 2, "kind": "view"},
        {"n": 3, "kind": "click"},
        {"n": 4, "kind": "buy"},
    ]
    assert ws.query("SELECT sum(cid) AS s FROM landing.customers").to_pylist() == [{"s": 6}]
    assert ws.query("SELECT doc, tags FROM landing.docs ORDER BY doc").to_pylist() == [
        {"doc": 1, "tags": ["a", "b"]},
        {"doc": 2, "tags": []},
    ]
    # nothing changed: a second crawl changes nothing
    again = ws.crawl("data", "landing")
    assert [t.action for t in again.tables] == ["unchanged"] * 5
    ws.close()


def test_filters_on_partition_columns_skip_other_partitions(tmp_path: Path) -> None:
    root = project(tmp_path)
    sales_tree(root / "data")
    ws = Workspace.open(root)
    ws.crawl("data/sales", "landing")
    # break every file of 2023: a query that needs only 2024 never opens them
    for path in (root / "data" / "sales" / "year=2023").rglob("*.csv"):
        path.write_text("id,amount,day\nnot a number,x,y\n")
    assert ws.query(
        "SELECT count(*) AS n, min(id) AS first FROM landing.sales WHERE year = 2024 AND month = 2"
    ).to_pylist() == [{"n": 2, "first": 202420}]
    with pytest.raises(QueryError, match="year=2023"):
        ws.query("SELECT sum(id) FROM landing.sales")
    ws.close()


def test_plain_folders_become_partition_n_and_unlike_folders_separate_tables(
    tmp_path: Path,
) -> None:
    root = project(tmp_path)
    data = root / "data"
    write(data / "logs" / "2024" / "01" / "a.csv", "level,msg\ninfo,up\n")
    write(data / "logs" / "2024" / "02" / "a.csv", "level,msg\nwarn,slow\nerror,down\n")
    write(data / "logs" / "2025" / "01" / "a.csv", "level,msg\ninfo,up again\n")
    write(data / "orders" / "o.csv", "order_id,total,placed\n1,9.5,2024-01-01\n")
    write(data / "orders" / "o2.csv", "order_id,total,placed\n2,1.5,2024-01-02\n")
    ws = Workspace.open(root)
    report = ws.crawl("data", "landing")
    assert sorted(t.name for t in report.tables) == ["landing.logs", "landing.orders"]
    assert columns(ws, "landing.logs") == [
        ("level", "VARCHAR"),
        ("msg", "VARCHAR"),
        ("partition_0", "BIGINT"),
        ("partition_1", "BIGINT"),
    ]
    got = ws.query(
        "SELECT partition_0 AS y, partition_1 AS m, count(*) AS n FROM landing.logs GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    assert got == [
        {"y": 2024, "m": 1, "n": 1},
        {"y": 2024, "m": 2, "n": 2},
        {"y": 2025, "m": 1, "n": 1},
    ]
    assert ws.query("SELECT sum(total) AS t FROM landing.orders").to_pylist() == [{"t": 11.0}]
    ws.close()


def test_schemas_merge_and_types_widen_across_files(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data" / "m"
    parquet(data / "k=1" / "a.parquet", pa.table({"id": pa.array([1], pa.int32()), "v": [1.5]}))
    parquet(
        data / "k=2" / "b.parquet",
        pa.table({"id": pa.array([2], pa.int64()), "v": [2.5], "note": ["new"]}),
    )
    write(
        data / "k=3" / "c.parquet",
        pq_bytes(pa.table({"id": pa.array([3], pa.int16()), "v": [3.5]})),
    )
    ws = Workspace.open(root)
    ws.crawl("data/m", "landing")
    assert columns(ws, "landing.m") == [
        ("id", "BIGINT"),
        ("v", "DOUBLE"),
        ("note", "VARCHAR"),
        ("k", "BIGINT"),
    ]
    assert ws.query("SELECT id, note, k FROM landing.m ORDER BY id").to_pylist() == [
        {"id": 1, "note": None, "k": 1},
        {"id": 2, "note": "new", "k": 2},
        {"id": 3, "note": None, "k": 3},
    ]
    ws.close()


def pq_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def drift(root: Path) -> None:
    """A new partition whose files carry one more column."""
    write(
        root / "data" / "sales" / "year=2025" / "month=01" / "part-0.csv",
        "id,amount,day,channel\n202510,9.5,2025-01-10,web\n",
    )


def test_schema_change_with_policy_update_keeps_the_old_version(tmp_path: Path) -> None:
    root = project(tmp_path)
    sales_tree(root / "data")
    ws = Workspace.open(root)
    ws.crawl("data/sales", "landing")
    drift(root)
    report = ws.crawl("data/sales", "landing", CrawlOptions(policy="update"))
    outcome = report.table("sales")
    assert outcome.action == "updated"
    assert outcome.changes == ("+channel VARCHAR",)
    assert outcome.partitions_added == 1
    table = ws.lake.external.get("landing.sales")
    assert table is not None and table.version == 2 and table.status == "active"
    history = ws.lake.external.history("landing.sales")
    assert [(v.version, v.event) for v in history] == [(1, "created"), (2, "updated")]
    assert "channel" not in dict(history[0].columns) and "channel" in dict(history[1].columns)
    assert ws.query(
        "SELECT id, channel, year FROM landing.sales WHERE channel IS NOT NULL OR id = 202310 ORDER BY id"
    ).to_pylist() == [
        {"id": 202310, "channel": None, "year": 2023},
        {"id": 202510, "channel": "web", "year": 2025},
    ]
    ws.close()


def test_schema_change_with_policy_log_changes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path)
    sales_tree(root / "data")
    ws = Workspace.open(root)
    ws.crawl("data/sales", "landing")
    drift(root)
    outcome = ws.crawl("data/sales", "landing", CrawlOptions(policy="log")).table("sales")
    assert (outcome.action, outcome.changes) == ("logged", ("+channel VARCHAR",))
    table = ws.lake.external.get("landing.sales")
    assert table is not None and (table.version, table.status, table.files) == (1, "active", 4)
    history = ws.lake.external.history("landing.sales")
    assert [(v.version, v.event, v.changes) for v in history] == [
        (1, "created", []),
        (1, "logged", ["+channel VARCHAR"]),
    ]
    assert ws.query("SELECT count(*) AS n, max(year) AS y FROM landing.sales").to_pylist() == [
        {"n": 8, "y": 2024}
    ]
    with pytest.raises(QueryError, match="channel"):
        ws.query("SELECT channel FROM landing.sales")
    ws.close()


def test_schema_change_with_policy_deprecate_marks_the_table(tmp_path: Path) -> None:
    root = project(tmp_path)
    sales_tree(root / "data")
    ws = Workspace.open(root)
    ws.crawl("data/sales", "landing")
    drift(root)
    outcome = ws.crawl("data/sales", "landing", CrawlOptions(policy="deprecate")).table("sales")
    assert outcome.action == "deprecated"
    table = ws.lake.external.get("landing.sales")
    assert table is not None and (table.version, table.status) == (1, "deprecated")
    assert [v.event for v in ws.lake.external.history("landing.sales")] == ["created", "deprecated"]
    assert ws.query("SELECT count(*) AS n FROM landing.sales").to_pylist() == [{"n": 8}]
    # the change applied later makes it active again
    outcome = ws.crawl("data/sales", "landing", CrawlOptions(policy="update")).table("sales")
    assert outcome.action == "updated"
    table = ws.lake.external.get("landing.sales")
    assert table is not None and (table.version, table.status) == (2, "active")
    ws.close()


def test_a_folder_whose_files_are_gone_is_deprecated(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data"
    sales_tree(data)
    write(data / "customers" / "c.csv", "cid,name\n1,ann\n")
    ws = Workspace.open(root)
    ws.crawl("data", "landing")
    (data / "customers" / "c.csv").unlink()
    logged = ws.crawl("data", "landing", CrawlOptions(policy="log")).table("customers")
    assert logged.action == "logged"
    assert ws.lake.external.get("landing.customers").status == "active"  # type: ignore[union-attr]
    report = ws.crawl("data", "landing")
    assert report.table("customers").action == "deprecated"
    assert report.table("sales").action == "unchanged"
    assert ws.lake.external.get("landing.customers").status == "deprecated"  # type: ignore[union-attr]
    ws.close()


def test_new_folders_only_adds_new_partitions_and_nothing_else(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data"
    sales_tree(data)
    ws = Workspace.open(root)
    ws.crawl("data", "landing")
    # a new partition, a new file in a known partition, a new dataset, an unfit file
    write(
        data / "sales" / "year=2025" / "month=01" / "part-0.csv",
        "id,amount,day\n202510,1.5,2025-01-10\n",
    )
    write(
        data / "sales" / "year=2024" / "month=01" / "part-1.csv",
        "id,amount,day\n999,1.0,2024-01-30\n",
    )
    write(
        data / "sales" / "year=2025" / "month=02" / "part-0.csv",
        "id,amount,day\nabc,x,2025-02-01\n",
    )
    write(data / "returns" / "r.csv", "id,reason\n1,broken\n")
    report = ws.crawl("data", "landing", CrawlOptions(recrawl="new-folders-only"))
    sales = report.table("sales")
    assert (sales.action, sales.partitions_added, sales.files) == ("updated", 1, 5)
    assert report.table("returns").action == "added"
    assert [s.path for s in report.skipped] == ["sales/year=2025/month=02/part-0.csv"]
    assert "column `id` is VARCHAR here but BIGINT" in report.skipped[0].reason
    assert ws.query(
        "SELECT count(*) AS n, max(id) AS top FROM landing.sales WHERE year >= 2024"
    ).to_pylist() == [{"n": 5, "top": 202510}]  # part-1.csv sits in a known folder: not read
    table = ws.lake.external.get("landing.sales")
    assert table is not None and table.version == 1
    ws.close()


def test_import_loads_iceberg_tables_once_per_change(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data"
    sales_tree(data)
    write(data / "customers" / "c.csv", "cid,name\n1,ann\n2,bob\n")
    ws = Workspace.open(root)
    report = ws.crawl("data", "raw", CrawlOptions(import_files=True))
    assert report.imported and {t.action for t in report.tables} == {"added"}
    assert report.table("sales").rows == 8
    assert ws.lake.tables() == ["raw.customers", "raw.sales"]
    assert ws.lake.external.tables() == []
    assert ws.query(
        "SELECT year, sum(amount) AS a FROM raw.sales GROUP BY 1 ORDER BY 1"
    ).to_pylist() == [
        {"year": 2023, "a": 4.0},
        {"year": 2024, "a": 4.0},
    ]
    snapshots = len(ws.lake.snapshots("raw.sales"))
    assert (
        ws.crawl("data", "raw", CrawlOptions(import_files=True)).table("sales").action
        == "unchanged"
    )
    assert len(ws.lake.snapshots("raw.sales")) == snapshots
    write(data / "customers" / "c2.csv", "cid,name\n3,cy\n")
    outcome = ws.crawl("data", "raw", CrawlOptions(import_files=True)).table("customers")
    assert (outcome.action, outcome.rows) == ("updated", 3)
    assert ws.query("SELECT count(*) AS n FROM raw.customers").to_pylist() == [{"n": 3}]
    # an external table and an Iceberg table never share a name
    assert ws.crawl("data", "raw").table("sales").action == "conflict"
    ws.close()


def test_an_import_that_fails_publishes_nothing_and_the_crawl_goes_on(tmp_path: Path) -> None:
    root = project(tmp_path)
    data = root / "data"
    write(data / "good" / "g.csv", "name\nann\n")
    # the sample says BIGINT; a row far down is not a number
    write(data / "bad" / "b.csv", "qty\n" + "1\n" * 50_000 + "oops\n")
    ws = Workspace.open(root)
    report = ws.crawl("data", "raw", CrawlOptions(import_files=True))
    assert report.table("good").action == "added"
    bad = report.table("bad")
    assert bad.action == "failed" and "oops" in bad.detail
    assert not report.ok and ws.lake.tables() == ["raw.good"]
    ws.close()


def test_models_read_external_tables(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        {
            "gold.by_year": "SELECT year, count(*) AS n, sum(amount) AS amount FROM landing.sales GROUP BY year"
        },
    )
    sales_tree(root / "data")
    ws = Workspace.open(root)
    ws.crawl("data/sales", "landing")
    ws.close()
    ws = Workspace.open(root)
    record = ws.run("models")
    assert [t.task_id for t in record.tasks] == ["gold.by_year"]
    assert ws.query("SELECT * FROM gold.by_year ORDER BY year").to_pylist() == [
        {"year": 2023, "n": 4, "amount": 4.0},
        {"year": 2024, "n": 4, "amount": 4.0},
    ]
    ws.close()


def test_empty_folder_and_missing_folder(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "data").mkdir()
    write(root / "data" / ".keep", "")
    ws = Workspace.open(root)
    with pytest.raises(SourceError, match=r"no files under .*/data"):
        ws.crawl("data", "landing")
    with pytest.raises(SourceError, match="does not exist"):
        ws.crawl("nowhere", "landing")
    with pytest.raises(LakeError, match="namespace `bad-name`"):
        ws.crawl("data", "bad-name")
    ws.close()


def test_registry_schema_version_is_checked(tmp_path: Path) -> None:
    root = project(tmp_path)
    write(root / "data" / "t" / "a.csv", "x\n1\n")
    ws = Workspace.open(root)
    ws.crawl("data", "landing")
    with ws.lake.catalog.engine.begin() as conn:
        conn.execute(sa.text("UPDATE headwater_external_meta SET value = '99'"))
    ws.close()
    ws = Workspace.open(root)
    with pytest.raises(LakeError, match="has schema version 99; this Headwater reads version 1"):
        ws.lake.external.tables()
    ws.close()


def test_cli_crawl_and_external(tmp_path: Path) -> None:
    root = project(tmp_path)
    sales_tree(root / "data")
    write(root / "data" / "sales" / "_SUCCESS", "")
    result = runner.invoke(app, ["crawl", "data", "--namespace", "landing", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "landing.sales" in result.stdout and "added" in result.stdout
    assert "skipped 1: a hidden or marker file" in result.stderr
    assert (
        "tables: 1 added, 0 updated, 0 unchanged; 4 partitions added; 1 of 5 files skipped"
        in result.stderr
    )
    result = runner.invoke(app, ["external", "-p", str(root)])
    assert result.exit_code == 0 and "year, month" in result.stdout
    result = runner.invoke(app, ["external", "landing.sales", "-p", str(root)])
    assert result.exit_code == 0 and "created" in result.stdout and "DATE" in result.stdout
    result = runner.invoke(
        app,
        [
            "query",
            "SELECT count(*) AS n FROM landing.sales WHERE year = 2024",
            "-p",
            str(root),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0 and '"n": 4' in result.stdout
    result = runner.invoke(app, ["crawl", "empty", "-n", "landing", "-p", str(root)])
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_crawl_an_s3_prefix(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    for year in (2023, 2024):
        body = pq_bytes(pa.table({"id": [year * 10 + 1, year * 10 + 2], "amount": [1.0, 2.5]}))
        client.put_object(Bucket=s3_bucket, Key=f"lake/sales/year={year}/part-0.parquet", Body=body)
    client.put_object(
        Bucket=s3_bucket, Key="lake/sales/year=2024/corrupt.parquet", Body=b"PAR1nonsense"
    )
    client.put_object(
        Bucket=s3_bucket,
        Key="lake/clicks/c.jsonl.gz",
        Body=gzip.compress(b'{"page": "/", "ms": 12}\n'),
    )
    root = project(tmp_path)
    ws = Workspace.open(root)
    report = ws.crawl(f"s3://{s3_bucket}/lake", "landing")
    assert sorted(t.name for t in report.tables) == ["landing.clicks", "landing.sales"]
    assert [s.path for s in report.skipped] == ["sales/year=2024/corrupt.parquet"]
    table = ws.lake.external.get("landing.sales")
    assert table is not None and table.location == f"s3://{s3_bucket}/lake/sales"
    assert ws.query(
        "SELECT year, sum(amount) AS a FROM landing.sales WHERE year = 2024 GROUP BY 1"
    ).to_pylist() == [{"year": 2024, "a": 3.5}]
    assert ws.query("SELECT page, ms FROM landing.clicks").to_pylist() == [{"page": "/", "ms": 12}]
    ws.close()

    with pytest.raises(SourceError, match=f"no files under s3://{s3_bucket}/empty"):
        Workspace.open(root).crawl(f"s3://{s3_bucket}/empty", "landing")
    with pytest.raises(SourceError) as info:
        Workspace.open(root).crawl("s3://no-such-bucket/x", "landing")
    assert info.value.message == f"bucket `no-such-bucket` does not exist at {s3_server.endpoint}"


def test_content_detection_without_names() -> None:
    from headwater.lake.crawl.detect import NotData, detect

    def sniff(data: bytes, name: str = "f") -> str:
        found = detect(io.BytesIO(data), name)
        return f"{found.format}/{found.compression or '-'}/{found.delimiter or '-'}"

    assert sniff(b"a;b;c\n1;2;3\n") == "csv/-/;"
    assert sniff(b"a|b\n1|2\n") == "csv/-/|"
    assert sniff(b'a,"b,c"\n1,"2,3"\n') == "csv/-/,"
    assert sniff(b"a\tb\n1\t2\n") == "tsv/-/\t"
    assert sniff(b'  {"a": 1}\n{"a": 2}\n') == "jsonl/-/-"
    assert sniff(b'{\n  "a": 1\n}\n') == "json/-/-"
    assert sniff(gzip.compress(b"[1, 2]")) == "json/gzip/-"
    assert sniff(zstd("x,y\n1,2\n")) == "csv/zstd/,"
    assert sniff(pq_bytes(pa.table({"a": [1]}))) == "parquet/-/-"
    assert sniff(b"just one column\n", "notes.txt") == "csv/-/,"
    for data, why in [
        (b"hello there\nno delimiter\n", "without a delimiter"),
        (b"\x00\x01\x02", "binary content"),
        (b"\xff\xfe\xfa latin", "not UTF-8"),
        (b'{"a": 1}\nnot json\n', "second line is not a JSON object"),
    ]:
        with pytest.raises(NotData, match=why):
            detect(io.BytesIO(data), "f")


def test_duckdb_reads_what_the_registry_says(tmp_path: Path) -> None:
    """The view SQL is plain DuckDB: a session of another tool could run it too."""
    from headwater.lake.crawl.relation import relation

    root = project(tmp_path)
    sales_tree(root / "data")
    ws = Workspace.open(root)
    report: CrawlReport = ws.crawl("data", "landing")
    assert report.table("sales").action == "added"
    table = ws.lake.external.get("landing.sales")
    assert table is not None
    sql = relation(table, ws.lake.external.files("landing.sales"))
    assert "hive_partitioning = true" in sql
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM {sql} WHERE month = 2").fetchone() == (4,)
    ws.close()


def test_a_crawl_through_a_files_connection_queries_with_its_settings(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="drop/orders/o.csv", Body=b"id,total\n1,2.5\n2,4\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key)  # only the project file knows the way
    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.yaml").write_text(
        f"""name: t
connections:
  drop:
    type: files
    url: s3://{s3_bucket}/drop
    s3:
      endpoint_url: {s3_server.endpoint}
      access_key_id: {s3_server.access_key}
      secret_access_key: {s3_server.secret_key}
"""
    )
    ws = Workspace.open(root)
    ws.crawl(f"s3://{s3_bucket}/drop/orders", "landing")
    table = ws.lake.external.get("landing.orders")
    assert table is not None and table.connection == "drop"
    ws.close()
    ws = Workspace.open(root)
    assert ws.query("SELECT sum(total) AS t FROM landing.orders").to_pylist() == [{"t": 6.5}]
    ws.close()
