"""The Iceberg REST catalog's write routes, used by unmodified clients (pyiceberg's RestCatalog,
DuckDB's iceberg extension) over real HTTP: what they write is what Headwater then queries,
lists and maintains, and a stale writer never loses an append."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.exceptions import (
    BadRequestError,
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    TableAlreadyExistsError,
    UnauthorizedError,
)

from headwater import Workspace
from headwater.connect.sql.duckdb_extensions import connect
from headwater.lake.maintenance import Maintenance
from headwater.project import Project
from headwater.project.config import Serve
from headwater.web import create_app
from tests.load_support import SqliteProject
from tests.test_serve_support import TOKEN, serving

pytestmark = pytest.mark.slow
CATALOG_ID = "headwater.catalog-id"  # the table property naming a table's catalog

# a project whose pipeline `p` loads raw.members from SQLite (append, cursor id), served
# with the token TOKEN
MEMBERS = """\
- name: members
  load: {strategy: append, cursor: id}
"""
SERVE = """\
variables:
  api_token: {sensitive: true}
serve:
  tokens: ["${var.api_token}"]
"""

PEOPLE = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> SqliteProject:
    project = SqliteProject(tmp_path_factory.mktemp("rest-writes") / "lakefront", MEMBERS, SERVE)
    project.sql("CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT)")
    return project


@pytest.fixture(scope="module")
def ws(project: SqliteProject) -> Iterator[Workspace]:
    ws = Workspace.open(project.root, {"api_token": TOKEN})
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def url(ws: Workspace) -> Iterator[str]:
    with serving(create_app(ws)) as url:
        yield url


@pytest.fixture
def catalog(url: str) -> RestCatalog:
    return RestCatalog("headwater", uri=url, token=TOKEN)


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def people(*rows: tuple[int, str]) -> pa.Table:
    return pa.Table.from_pylist([{"id": i, "name": n} for i, n in rows], schema=PEOPLE)


def rows(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in ws.query(sql).to_pylist()]


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_pyiceberg_writes_what_headwater_queries_lists_and_maintains(
    catalog: RestCatalog, ws: Workspace
) -> None:
    catalog.create_namespace("crm", {"owner": "sales"})
    assert catalog.load_namespace_properties("crm") == {"owner": "sales"}
    table = catalog.create_table("crm.people", schema=PEOPLE)
    warehouse = ws.lake.warehouse
    assert table.location() == f"{warehouse}/crm/people"
    table.append(people((1, "ada"), (2, "grace")))
    table.append(people((3, "edsger")))

    expected = [(1, "ada"), (2, "grace"), (3, "edsger")]
    assert rows(ws, "SELECT id, name FROM crm.people ORDER BY id") == expected
    listed = {info.name: info for info in ws.tables()}
    assert (listed["crm.people"].rows, listed["crm.people"].files) == (3, 2)
    shown = ws.table("crm.people")
    assert [s.operation for s in shown.snapshots] == ["append", "append"]
    assert [s.rows for s in shown.snapshots] == [2, 3]
    assert shown.snapshots[-1].snapshot_id == table.current_snapshot().snapshot_id
    small = [task.file.file_path for task in table.scan().plan_files()]
    assert len(small) == 2 and all(local(path).exists() for path in small)

    # compaction merges the two small files, expiry drops the appends and deletes those files
    (report,) = ws.maintain("crm.people", Maintenance(keep_last=1))
    assert report.compact is not None and report.expire is not None
    assert (report.compact.rewritten, report.compact.written, report.compact.rows) == (2, 1, 3)
    assert sorted(report.expire.expired) == sorted(s.snapshot_id for s in shown.snapshots)
    assert not any(local(path).exists() for path in small)
    assert rows(ws, "SELECT id, name FROM crm.people ORDER BY id") == expected
    assert ws.lake.info("crm.people").files == 1

    # the client sees Headwater's commit, and appends on top of it
    table = catalog.load_table("crm.people")
    assert len(table.snapshots()) == 1
    table.append(people((4, "barbara")))
    assert rows(ws, "SELECT id FROM crm.people ORDER BY id") == [(1,), (2,), (3,), (4,)]
    assert [s.operation for s in ws.table("crm.people").snapshots] == ["overwrite", "append"]


def test_a_stale_append_is_retried_or_refused_never_lost(
    catalog: RestCatalog, url: str, ws: Workspace
) -> None:
    catalog.create_namespace("sync")
    catalog.create_table("sync.events", schema=PEOPLE).append(people((1, "first")))
    other = RestCatalog("second", uri=url, token=TOKEN)
    mine, theirs = catalog.load_table("sync.events"), other.load_table("sync.events")
    mine.append(people((2, "mine")))
    # `theirs` still holds the first snapshot: the server answers its commit 409, and
    # pyiceberg reloads the table and commits the same files on top of the newer snapshot
    theirs.append(people((3, "theirs")))
    assert rows(ws, "SELECT id, name FROM sync.events ORDER BY id") == [
        (1, "first"),
        (2, "mine"),
        (3, "theirs"),
    ]
    lineage = [(s.snapshot_id, s.parent_id) for s in ws.lake.snapshots("sync.events")]
    assert [parent for _, parent in lineage] == [None, lineage[0][0], lineage[1][0]]

    # with pyiceberg's retries off, the stale client gets the 409 and nothing of it lands
    catalog.create_table(
        "sync.strict", schema=PEOPLE, properties={"commit.retry.num-retries": "0"}
    ).append(people((1, "first")))
    mine, theirs = catalog.load_table("sync.strict"), other.load_table("sync.strict")
    mine.append(people((2, "mine")))
    with pytest.raises(CommitFailedException, match=r"CommitFailedException: table `sync.strict`"):
        theirs.append(people((3, "theirs")))
    assert rows(ws, "SELECT id FROM sync.strict ORDER BY id") == [(1,), (2,)]
    other.load_table("sync.strict").append(people((3, "theirs")))
    assert rows(ws, "SELECT id FROM sync.strict ORDER BY id") == [(1,), (2,), (3,)]


def test_a_staged_create_creates_the_table_with_its_first_commit(
    catalog: RestCatalog, ws: Workspace
) -> None:
    catalog.create_namespace("staged")
    txn = catalog.create_table_transaction("staged.loaded", schema=PEOPLE)
    txn.append(people((1, "ada"), (2, "grace")))
    assert not catalog.table_exists("staged.loaded")
    assert "staged.loaded" not in ws.lake.tables()
    txn.commit_transaction()
    assert rows(ws, "SELECT id, name FROM staged.loaded ORDER BY id") == [(1, "ada"), (2, "grace")]
    assert len(ws.lake.snapshots("staged.loaded")) == 1
    # a second create of the same table, staged or not, is refused
    late = catalog.create_table_transaction("staged.other", schema=PEOPLE)
    catalog.create_table("staged.other", schema=PEOPLE)
    with pytest.raises(CommitFailedException, match="Table already exists"):
        late.commit_transaction()
    with pytest.raises(TableAlreadyExistsError, match="AlreadyExistsException"):
        catalog.create_table("staged.loaded", schema=PEOPLE)


def test_files_outside_the_table_are_refused(
    catalog: RestCatalog, ws: Workspace, tmp_path: Path
) -> None:
    catalog.create_namespace("guarded")
    table = catalog.create_table("guarded.people", schema=PEOPLE)
    table.append(people((1, "ada")))
    outside = tmp_path / "elsewhere.parquet"
    pq.write_table(people((2, "mallory")), outside)
    with pytest.raises(BadRequestError, match=r"data file .*elsewhere\.parquet is outside"):
        table.add_files([str(outside)])
    assert outside.exists()
    with pytest.raises(BadRequestError, match="summary key `headwater.cursor` is Headwater's"):
        table.append(people((3, "eve")), snapshot_properties={"headwater.cursor": "999"})
    assert rows(ws, "SELECT id FROM guarded.people") == [(1,)]
    with pytest.raises(BadRequestError, match="`py-io-impl` configures the catalog server"):
        catalog.create_table("guarded.sneaky", schema=PEOPLE, properties={"py-io-impl": "os.X"})
    with pytest.raises(BadRequestError, match="tables of this catalog live at"):
        catalog.create_table("guarded.moved", schema=PEOPLE, location=f"file://{tmp_path}")
    assert ws.lake.tables("guarded") == ["guarded.people"]


def test_tables_carry_the_catalogs_id_which_clients_cannot_change(
    catalog: RestCatalog, ws: Workspace
) -> None:
    ours = ws.lake.catalog_id
    catalog.create_namespace("owned")
    table = catalog.create_table("owned.people", schema=PEOPLE)
    assert table.properties[CATALOG_ID] == ours
    staged = catalog.create_table_transaction("owned.staged", schema=PEOPLE)
    staged.append(people((1, "ada")))
    staged.commit_transaction()
    assert ws.lake.table_metadata("owned.staged").properties[CATALOG_ID] == ours

    claim = "table property `headwater.catalog-id` = `elsewhere` is not this catalog's id"
    with pytest.raises(BadRequestError, match=claim):
        catalog.create_table("owned.claimed", schema=PEOPLE, properties={CATALOG_ID: "elsewhere"})
    with pytest.raises(BadRequestError, match=claim), table.transaction() as txn:
        txn.set_properties({CATALOG_ID: "elsewhere"})
    removal = "`headwater.catalog-id` cannot be removed"
    with pytest.raises(BadRequestError, match=removal), table.transaction() as txn:
        txn.remove_properties(CATALOG_ID)
    assert ws.lake.table_metadata("owned.people").properties[CATALOG_ID] == ours
    assert ws.lake.tables("owned") == ["owned.people", "owned.staged"]


def test_drops_with_and_without_purge(catalog: RestCatalog, ws: Workspace) -> None:
    catalog.create_namespace("scratch")
    kept = catalog.create_table("scratch.kept", schema=PEOPLE)
    kept.append(people((1, "ada")))
    purged = catalog.create_table("scratch.purged", schema=PEOPLE)
    purged.append(people((1, "ada")))
    kept_files = [local(t.file.file_path) for t in kept.scan().plan_files()]
    purged_files = [local(t.file.file_path) for t in purged.scan().plan_files()]
    with pytest.raises(NamespaceNotEmptyError, match="holds scratch.kept, scratch.purged"):
        catalog.drop_namespace("scratch")

    catalog.drop_table("scratch.kept")
    assert all(path.exists() for path in kept_files)
    assert local(kept.metadata_location).exists()
    catalog.purge_table("scratch.purged")
    assert not any(path.exists() for path in purged_files)
    assert not local(purged.metadata_location).exists()
    assert ws.lake.tables("scratch") == []

    catalog.drop_namespace("scratch")
    assert ("scratch",) not in ws.lake.catalog.list_namespaces()
    with pytest.raises(NoSuchNamespaceError, match="NoSuchNamespaceException"):
        catalog.drop_namespace("scratch")


def test_write_errors_follow_the_spec(
    catalog: RestCatalog, client: httpx.Client, url: str, ws: Workspace
) -> None:
    catalog.create_namespace("errs")
    table = catalog.create_table("errs.t", schema=PEOPLE)
    with pytest.raises(NamespaceAlreadyExistsError, match="namespace `errs` already exists"):
        catalog.create_namespace("errs")

    def error(method: str, path: str, body: Any = None) -> tuple[int, str, str]:
        answer = client.request(method, path, json=body)
        found = answer.json()["error"]
        assert found["code"] == answer.status_code
        return answer.status_code, found["type"], found["message"]

    schema = {"type": "struct", "schema-id": 0, "fields": []}
    assert error("POST", "/v1/namespaces", {"namespace": ["a", "b"]}) == (
        400,
        "BadRequestException",
        "namespace ['a', 'b'] has 2 levels; namespaces here have one",
    )
    assert error("POST", "/v1/namespaces", {"namespace": ["no-dash"]})[2] == (
        "namespace `no-dash` is not a valid name"
    )
    assert error("POST", "/v1/namespaces/nope/tables", {"name": "t", "schema": schema})[:2] == (
        404,
        "NoSuchNamespaceException",
    )
    column = {"id": 1, "name": "a", "type": "nope", "required": False}
    bad = {"name": "u", "schema": {**schema, "fields": [column]}}
    assert error("POST", "/v1/namespaces/errs/tables", bad) == (
        400,
        "BadRequestException",
        "schema.fields[0].type: Unsupported field type: 'nope'",
    )
    assert error("POST", "/v1/namespaces/errs/tables", {"name": "t", "schema": schema}) == (
        409,
        "AlreadyExistsException",
        "table `errs.t` already exists",
    )
    commit = "/v1/namespaces/errs/tables/t"
    assert error("POST", "/v1/namespaces/errs/tables/nope", {"requirements": [], "updates": []})[
        :2
    ] == (404, "NoSuchTableException")
    assert error("POST", commit, {"requirements": [], "updates": [{"action": "frobnicate"}]})[
        2
    ] == ("updates[0]: unknown action `frobnicate`")
    assert error("POST", commit, {"requirements": [{"type": "assert-current-schema-id"}]})[2] == (
        "malformed request: body.updates: Field required"
    )
    assert error(
        "POST",
        commit,
        {"identifier": {"namespace": ["errs"], "name": "other"}, "requirements": [], "updates": []},
    )[2] == ("identifier ['errs', 'other'] is not the table of the path, `errs.t`")
    stale = {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 42}
    code, kind, message = error("POST", commit, {"requirements": [stale], "updates": []})
    assert (code, kind) == (409, "CommitFailedException")
    assert (
        message == "table `errs.t`: Requirement failed: branch or tag main is missing, expected 42"
    )
    snapshot = {
        "snapshot-id": 7,
        "sequence-number": 1,
        "timestamp-ms": 1_700_000_000_000,
        "manifest-list": "file:///etc/passwd",
        "summary": {"operation": "append"},
        "schema-id": 0,
    }
    assert error(
        "POST",
        commit,
        {"requirements": [], "updates": [{"action": "add-snapshot", "snapshot": snapshot}]},
    )[2] == (
        f"the manifest list file:///etc/passwd is outside the table's location {table.location()}"
    )
    for method, path, body in (
        ("POST", "/v1/namespaces/errs/register", {"name": "x", "metadata-location": "/x"}),
        ("POST", "/v1/namespaces/errs/properties", {"updates": {"a": "b"}}),
        ("POST", "/v1/tables/rename", {}),
        ("POST", "/v1/transactions/commit", {"table-changes": []}),
    ):
        assert error(method, path, body)[:2] == (406, "UnsupportedOperationException"), path
    assert catalog.load_table("errs.t").metadata_location == table.metadata_location

    config = client.get("/v1/config").json()["endpoints"]
    for route in (
        "POST /v1/{prefix}/namespaces",
        "DELETE /v1/{prefix}/namespaces/{namespace}",
        "POST /v1/{prefix}/namespaces/{namespace}/tables",
        "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
        "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    ):
        assert route in config
    assert "POST /v1/{prefix}/transactions/commit" not in config

    # writes ask for the token as every route does
    anonymous = httpx.post(f"{url}/v1/namespaces", json={"namespace": ["intruder"]})
    assert anonymous.status_code == 401
    assert json.loads(anonymous.text)["error"]["type"] == "NotAuthorizedException"
    with pytest.raises(UnauthorizedError, match="NotAuthorizedException"):
        RestCatalog("headwater", uri=url, token="wrong").create_namespace("intruder")
    assert ("intruder",) not in ws.lake.catalog.list_namespaces()


def test_duckdb_creates_and_inserts_through_the_catalog(
    catalog: RestCatalog, ws: Workspace
) -> None:
    catalog.create_namespace("shared")
    catalog.create_table("shared.people", schema=PEOPLE).append(people((1, "ada")))
    # the same project served without tokens, as DuckDB's `AUTHORIZATION_TYPE 'none'` expects
    config = ws.project.config.model_copy(update={"serve": Serve()})
    open_ws = Workspace(Project(ws.project.root, config, ws.project.variables))
    con = connect("httpfs", "avro", "iceberg")
    try:
        with serving(create_app(open_ws)) as url:
            con.execute(
                f"ATTACH 'lakefront' AS lake (TYPE iceberg, ENDPOINT '{url}', "
                "AUTHORIZATION_TYPE 'none')"
            )
            con.execute("CREATE SCHEMA lake.duck")
            # a staged create: the table exists once the commit holding its rows lands
            con.execute(
                "CREATE TABLE lake.duck.squares AS SELECT i, i * i AS sq FROM range(4) t(i)"
            )
            assert rows(ws, "SELECT i, sq FROM duck.squares ORDER BY i") == [
                (0, 0),
                (1, 1),
                (2, 4),
                (3, 9),
            ]
            con.execute("CREATE TABLE lake.duck.orders (id INTEGER, status VARCHAR)")
            con.execute("INSERT INTO lake.duck.orders VALUES (1, 'new'), (2, 'paid')")
            con.execute("INSERT INTO lake.duck.orders VALUES (3, 'shipped')")
            con.execute("INSERT INTO lake.shared.people VALUES (2, 'duck')")
            # a DuckDB transaction that read the table before another client appended: the
            # server answers its commit 409 and DuckDB fails it; the other append stays
            con.execute("BEGIN")
            assert con.execute("SELECT count(*) FROM lake.shared.people").fetchone() == (2,)
            catalog.load_table("shared.people").append(people((3, "pyiceberg")))
            con.execute("INSERT INTO lake.shared.people VALUES (4, 'stale duck')")
            with pytest.raises(duckdb.TransactionException, match="CommitFailedException"):
                con.execute("COMMIT")
            assert rows(ws, "SELECT id, status FROM duck.orders ORDER BY id") == [
                (1, "new"),
                (2, "paid"),
                (3, "shipped"),
            ]
            assert [s.operation for s in ws.lake.snapshots("duck.orders")] == ["append", "append"]
            assert ws.lake.table("duck.orders").location() == f"{ws.lake.warehouse}/duck/orders"
            assert rows(ws, "SELECT id, name FROM shared.people ORDER BY id") == [
                (1, "ada"),
                (2, "duck"),
                (3, "pyiceberg"),
            ]
            (report,) = ws.maintain("duck.orders", Maintenance(keep_last=1))
            assert report.compact is not None and report.compact.rewritten == 2
            assert con.execute("SELECT count(*), sum(id) FROM lake.duck.orders").fetchone() == (
                3,
                6,
            )
            # row-level deletes would leave delete files, which Headwater does not read: the
            # tables created here ask for copy-on-write (DuckDB refuses), and a commit adding
            # delete files to another table is refused by the server
            with pytest.raises(duckdb.NotImplementedException, match="only supports merge-on-read"):
                con.execute("DELETE FROM lake.duck.orders WHERE id = 1")
            catalog.create_table(
                "shared.mor", schema=PEOPLE, properties={"write.delete.mode": "merge-on-read"}
            ).append(people((1, "ada"), (2, "grace")))
            with pytest.raises(duckdb.TransactionException, match="the snapshot adds delete files"):
                con.execute("DELETE FROM lake.shared.mor WHERE id = 1")
            assert rows(ws, "SELECT id FROM shared.mor ORDER BY id") == [(1,), (2,)]

            con.execute("DROP TABLE lake.duck.orders")
            assert ws.lake.tables("duck") == ["duck.squares"]
    finally:
        con.close()
        open_ws.close()


def test_concurrent_appends_land_or_fail_whole(url: str, ws: Workspace) -> None:
    first = RestCatalog("headwater", uri=url, token=TOKEN)
    first.create_namespace("busy")
    first.create_table("busy.events", schema=PEOPLE, properties={"commit.retry.num-retries": "10"})
    landed: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        catalog = RestCatalog(f"writer{worker}", uri=url, token=TOKEN)
        for i in range(3):
            key = worker * 10 + i
            try:
                catalog.load_table("busy.events").append(people((key, f"w{worker}")))
            except CommitFailedException:
                with lock:
                    refused.append(key)
            else:
                with lock:
                    landed.append(key)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(landed + refused) == [w * 10 + i for w in range(4) for i in range(3)]
    assert rows(ws, "SELECT id FROM busy.events ORDER BY id") == [(k,) for k in sorted(landed)]
    assert len(ws.lake.snapshots("busy.events")) == len(landed)


def test_writes_under_the_catalog_prefix(ws: Workspace) -> None:
    config = ws.project.config.model_copy(
        update={"serve": Serve(tokens=ws.project.config.serve.tokens, catalog_prefix="lake")}
    )
    prefixed = Workspace(Project(ws.project.root, config, ws.project.variables))
    try:
        with serving(create_app(prefixed)) as url:
            catalog = RestCatalog("headwater", uri=url, token=TOKEN)
            assert catalog.properties["prefix"] == "lake"
            catalog.create_namespace("prefixed")
            catalog.create_table("prefixed.people", schema=PEOPLE).append(people((1, "ada")))
            catalog.drop_table("prefixed.people")
            catalog.create_table("prefixed.kept", schema=PEOPLE).append(people((2, "grace")))
    finally:
        prefixed.close()
    assert ws.lake.tables("prefixed") == ["prefixed.kept"]
    assert rows(ws, "SELECT id, name FROM prefixed.kept") == [(2, "grace")]


def test_a_headwater_load_keeps_its_cursor_through_rest_writes(
    catalog: RestCatalog, project: SqliteProject, ws: Workspace
) -> None:
    insert = "INSERT INTO members VALUES (?, ?)"
    project.sql(insert, [(1, "ada"), (2, "grace")])
    ws.run("p")
    table = catalog.load_table("raw.members")
    loaded = table.current_snapshot().snapshot_id
    schema = table.schema().as_arrow()
    table.append(pa.Table.from_pylist([{"id": 100, "name": "from pyiceberg"}], schema=schema))
    # the snapshots back to the last load's hold its cursor: a client may not remove them,
    # nor write Headwater's state keys
    with pytest.raises(BadRequestError, match=f"snapshot {loaded} cannot be removed"):
        table.maintenance.expire_snapshots().by_id(loaded).commit()
    with pytest.raises(BadRequestError, match="summary key `headwater.cursor` is Headwater's"):
        table.append(
            pa.Table.from_pylist([{"id": 101, "name": "x"}], schema=schema),
            snapshot_properties={"headwater.cursor": "0"},
        )
    project.sql(insert, [(3, "edsger")])
    ws.run("p")  # reads from its cursor (2): the REST append is neither lost nor duplicated
    assert rows(ws, "SELECT id FROM raw.members ORDER BY id") == [(1,), (2,), (3,), (100,)]
