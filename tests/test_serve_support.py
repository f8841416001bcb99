"""Shared by the serve tests (no tests here): a project loaded through real runs, and a real
uvicorn server on a free port of 127.0.0.1, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from headwater import Workspace
from tests.load_support import SqliteProject

TOKEN = "s3cret-token"
FIRST_ROWS = 25_000  # more than one DuckDB batch of the server (10,000 rows)
ADDED_ROWS = 5_000
STATUSES = ("new", "paid", "shipped", "returned")

TABLES = """\
- name: orders
  load: {strategy: append, cursor: id}
"""

EXTRA = """\
      - models: gold
variables:
  api_token: {sensitive: true}
serve:
  tokens: ["${var.api_token}"]
"""

MODEL = """\
SELECT status, count(*) AS orders, sum(amount) AS amount
FROM raw.orders
GROUP BY status
"""


def order_rows(first: int, count: int) -> list[tuple[int, str, float, str]]:
    return [
        (i, STATUSES[i % len(STATUSES)], round(i * 1.25, 2), f"2026-01-{1 + i % 28:02d}")
        for i in range(first, first + count)
    ]


def build_project(root: Path) -> SqliteProject:
    """``raw.orders`` loaded in two runs (two snapshots: 25,000 rows, then 5,000 appended)
    and the model ``gold.status_totals`` over it; serving asks for the token ``TOKEN``."""
    project = SqliteProject(root, TABLES, EXTRA)
    (root / "models" / "gold").mkdir(parents=True)
    (root / "models" / "gold" / "status_totals.sql").write_text(MODEL, encoding="utf-8")
    project.sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount REAL, day TEXT)")
    insert = "INSERT INTO orders VALUES (?, ?, ?, ?)"
    project.sql(insert, order_rows(1, FIRST_ROWS))
    run(project)
    project.sql(insert, order_rows(FIRST_ROWS + 1, ADDED_ROWS))
    run(project)
    return project


def workspace(root: Path) -> Workspace:
    """The project's workspace, with the token variable set as ``--var`` would."""
    return Workspace.open(root, {"api_token": TOKEN})


def run(project: SqliteProject) -> None:
    ws = workspace(project.root)
    try:
        ws.run("p")
    finally:
        ws.close()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
