"""S3 storage on a real S3 API (moto server on 127.0.0.1): listing, keys, errors, settings,
a file source on S3, and a lake whose warehouse is an S3 bucket."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import settings as moto_settings

from headwater import Workspace
from headwater.connect.storage import open_storage
from headwater.connect.storage.s3 import S3Access, S3Storage
from headwater.errors import LakeError, ProjectFileError, RunFailed, SourceError
from headwater.project import load_project
from headwater.project.files import S3Config
from tests.services import S3Server


def put(server: S3Server, bucket: str, key: str, body: bytes | str) -> str:
    data = body.encode() if isinstance(body, str) else body
    reply = server.client().put_object(Bucket=bucket, Key=key, Body=data)
    return str(reply["ETag"]).strip('"')


def storage(server: S3Server, url: str) -> S3Storage:
    return S3Storage(url, S3Access.resolve(S3Config(endpoint_url=server.endpoint)))


@pytest.fixture
def refusing_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto checks credentials from now on (it accepts any by default)."""
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield


def test_lists_by_glob_with_size_and_etag_and_opens(s3_server: S3Server, s3_bucket: str) -> None:
    tags = {
        key: put(s3_server, s3_bucket, f"landing/{key}", f"id\n{i}\n")
        for i, key in enumerate(["a.csv", "b.txt", "day=1/c.csv", "day=2/d.csv", ".hidden.csv"])
    }
    put(s3_server, s3_bucket, "elsewhere/e.csv", "id\n9\n")
    store = open_storage(f"s3://{s3_bucket}/landing/", Path("."))
    assert store.root == f"s3://{s3_bucket}/landing"

    entries = list(store.list("**/*.csv"))
    assert [e.path for e in entries] == ["a.csv", "day=1/c.csv", "day=2/d.csv"]
    assert [e.version for e in entries] == [tags["a.csv"], tags["day=1/c.csv"], tags["day=2/d.csv"]]
    assert [e.size for e in entries] == [5, 5, 5]
    assert entries[1].location == f"s3://{s3_bucket}/landing/day=1/c.csv"
    assert [e.path for e in store.list("day=*/*.csv")] == ["day=1/c.csv", "day=2/d.csv"]
    assert [e.path for e in store.list("*.csv")] == ["a.csv"]
    assert list(store.list("nothing/*.csv")) == []
    with store.open("day=2/d.csv") as f:
        assert f.read() == b"id\n3\n"

    # a rewritten object gets a new version: the file source reads it again
    put(s3_server, s3_bucket, "landing/a.csv", "id\n10\n")
    assert next(iter(store.list("a.csv"))).version not in (tags["a.csv"], "")


@pytest.mark.parametrize("key", ["../secret.csv", "/etc/passwd", "a/../../b.csv", "./a.csv", ""])
def test_keys_outside_the_root_are_refused(s3_server: S3Server, s3_bucket: str, key: str) -> None:
    store = storage(s3_server, f"s3://{s3_bucket}/landing")
    with pytest.raises(SourceError, match=f"object key `{key}` is not a path inside"):
        store.open(key)
    with pytest.raises(SourceError, match="is not a path inside"):
        list(store.list("../*.csv"))


def test_missing_bucket_names_endpoint_and_bucket(s3_server: S3Server) -> None:
    store = storage(s3_server, "s3://no-such-bucket/x")
    expected = f"bucket `no-such-bucket` does not exist at {s3_server.endpoint}"
    with pytest.raises(SourceError, match=expected) as info:
        list(store.list("*.csv"))
    assert info.value.hint == "create it or fix the url"
    with pytest.raises(SourceError, match=expected):
        store.check()


def test_wrong_credentials_name_endpoint_and_bucket(
    s3_server: S3Server, s3_bucket: str, refusing_credentials: None
) -> None:
    access = S3Access.resolve(
        S3Config(
            endpoint_url=s3_server.endpoint, access_key_id="AKIAWRONG", secret_access_key="wrong"
        )  # type: ignore[arg-type]
    )
    store = S3Storage(f"s3://{s3_bucket}/x", access, "connections.drop.url")
    with pytest.raises(SourceError) as info:
        list(store.list("*.csv"))
    assert (
        f"access to bucket `{s3_bucket}` at {s3_server.endpoint} was refused" in info.value.message
    )
    assert "AWS_ACCESS_KEY_ID" in (info.value.hint or "")
    assert "connections.drop.url" in (info.value.hint or "")
    with pytest.raises(SourceError, match="was refused"):
        store.check()


def test_settings_come_from_the_project_then_the_environment_then_the_profile(
    tmp_path: Path,
) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defaultsecret\n"
        "[work]\naws_access_key_id = WORKKEY\naws_secret_access_key = worksecret\n"
    )
    (aws / "config").write_text(
        "[profile work]\nregion = eu-west-3\nendpoint_url = http://minio.local:9000\n"
    )
    env = {"AWS_PROFILE": "work"}
    access = S3Access.resolve(None, env, tmp_path)
    assert (access.key_id, access.region, access.endpoint) == (
        "WORKKEY",
        "eu-west-3",
        "http://minio.local:9000",
    )
    assert access.secret is not None and access.secret.get_secret_value() == "worksecret"
    assert access.path_style  # an endpoint of its own: bucket in the path

    # AWS_* variables beat AWS_PROFILE (as with the AWS tools); the project file beats both
    env.update(
        AWS_ACCESS_KEY_ID="ENVKEY",
        AWS_SECRET_ACCESS_KEY="envsecret",
        AWS_ENDPOINT_URL="http://127.0.0.1:9999",
        AWS_REGION="us-west-2",
    )
    access = S3Access.resolve(None, env, tmp_path)
    assert (access.key_id, access.region, access.endpoint) == (
        "ENVKEY",
        "us-west-2",
        "http://127.0.0.1:9999",
    )
    config = S3Config(
        endpoint_url="https://s3.example.com",
        region="ap-south-1",
        access_key_id="FILEKEY",
        secret_access_key="filesecret",  # type: ignore[arg-type]
        path_style=False,
    )
    access = S3Access.resolve(config, env, tmp_path)
    assert (access.key_id, access.region, access.endpoint, access.path_style) == (
        "FILEKEY",
        "ap-south-1",
        "https://s3.example.com",
        False,
    )
    assert access.iceberg_properties() == {
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        "s3.region": "ap-south-1",
        "s3.endpoint": "https://s3.example.com",
        "s3.access-key-id": "FILEKEY",
        "s3.secret-access-key": "filesecret",
        "s3.force-virtual-addressing": "true",
    }
    # nothing at all: AWS itself, anonymous requests, the default region
    access = S3Access.resolve(None, {}, tmp_path / "nowhere")
    assert (access.endpoint, access.region, access.key_id) == (None, "us-east-1", None)
    assert access.iceberg_properties()["s3.anonymous"] == "true"

    with pytest.raises(SourceError, match="AWS profile `nope` is not in"):
        S3Access.resolve(None, {"AWS_PROFILE": "nope"}, tmp_path)
    with pytest.raises(SourceError, match="S3 endpoint `127.0.0.1:9000` is not an http"):
        S3Access.resolve(S3Config(endpoint_url="127.0.0.1:9000"), {}, tmp_path)


def test_s3_settings_only_on_s3_urls(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: t\nconnections:\n  drop:\n    type: files\n    url: data\n"
        "    s3: {endpoint_url: 'http://127.0.0.1:9000'}\n"
    )
    with pytest.raises(ProjectFileError, match="`s3` settings apply to an s3:// url") as info:
        load_project(tmp_path)
    assert info.value.line == 3


def write_project(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.yaml").write_text("name: t\n" + body, encoding="utf-8")
    return root


def test_file_source_on_s3_loads_new_files_only(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # credentials given as sensitive variables, not from the environment
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("HEADWATER_VAR_S3_SECRET", s3_server.secret_key)
    put(s3_server, s3_bucket, "drop/trips/a.csv", "id,km\n1,1.5\n2,2.5,extra\n3,3.5\n")
    root = write_project(
        tmp_path / "p",
        f"""
variables:
  s3_endpoint: {s3_server.endpoint}
  s3_key: {s3_server.access_key}
  s3_secret: {{sensitive: true}}
connections:
  drop:
    type: files
    url: s3://{s3_bucket}/drop
    s3:
      endpoint_url: ${{var.s3_endpoint}}
      access_key_id: ${{var.s3_key}}
      secret_access_key: ${{var.s3_secret}}
sources:
  files:
    connection: drop
    load: append
    tables:
      - {{name: trips, glob: "trips/*.csv*", file_column: source_file}}
pipelines:
  p:
    tasks:
      - ingest: files
""",
    )
    ws = Workspace.open(root)
    record = ws.run("p")
    assert record.variables is not None and record.variables["s3_secret"] == "***"
    rows = ws.query("SELECT id, km, source_file FROM raw.trips ORDER BY id").to_pylist()
    assert rows == [
        {"id": 1, "km": 1.5, "source_file": "trips/a.csv"},
        {"id": 3, "km": 3.5, "source_file": "trips/a.csv"},
    ]
    rejected = ws.query("SELECT location, record FROM raw.trips__quarantine").to_pylist()
    assert rejected == [{"location": "trips/a.csv:3", "record": "2,2.5,extra"}]

    put(s3_server, s3_bucket, "drop/trips/b.csv.gz", gzip.compress(b"id,km\n4,4.5\n"))
    record = ws.run("p")
    assert record.tasks[0].rows == 1  # only the new object was read
    assert ws.query("SELECT sum(id) AS s FROM raw.trips").to_pylist() == [{"s": 8}]
    ws.close()


def test_file_source_on_a_missing_bucket_fails_clearly(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    root = write_project(
        tmp_path / "p",
        """
connections:
  drop: {type: files, url: "s3://no-such-bucket/drop"}
sources:
  files:
    connection: drop
    attempts: 1
    tables:
      - {name: trips, glob: "*.csv"}
pipelines:
  p:
    tasks:
      - ingest: files
""",
    )
    ws = Workspace.open(root)
    with pytest.raises(RunFailed) as info:
        ws.run("p")
    assert f"bucket `no-such-bucket` does not exist at {s3_server.endpoint}" in str(info.value)
    assert "connections.drop.url" in str(info.value)
    ws.close()


@pytest.mark.slow
def test_warehouse_on_s3_load_model_and_query(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    root = write_project(
        tmp_path / "p",
        f"""
lake:
  warehouse: s3://{s3_bucket}/lake
  s3: {{endpoint_url: "{s3_server.endpoint}", region: us-east-1}}
connections:
  drop: {{type: files, url: data}}
sources:
  files:
    connection: drop
    load: append
    tables:
      - {{name: orders, glob: "orders/*.csv"}}
checks:
  raw.orders: [{{not_null: id}}]
pipelines:
  p:
    tasks:
      - ingest: files
      - models: gold
""",
    )
    (root / "data" / "orders").mkdir(parents=True)
    (root / "data" / "orders" / "a.csv").write_text(
        "id,customer,amount\n1,ann,10.5\n2,bob,4\n3,ann,1\n"
    )
    model = root / "models" / "gold" / "spend.sql"
    model.parent.mkdir(parents=True)
    model.write_text("SELECT customer, sum(amount) AS total FROM raw.orders GROUP BY customer")

    ws = Workspace.open(root)
    ws.run("p")
    assert ws.query("SELECT * FROM gold.spend ORDER BY customer").to_pylist() == [
        {"customer": "ann", "total": 11.5},
        {"customer": "bob", "total": 4.0},
    ]
    # the table files are objects in the bucket, not local files
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("lake/") and "spend" in k and k.endswith(".parquet") for k in keys)
    assert all(p.startswith(f"s3://{s3_bucket}/lake/") for p in ws.lake.data_files("gold.spend"))
    assert not (root / ".headwater" / "warehouse").exists()

    (root / "data" / "orders" / "b.csv").write_text("id,customer,amount\n4,bob,6\n")
    ws.run("p")
    assert ws.query("SELECT total FROM gold.spend WHERE customer = 'bob'").to_pylist() == [
        {"total": 10.0}
    ]
    assert ws.query("SELECT count(*) AS n FROM raw.orders WHERE id > 1").to_pylist() == [{"n": 3}]
    ws.close()

    # a fresh process sees the same tables, through the catalog and the bucket
    ws = Workspace.open(root)
    assert ws.lake.tables() == ["gold.spend", "raw.orders"]
    assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 4}]
    ws.close()


def test_warehouse_in_a_missing_bucket_fails_clearly(tmp_path: Path, s3_server: S3Server) -> None:
    root = write_project(
        tmp_path / "p",
        f"lake:\n  warehouse: s3://no-such-bucket/lake\n  s3: {{endpoint_url: '{s3_server.endpoint}'}}\n",
    )
    ws = Workspace.open(root)
    with pytest.raises(LakeError) as info:
        ws.lake  # noqa: B018
    assert str(info.value) == (
        f"bucket `no-such-bucket` does not exist at {s3_server.endpoint} — "
        "create it or fix lake.warehouse"
    )


@pytest.mark.postgres
def test_warehouse_on_s3_merge_and_duckdb_copy_loads(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, postgres_url: str
) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (id int primary key, name text, qty int)")
        conn.exec_driver_sql("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
    root = write_project(
        tmp_path / "p",
        f"""
lake:
  warehouse: s3://{s3_bucket}/lake
  s3: {{endpoint_url: "{s3_server.endpoint}", region: us-east-1}}
connections:
  shop: {{type: sql, url: "{postgres_url}"}}
sources:
  full:
    connection: shop
    namespace: copied
    tables: [items]
  merged:
    connection: shop
    namespace: merged
    load: {{strategy: merge, primary_key: [id]}}
    tables: [items]
pipelines:
  p:
    tasks:
      - ingest: full
      - ingest: merged
""",
    )
    ws = Workspace.open(root)
    ws.run("p")  # a full load from PostgreSQL is DuckDB's COPY straight into the bucket
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE items SET qty = 20 WHERE id = 2")
        conn.exec_driver_sql("INSERT INTO items VALUES (3, 'c', 3)")
    ws.run("p")  # the second merge compares against the table's files in the bucket
    expected = [(1, "a", 1), (2, "b", 20), (3, "c", 3)]
    for table in ("copied.items", "merged.items"):
        rows = ws.query(f"SELECT id, name, qty FROM {table} ORDER BY id").to_pylist()
        assert [tuple(r.values()) for r in rows] == expected
        assert all(p.startswith(f"s3://{s3_bucket}/lake/") for p in ws.lake.data_files(table))
    ws.close()
    engine.dispose()
