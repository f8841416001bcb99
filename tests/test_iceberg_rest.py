"""The Iceberg REST catalog of `headwater serve`, read by unmodified clients: pyiceberg's
RestCatalog and DuckDB's iceberg extension, over real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import NoSuchTableError, UnauthorizedError

from headwater import Workspace
from headwater.connect.sql.duckdb_extensions import connect
from headwater.project import Project
from headwater.project.config import Serve
from headwater.web import create_app
from tests.test_serve_support import FIRST_ROWS, TOKEN, build_project, serving, workspace

pytestmark = pytest.mark.slow

TABLES = ("raw.orders", "gold.status_totals")  # loaded by Headwater, and written by DuckDB


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = build_project(tmp_path_factory.mktemp("rest") / "shop").root
    ws = workspace(root)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def url(ws: Workspace) -> Iterator[str]:
    with serving(create_app(ws)) as url:
        yield url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def sorted_rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda row: json.dumps(row, default=str))


def test_pyiceberg_lists_loads_and_scans(url: str, ws: Workspace) -> None:
    catalog = RestCatalog("headwater", uri=url, token=TOKEN)
    assert catalog.list_namespaces() == [("gold",), ("raw",)]
    assert catalog.list_tables("raw") == [("raw", "orders")]
    assert catalog.list_tables("gold") == [("gold", "status_totals")]
    assert catalog.namespace_exists("raw") and not catalog.namespace_exists("silver")
    assert catalog.table_exists("raw.orders") and not catalog.table_exists("raw.nope")
    assert catalog.load_namespace_properties("raw") == {}
    for name in TABLES:
        table = catalog.load_table(name)
        ours = ws.lake.table(name)
        assert table.metadata_location == ours.metadata_location
        assert [s.snapshot_id for s in table.snapshots()] == [
            s.snapshot_id for s in ours.snapshots()
        ]
        expected = ws.query(f"SELECT * FROM {name}")
        assert sorted_rows(table.scan().to_arrow()) == sorted_rows(expected)
    # an Iceberg scan plans with the table's own files: a filter and a past snapshot work too
    orders = catalog.load_table("raw.orders")
    first = orders.snapshots()[0].snapshot_id
    assert orders.scan(snapshot_id=first).to_arrow().num_rows == FIRST_ROWS
    shipped = orders.scan(row_filter="status = 'shipped' AND id <= 12").to_arrow()
    assert sorted(shipped.column("id").to_pylist()) == [2, 6, 10]


def test_load_table_answers_the_metadata_file(client: httpx.Client, ws: Workspace) -> None:
    table = ws.lake.table("raw.orders")
    answer = client.get("/v1/namespaces/raw/tables/orders")
    assert answer.status_code == 200
    body = answer.json()
    assert body["metadata-location"] == table.metadata_location
    assert body["metadata"] == json.loads(Path(table.metadata_location[7:]).read_text())
    assert body["config"] == {}
    etag = answer.headers["ETag"]
    again = client.get("/v1/namespaces/raw/tables/orders", headers={"If-None-Match": etag})
    assert again.status_code == 304
    refs = client.get("/v1/namespaces/raw/tables/orders", params={"snapshots": "refs"}).json()
    current = body["metadata"]["current-snapshot-id"]
    assert len(body["metadata"]["snapshots"]) == 2
    assert [s["snapshot-id"] for s in refs["metadata"]["snapshots"]] == [current]
    assert client.head("/v1/namespaces/raw/tables/orders").status_code == 204
    assert client.head("/v1/namespaces/raw/tables/nope").status_code == 404
    assert client.head("/v1/namespaces/raw").status_code == 204
    assert client.head("/v1/namespaces/nope").status_code == 404


def test_errors_follow_the_spec(client: httpx.Client, url: str) -> None:
    missing = client.get("/v1/namespaces/raw/tables/order")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NoSuchTableException"
    assert "did you mean `raw.orders`" in missing.json()["error"]["message"]
    namespace = client.get("/v1/namespaces/silver/tables")
    assert namespace.status_code == 404
    assert namespace.json()["error"]["type"] == "NoSuchNamespaceException"
    # the write routes are tested in test_iceberg_rest_writes.py; these are not offered
    unsupported = [
        ("POST", "/v1/namespaces/raw/properties", {"updates": {"owner": "me"}}),
        ("POST", "/v1/namespaces/raw/register", {"name": "t", "metadata-location": "/x"}),
        ("POST", "/v1/tables/rename", {}),
        ("POST", "/v1/transactions/commit", {"table-changes": []}),
    ]
    for method, path, body in unsupported:
        answer = client.request(method, path, json=body)
        assert answer.status_code == 406, path
        assert answer.json()["error"]["type"] == "UnsupportedOperationException"
        assert answer.json()["error"]["code"] == 406
    catalog = RestCatalog("headwater", uri=url, token=TOKEN)
    with pytest.raises(NoSuchTableError, match="NoSuchTableException"):
        catalog.load_table("raw.order")
    with pytest.raises(UnauthorizedError, match="NotAuthorizedException"):
        RestCatalog("headwater", uri=url, token="wrong").list_namespaces()
    with pytest.raises(UnauthorizedError):
        RestCatalog("headwater", uri=url)


def test_a_catalog_prefix(ws: Workspace) -> None:
    config = ws.project.config.model_copy(
        update={"serve": Serve(tokens=ws.project.config.serve.tokens, catalog_prefix="lake")}
    )
    prefixed = Workspace(Project(ws.project.root, config, ws.project.variables))
    with serving(create_app(prefixed)) as url:
        catalog = RestCatalog("headwater", uri=url, token=TOKEN)
        assert catalog.properties["prefix"] == "lake"
        assert catalog.list_tables("raw") == [("raw", "orders")]
        assert catalog.load_table("raw.orders").scan().to_arrow().num_rows == 30_000
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers) as client:
            assert client.get("/v1/lake/namespaces").json() == {"namespaces": [["gold"], ["raw"]]}
            other = client.get("/v1/elsewhere/namespaces")
            assert other.status_code == 404
            assert other.json()["error"]["type"] == "NoSuchCatalogException"
            assert client.get("/v1/namespaces").status_code == 200  # no prefix: the same catalog


def test_duckdb_reads_through_the_catalog(client: httpx.Client, url: str, ws: Workspace) -> None:
    con = connect("httpfs", "avro", "iceberg")
    try:
        for name in TABLES:
            namespace, table = name.split(".")
            location = client.get(f"/v1/namespaces/{namespace}/tables/{table}").json()[
                "metadata-location"
            ]
            scanned = con.execute(f"SELECT * FROM iceberg_scan('{location}')").to_arrow_table()
            assert sorted_rows(scanned) == sorted_rows(ws.query(f"SELECT * FROM {name}"))
        con.execute(f"CREATE SECRET headwater (TYPE iceberg, TOKEN '{TOKEN}')")
        con.execute(
            f"ATTACH 'headwater' AS lake (TYPE iceberg, ENDPOINT '{url}', SECRET headwater)"
        )
        attached = con.execute(
            "SELECT status, count(*) AS orders FROM lake.raw.orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
        expected = ws.query("SELECT status, orders FROM gold.status_totals ORDER BY 1")
        assert attached == [tuple(r.values()) for r in expected.to_pylist()]
        model = con.execute("SELECT sum(orders) FROM lake.gold.status_totals").fetchone()
        assert model == (30_000,)
    finally:
        con.close()
