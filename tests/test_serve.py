"""`headwater serve`: the query API and table metadata over real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from fastapi import FastAPI

from headwater import Workspace
from headwater.web import create_app
from headwater.web.errors import install as install_errors
from tests.test_serve_support import (
    ADDED_ROWS,
    FIRST_ROWS,
    TOKEN,
    build_project,
    serving,
    workspace,
)

pytestmark = pytest.mark.slow

ORDERS = "SELECT id, status, amount, day FROM raw.orders ORDER BY id"
ENDLESS = "SELECT count(*) FROM range(1000000000000) AS a(i) WHERE i % 7 = 3"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("serve") / "shop").root


@pytest.fixture(scope="module")
def ws(root: Path) -> Iterator[Workspace]:
    ws = workspace(root)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def url(ws: Workspace) -> Iterator[str]:
    with serving(create_app(ws)) as url:
        yield url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        yield client


def rows_of(table: pa.Table) -> list[list[Any]]:
    return [list(row.values()) for row in table.to_pylist()]


def test_every_route_needs_the_token(url: str) -> None:
    with httpx.Client(base_url=url) as anonymous:
        missing = anonymous.get("/v1/tables")
        wrong = anonymous.get("/v1/tables", headers={"Authorization": "Bearer nope"})
        catalog = anonymous.get("/v1/config")
        query = anonymous.post("/v1/query", json={"sql": "SELECT 1"})
        docs = anonymous.get("/docs")
        anonymous_spec = anonymous.get("/openapi.json")
        spec = anonymous.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    for answer in (missing, wrong, catalog, query, anonymous_spec):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["error"]["type"] == "NotAuthorizedException"
    assert "not one of this server's tokens" in wrong.json()["error"]["message"]
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"/v1/query", "/v1/tables", "/v1/tables/{name}", "/v1/config"} <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_the_docs_page_is_served_from_the_package(url: str) -> None:
    """/docs loads every asset from this server (no CDN: it works offline) and shows nothing
    of the project before the token is given: the OpenAPI document asks for it."""
    with httpx.Client(base_url=url) as anonymous:
        page = anonymous.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = {asset: anonymous.get(f"/{asset}") for asset in assets}
    assert page.headers["content-type"].startswith("text/html")
    assert sorted(assets) == [
        "docs/assets/swagger-ui-bundle.js",
        "docs/assets/swagger-ui.css",
        "docs/headwater.js",
    ]
    assert all(answer.status_code == 200 for answer in fetched.values())
    assert "SwaggerUIBundle" in fetched["docs/assets/swagger-ui-bundle.js"].text
    script = fetched["docs/headwater.js"].text
    assert 'url: "openapi.json"' in script and '"Bearer " + token' in script
    assert "<title>Headwater API</title>" in page.text and "http" not in page.text


def test_tables_and_a_table(client: httpx.Client, ws: Workspace) -> None:
    listed = {t["name"]: t for t in client.get("/v1/tables").json()["tables"]}
    assert set(listed) == {"raw.orders", "gold.status_totals"}
    assert listed["raw.orders"]["rows"] == FIRST_ROWS + ADDED_ROWS
    assert listed["raw.orders"]["snapshot_id"] == ws.lake.info("raw.orders").snapshot_id

    detail = client.get("/v1/tables/raw.orders").json()
    schema = ws.lake.arrow_schema("raw.orders")
    assert [(c["name"], c["type"]) for c in detail["columns"]] == [
        (f.name, str(f.type)) for f in schema
    ]
    snapshots = ws.lake.snapshots("raw.orders")
    assert [s["snapshot_id"] for s in detail["snapshots"]] == [s.snapshot_id for s in snapshots]
    assert [s["rows"] for s in detail["snapshots"]] == [FIRST_ROWS, FIRST_ROWS + ADDED_ROWS]
    assert detail["snapshots"][1]["summary"]["headwater.task"] == "raw.orders"
    assert detail["properties"] == dict(ws.lake.table("raw.orders").properties)
    assert detail["cursor"] == FIRST_ROWS + ADDED_ROWS  # the largest id loaded

    missing = client.get("/v1/tables/raw.order")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": "table `raw.order` is not in the catalog (did you mean `raw.orders`?)",
        "type": "TableNotFound",
        "code": 404,
        "hint": "list tables with `headwater tables`; a pipeline run creates them",
    }


def test_json_pages_hold_the_whole_result_once(client: httpx.Client, ws: Workspace) -> None:
    expected = rows_of(ws.query(ORDERS))
    page = client.post("/v1/query", json={"sql": ORDERS, "page_size": 7_000}).json()
    assert page["columns"] == [
        {"name": "id", "type": "int64"},
        {"name": "status", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "day", "type": "string"},
    ]
    rows, pages = list(page["rows"]), 1
    while page["next_page_token"]:
        body = {"page_token": page["next_page_token"], "page_size": 7_000}
        page = client.post("/v1/query", json=body).json()
        rows.extend(page["rows"])
        pages += 1
        assert page["row_count"] == len(page["rows"])
    assert pages == math.ceil((FIRST_ROWS + ADDED_ROWS) / 7_000)
    assert rows == expected


def test_arrow_pages(client: httpx.Client, ws: Workspace) -> None:
    expected = ws.query(ORDERS)
    body: dict[str, Any] = {"sql": ORDERS, "format": "arrow", "page_size": 12_000}
    tables = []
    while True:
        answer = client.post("/v1/query", json=body)
        assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
        tables.append(pa.ipc.open_stream(answer.content).read_all())
        token = answer.headers.get("Headwater-Next-Page-Token")
        if token is None:
            break
        body = {"page_token": token, "format": "arrow", "page_size": 12_000}
    assert [t.num_rows for t in tables] == [12_000, 12_000, 6_000]
    assert pa.concat_tables(tables).equals(expected)


def test_a_page_token_is_good_once(client: httpx.Client) -> None:
    first = client.post("/v1/query", json={"sql": ORDERS, "page_size": 10}).json()
    token = first["next_page_token"]
    second = client.post("/v1/query", json={"page_token": token, "page_size": 10}).json()
    assert [r[0] for r in second["rows"]] == list(range(11, 21))
    again = client.post("/v1/query", json={"page_token": token, "page_size": 10})
    assert again.status_code == 400
    assert "unknown, was used already" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("DROP TABLE raw.orders", "DROP TABLE"),
        ("DELETE FROM raw.orders WHERE id = 1", "DELETE"),
        ("INSERT INTO raw.orders VALUES (1, 'x', 1.0, 'd')", "INSERT"),
        ("CREATE TABLE raw.copy AS SELECT * FROM raw.orders", "CREATE TABLE"),
        ("UPDATE raw.orders SET status = 'x'", "UPDATE"),
        ("COPY raw.orders TO 'out.csv'", "COPY"),
        ("ATTACH 'other.db' AS other", "ATTACH"),
        ("SET threads = 1", "SET"),
    ],
)
def test_writes_are_refused_by_kind(client: httpx.Client, sql: str, kind: str) -> None:
    answer = client.post("/v1/query", json={"sql": sql})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "QueryError"
    assert error["message"].startswith(f"{kind} statements cannot be run: only SELECT")


def test_one_statement_at_a_time(client: httpx.Client, ws: Workspace) -> None:
    answer = client.post("/v1/query", json={"sql": "SELECT 1; DROP TABLE raw.orders"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "give one statement at a time"
    assert ws.lake.exists("raw.orders")


def test_a_served_query_reads_tables_not_the_servers_files(
    client: httpx.Client, root: Path
) -> None:
    outside = root / "secret.csv"
    outside.write_text("password\nhunter2\n")
    answer = client.post("/v1/query", json={"sql": f"SELECT * FROM read_csv('{outside}')"})
    assert answer.status_code == 400
    assert "Permission Error" in answer.json()["error"]["message"]
    model = client.post("/v1/query", json={"sql": "SELECT sum(orders) FROM gold.status_totals"})
    assert model.json()["rows"] == [[FIRST_ROWS + ADDED_ROWS]]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT current_setting('allowed_directories') AS v", "current_setting"),
        ("SELECT \"Current_Setting\"('temp_directory')", "current_setting"),
        ("SELECT name, value FROM duckdb_settings()", "duckdb_settings"),
        ("SELECT * FROM duckdb_settings", "duckdb_settings"),
        ("SELECT path FROM duckdb_databases()", "duckdb_databases"),
        ("SELECT file FROM pragma_database_list", "pragma_database_list"),
        ("SELECT * FROM (SELECT current_setting('home_directory') AS h) AS t", "current_setting"),
        ("SUMMARIZE SELECT current_setting('allowed_directories')", "current_setting"),
    ],
)
def test_a_served_query_cannot_ask_about_the_server(
    client: httpx.Client, root: Path, sql: str, named: str
) -> None:
    answer = client.post("/v1/query", json={"sql": sql})
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    assert message == f"{named}: functions about the server are not served"
    assert str(root) not in answer.text


def test_a_served_query_that_runs_too_long_is_stopped(root: Path) -> None:
    text = (root / "headwater.yaml").read_text()
    served = root.parent / "slow"
    served.mkdir()
    (served / "headwater.yaml").write_text(
        text.replace("serve:\n", "serve:\n  query_timeout: 1\n", 1)
    )
    ws = workspace(served)
    sql = ENDLESS
    with (
        serving(create_app(ws)) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client,
    ):
        started = time.monotonic()
        answer = client.post("/v1/query", json={"sql": sql})
        took = time.monotonic() - started
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"] == "the query ran longer than 1 s and was stopped"
        assert took < 20
        assert client.post("/v1/query", json={"sql": "SELECT 1 AS one"}).json()["rows"] == [[1]]
    ws.close()


def test_sql_that_does_not_tokenize_is_a_syntax_error(client: httpx.Client) -> None:
    answer = client.post("/v1/query", json={"sql": 'SELECT "unterminated'})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(
        'Parser Error: unterminated quoted identifier at or near ""unterminated"'
    )


def test_an_unexpected_error_is_answered_and_logged_without_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 500 is an ErrorModel on a connection that stays open, and the log line names the
    route and the error's type, not its text (which may quote a secret the client sent)."""
    app = FastAPI()
    install_errors(app)

    @app.post("/boom")
    def boom(body: dict[str, str]) -> None:
        raise RuntimeError(f"cannot use {body['sql']}")

    @app.get("/fine")
    def fine() -> dict[str, int]:
        return {"ok": 1}

    with serving(app) as url, httpx.Client(base_url=url) as client:
        answer = client.post("/boom", json={"sql": "SELECT 'password=hunter2'"})
        assert answer.status_code == 500
        assert answer.json()["error"]["type"] == "ServiceFailureException"
        assert (
            answer.json()["error"]["message"]
            == "RuntimeError: cannot use SELECT 'password=hunter2'"
        )
        assert client.get("/fine").json() == {"ok": 1}  # the same connection goes on
    failed = [r for r in caplog.records if r.name == "headwater.web"]
    assert [r.getMessage() for r in failed] == ["POST /boom failed: RuntimeError"]
    assert "hunter2" not in caplog.text


def test_a_query_stops_when_its_client_goes_away(ws: Workspace) -> None:
    app = create_app(ws)
    cursors = app.state.cursors
    seen: list[int] = []
    asking = threading.Event()

    def watch() -> None:  # the query computes while its client waits
        while asking.is_set():
            seen.append(cursors.computing)
            time.sleep(0.01)

    with serving(app) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        asking.set()
        watcher = threading.Thread(target=watch)
        watcher.start()
        with (
            httpx.Client(base_url=url, headers=headers, timeout=2) as leaving,
            pytest.raises(httpx.ReadTimeout, match="timed out"),
        ):
            leaving.post("/v1/query", json={"sql": ENDLESS})
        asking.clear()
        watcher.join()
        assert max(seen) == 1
        # the server's default timeout is 300 s: only the client's leaving stops it sooner
        deadline = time.monotonic() + 60
        while cursors.computing and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cursors.computing == 0
        answer = httpx.post(f"{url}/v1/query", json={"sql": "SELECT 2 AS two"}, headers=headers)
        assert answer.json()["rows"] == [[2]]


def test_sigterm_stops_the_server_while_a_query_runs(root: Path) -> None:
    """`headwater serve` without tokens says what anyone may do, and SIGTERM stops it within
    seconds although a query computes (its client gets a 503), not after the query timeout."""
    open_project = root.parent / "open"
    open_project.mkdir()
    text = (root / "headwater.yaml").read_text()
    (open_project / "headwater.yaml").write_text(
        text.replace('  tokens: ["${var.api_token}"]\n', "  query_timeout: 600\n", 1)
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    headwater = str(Path(sys.executable).with_name("headwater"))
    command = [headwater, "serve", "-p", str(open_project), "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/v1/tables")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        answers: list[httpx.Response] = []
        asking = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{url}/v1/query", json={"sql": ENDLESS}, timeout=120)
            )
        )
        asking.start()
        time.sleep(1.5)  # the query is computing
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)  # the query alone would take 600 s
        asking.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert [a.status_code for a in answers] == [503]
    assert answers[0].json()["error"]["message"] == "the server is stopping"
    assert (
        f"note: no token is asked for; anyone who reaches 127.0.0.1:{port} can read every "
        "table, queue pipeline runs, change tables through the Iceberg catalog, and put into, "
        "read and delete streams"
    ) in " ".join(stderr.split())
    assert "Traceback" not in stderr


def test_a_missing_table_is_told_with_the_lakes_tables(client: httpx.Client) -> None:
    answer = client.post("/v1/query", json={"sql": "SELECT * FROM status_total"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(
        "Catalog Error: Table with name status_total does not exist! Did you mean "
        "`gold.status_totals`? (the lake's tables are read as namespace.name)"
    )


def test_time_travel_over_http(client: httpx.Client, ws: Workspace) -> None:
    first = ws.lake.snapshots("raw.orders")[0]
    sql = f"SELECT count(*) AS n, max(id) AS top FROM raw.orders FOR VERSION AS OF {first.snapshot_id}"
    assert client.post("/v1/query", json={"sql": sql}).json()["rows"] == [[FIRST_ROWS, FIRST_ROWS]]


def test_malformed_requests(client: httpx.Client) -> None:
    neither = client.post("/v1/query", json={"format": "json"})
    assert neither.status_code == 400
    assert neither.json()["error"]["type"] == "BadRequestException"
    assert "give `sql` for the first page" in neither.json()["error"]["message"]
    too_big = client.post("/v1/query", json={"sql": "SELECT 1", "page_size": 100_001})
    assert too_big.status_code == 400 and "at most 100,000" in too_big.text
    unknown = client.post("/v1/query", json={"sql": "SELECT * FROM raw.order"})
    assert unknown.status_code == 400
    assert "did you mean `raw.orders`" in unknown.json()["error"]["message"]
    nowhere = client.get("/v2/nothing")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == 404


def test_the_serve_command(root: Path) -> None:
    """`headwater serve` as a user starts it, answering on the port it is given."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "HEADWATER_VAR_API_TOKEN": TOKEN}
    headwater = str(Path(sys.executable).with_name("headwater"))
    command = [headwater, "serve", "-p", str(root), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/v1/tables",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, process.stderr.read() if process.stderr else ""
        assert {t["name"] for t in answer.json()["tables"]} == {"raw.orders", "gold.status_totals"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"serving t at http://127.0.0.1:{port}" in stderr


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        ('{tokens: ["${var.token}"]}', "serve.tokens: a token is empty: set the variable"),
        ("{catalog_prefix: a/b}", "serve.catalog_prefix: `a/b` must be one path segment"),
        ("{port: 70000}", "serve.port: input should be less than or equal to 65535"),
    ],
)
def test_serve_settings_are_checked(tmp_path: Path, serve: str, message: str) -> None:
    from headwater.errors import ProjectFileError

    (tmp_path / "headwater.yaml").write_text(
        f"name: t\nvariables:\n  token: {{default: ''}}\nserve: {serve}\n"
    )
    with pytest.raises(ProjectFileError) as info:
        Workspace.open(tmp_path)
    assert message in str(info.value)
