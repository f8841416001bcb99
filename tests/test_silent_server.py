"""A server that accepts the connection and never answers: a load fails in bounded time, after
its retries, naming host and port; it does not hang."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import RunFailed, Workspace

# `headwater ...` in a fresh interpreter, as the console script runs it
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_a_silent_mysql_server_fails_in_bounded_time(
    tmp_path: Path, silent_port: int, reader: str
) -> None:
    (tmp_path / "headwater.yaml").write_text(
        f"""\
name: silent
connections:
  src:
    url: "mysql+pymysql://root@127.0.0.1:{silent_port}/shop"
    read_timeout: 1
sources:
  src: {{connection: src, namespace: raw, tables: [orders], attempts: 2, reader: {reader}}}
pipelines:
  p: {{tasks: [{{ingest: src}}]}}
"""
    )
    started = time.monotonic()
    expected = f"cannot connect to mysql at 127.0.0.1:{silent_port}/shop"
    with Workspace.open(tmp_path) as ws, pytest.raises(RunFailed, match=expected) as failed:
        ws.run("p")
    took = time.monotonic() - started
    assert took < 30, f"took {took:.1f} s"
    message = failed.value.message
    assert "(gave up after 2 attempts)" in message
    assert "did not answer within 1 s" in message
    [task] = failed.value.run.tasks  # type: ignore[attr-defined]
    assert task.status.value == "failed"


@pytest.mark.faults
@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("mysql+pymysql://root@127.0.0.1:{port}/shop", "mysql"),
        ("postgresql+psycopg://postgres@127.0.0.1:{port}/shop", "postgresql"),
    ],
)
def test_headwater_run_against_a_silent_server_ends_naming_host_and_port(
    tmp_path: Path, silent_port: int, url: str, name: str
) -> None:
    (tmp_path / "headwater.yaml").write_text(
        f"""\
name: silent
connections:
  src:
    url: "{url.format(port=silent_port)}"
    read_timeout: 1
sources:
  src: {{connection: src, namespace: raw, tables: [orders], attempts: 2, retry_delay: 0.1}}
pipelines:
  p: {{tasks: [{{ingest: src}}]}}
"""
    )
    # bounded: the command ends by itself (a hang would reach the timeout and fail the test)
    result = subprocess.run(
        [*CLI, "run", "p", "-p", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert f"cannot connect to {name} at 127.0.0.1:{silent_port}/shop" in line
    assert "(gave up after 2 attempts)" in line
