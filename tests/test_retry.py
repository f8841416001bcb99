"""The one retry policy: errors that cross a process boundary, what is retryable (on real
exceptions from the real drivers), and how long a task waits before its next attempt."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import headwater
from headwater import Workspace
from headwater.connect.http.responses import retry_after
from headwater.connect.sql import READERS, ReadRequest, SqlDatabase
from headwater.errors import (
    CommitConflict,
    ConnectionLost,
    ContractViolation,
    HeadwaterError,
    ProjectFileError,
    QualityFailed,
    SourceError,
    SourceUnreachable,
    TransientError,
)
from headwater.orchestrate.failures import TaskError, portable
from headwater.retry import RetryPolicy, retryable
from headwater.state import RunRecord, RunStatus
from tests import services
from tests.orchestration_support import make_project, unique

# -- errors survive a process boundary ---------------------------------------------------------

# a value for every keyword a subclass's constructor takes; a new keyword fails the test below
# until it has one here (and so is known to survive pickling)
SAMPLES: dict[str, Any] = {
    "hint": "do this next",
    "file": "headwater.yaml",
    "line": 12,
    "key": "sources.shop.tables",
    "dialect": "mysql",
    "address": "127.0.0.1:3306/shop",
    "retry_after": 2.5,
    "table": "raw.orders",
    "warehouse": "/home/me/scratch/.headwater/warehouse",
    "elsewhere": ("/home/me/myproj/.headwater/warehouse",),
    "diff": ["+ amount decimal(10,2)"],
    "failed": ["not_null(id)", "unique(id)"],
    "what": "table `orders`",
    "rows": 12_000,
    "task": "raw.orders",
    "seconds": 30.0,
    "kind": "psycopg.OperationalError",
    "retryable": True,
    "stream": "clicks",
    "source": "shop",
    "location": "trips/a.csv:3",
    "reason": "cast: could not convert string \"x\" to 'BIGINT'",
    "count": 2,
    "run": RunRecord(
        run_id="0123abcd",
        pipeline="load",
        status=RunStatus.FAILED,
        started_at=datetime(2024, 5, 1, 6, 0, tzinfo=UTC),
        error="raw.orders: lost the connection",
    ),
}


def every_error_class() -> list[type[HeadwaterError]]:
    """HeadwaterError and every subclass, wherever in the package it is defined."""
    for module in pkgutil.walk_packages(headwater.__path__, "headwater."):
        # Alembic's scripts and `python -m` entry points run on import
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[HeadwaterError]] = []
    todo: list[type[HeadwaterError]] = [HeadwaterError]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("headwater.")]


def instance(cls: type[HeadwaterError]) -> HeadwaterError:
    kwargs = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "message") or parameter.kind is parameter.VAR_KEYWORD:
            continue
        if name not in SAMPLES:
            pytest.fail(f"{cls.__qualname__} takes `{name}`: add a sample value to SAMPLES")
        kwargs[name] = SAMPLES[name]
    return cls("cannot read table `orders` at 127.0.0.1:3306", **kwargs)


ERROR_CLASSES = every_error_class()


def test_every_error_class_is_found() -> None:
    names = {c.__qualname__ for c in ERROR_CLASSES}
    assert {"SourceUnreachable", "ConnectionLost", "RunFailed", "WorkerDied", "TaskError"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__qualname__)
def test_every_error_pickles_with_type_message_hint_retryability_and_context(
    cls: type[HeadwaterError],
) -> None:
    error = instance(cls)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        copy = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(copy) is cls
        assert str(copy) == str(error) and copy.args == error.args
        assert copy.message == error.message and copy.hint == error.hint
        assert copy.retryable is error.retryable
        assert getattr(copy, "retry_after", None) == getattr(error, "retry_after", None)
        assert vars(copy) == vars(error)  # file, line, table, diff, run… as they were


def test_a_new_subclass_with_its_own_keywords_pickles_too() -> None:
    class Throttled(TransientError):
        def __init__(self, message: str, *, api: str, hint: str | None = None) -> None:
            self.api = api
            super().__init__(f"{api}: {message}", hint=hint)

    globals()["Throttled"] = Throttled  # pickle finds classes by module and name
    Throttled.__qualname__ = "Throttled"
    copy = pickle.loads(pickle.dumps(Throttled("slow down", api="music", hint="wait")))
    assert (str(copy), copy.api, copy.hint, copy.retryable) == (
        "music: slow down — wait",
        "music",
        "wait",
        True,
    )


def test_what_does_not_pickle_is_sent_as_a_task_error() -> None:
    class Local(ConnectionError):  # a class pickle cannot find by name
        pass

    sent = portable(Local("connection reset by peer"))
    assert isinstance(sent, TaskError) and sent.retryable
    assert sent.kind.endswith("Local") and "connection reset by peer" in str(sent)
    quality = QualityFailed("2 checks failed", table="raw.orders", failed=["a", "b"])
    assert portable(quality) is quality  # ours cross as themselves


# -- what is retryable: real exceptions from the real drivers ------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raised(action: Any) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("no error was raised")


@pytest.fixture
def mysql() -> Iterator[sa.URL]:
    admin = sa.make_url(services.MYSQL_ADMIN_URL)
    services.require_service("MariaDB/MySQL", admin.host or "127.0.0.1", admin.port or 3306)
    yield admin


@pytest.fixture
def postgres() -> Iterator[sa.URL]:
    admin = sa.make_url(services.POSTGRES_ADMIN_URL)
    services.require_service("PostgreSQL", admin.host or "127.0.0.1", admin.port or 5432)
    yield admin


def test_connection_refused_is_retryable() -> None:
    import psycopg
    import pymysql

    port = closed_port()
    refused = [
        raised(lambda: pymysql.connect(host="127.0.0.1", port=port, user="root")),
        raised(lambda: psycopg.connect(f"host=127.0.0.1 port={port} user=postgres")),
        raised(lambda: httpx.get(f"http://127.0.0.1:{port}/")),
        raised(lambda: socket.create_connection(("127.0.0.1", port))),
    ]
    assert [type(e).__name__ for e in refused] == [
        "OperationalError",
        "OperationalError",
        "ConnectError",
        "ConnectionRefusedError",
    ]
    assert all(retryable(e) for e in refused)
    # converted at the edge: what, where, what to do
    for url in (
        f"mysql+pymysql://root@127.0.0.1:{port}/shop",
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/shop",
    ):
        for reader in ("sqlalchemy", "duckdb"):
            db = SqlDatabase(url, name="shop")
            error = raised(lambda: READERS[reader](db, ReadRequest(query="SELECT 1")))  # noqa: B023
            assert isinstance(error, SourceUnreachable), (url, reader, error)
            assert (
                f"connection `shop`: cannot connect to {db.dialect} at 127.0.0.1:{port}/shop"
                in (str(error))
            )
            assert "is the server running" in str(error)


@pytest.mark.mysql
def test_mariadb_bad_password_and_bad_sql_are_terminal(mysql: sa.URL) -> None:
    import connectorx as cx
    import pymysql

    def connect(**extra: Any) -> Any:
        return pymysql.connect(host=mysql.host, port=mysql.port or 3306, user="root", **extra)

    denied = raised(lambda: connect(password="not-the-password"))
    assert denied.args[0] == 1045 and not retryable(denied)
    with connect() as con, con.cursor() as cursor:
        syntax = raised(lambda: cursor.execute("SELEC 1"))
        unknown = raised(lambda: cursor.execute("SELECT * FROM mysql.no_such_table"))
    assert (syntax.args[0], unknown.args[0]) == (1064, 1146)
    assert not retryable(syntax) and not retryable(unknown)
    url = f"mysql://root@{mysql.host}:{mysql.port or 3306}/mysql"
    cx_syntax = raised(lambda: cx.read_sql(url, "SELEC 1", return_type="arrow_stream"))
    assert isinstance(cx_syntax, RuntimeError) and not retryable(cx_syntax)
    # at the edge: a refused login says so and is not retried
    db = SqlDatabase(mysql.set(password="not-the-password", database="mysql"), name="shop")
    error = raised(db.check)
    assert type(error) is SourceError and not retryable(error)
    assert "refused the login or the database: Access denied for user 'root'" in str(error)
    duck = raised(lambda: READERS["duckdb"](db, ReadRequest(query="SELECT 1")))
    assert type(duck) is SourceError and "not-the-password" not in str(duck)


@pytest.mark.postgres
def test_postgres_unknown_role_and_bad_sql_are_terminal(postgres: sa.URL) -> None:
    import connectorx as cx
    import psycopg

    where = f"host={postgres.host} port={postgres.port or 5432} dbname=postgres"
    role = raised(lambda: psycopg.connect(f"{where} user=no_such_role_hw"))
    assert isinstance(role, psycopg.OperationalError) and not retryable(role)
    with psycopg.connect(f"{where} user=postgres", autocommit=True) as con:
        syntax = raised(lambda: con.execute("SELEC 1"))
        unknown = raised(lambda: con.execute("SELECT * FROM no_such_table_hw"))
    assert (type(syntax).__name__, type(unknown).__name__) == ("SyntaxError", "UndefinedTable")
    assert not retryable(syntax) and not retryable(unknown)
    url = f"postgresql://postgres@{postgres.host}:{postgres.port or 5432}/postgres"
    cx_syntax = raised(lambda: cx.read_sql(url, "SELEC 1", return_type="arrow_stream"))
    assert not retryable(cx_syntax)
    # an administrator ending the session is retryable (what a server restart looks like)
    with psycopg.connect(f"{where} user=postgres", autocommit=True) as victim:
        pid = victim.info.backend_pid
        with psycopg.connect(f"{where} user=postgres", autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed = raised(lambda: victim.execute("SELECT 1"))
    assert "terminating connection due to administrator command" in str(killed)
    assert retryable(killed)
    db = SqlDatabase(postgres.set(username="no_such_role_hw"), name="pg")
    error = raised(db.check)
    assert type(error) is SourceError and 'role "no_such_role_hw" does not exist' in str(error)


def test_http_statuses_and_our_own_errors() -> None:
    request = httpx.Request("GET", "http://api.example/v1/albums")

    def status(code: int) -> httpx.HTTPStatusError:
        response = httpx.Response(code, request=request)
        return httpx.HTTPStatusError(f"{code}", request=request, response=response)

    assert [retryable(status(c)) for c in (429, 500, 502, 503, 504)] == [True] * 5
    assert [retryable(status(c)) for c in (400, 401, 403, 404, 422)] == [False] * 5
    assert retryable(httpx.ReadTimeout("slow", request=request))
    assert retryable(CommitConflict("raced", table="raw.orders"))
    assert retryable(TimeoutError("timed out"))
    terminal = [
        QualityFailed("checks failed", table="raw.orders", failed=["a"]),
        ContractViolation("type changed", table="raw.orders", diff=["~ id"]),
        ProjectFileError("bad key", file="headwater.yaml"),
        SourceError("table `x` does not exist"),
        ValueError("connection reset"),  # a plain bug, whatever its text
        KeyError("id"),
    ]
    assert [retryable(e) for e in terminal] == [False] * len(terminal)
    # at the edge: a URL httpx cannot send is the connection's mistake, not the server's
    from headwater.connect.http import HttpClient
    from headwater.project.http import HttpConnection

    with HttpClient(HttpConnection(base_url="ftp://files.example/")) as client:
        error = raised(lambda: client.get("/albums"))
    assert type(error) is SourceError and not retryable(error)
    assert "GET ftp://files.example/albums cannot be sent: UnsupportedProtocol" in str(error)


def test_rust_panic_text_is_never_the_whole_message() -> None:
    class PanicException(BaseException):  # pyo3_runtime's, as ConnectorX raises it
        pass

    PanicException.__module__ = "pyo3_runtime"
    panic = PanicException(
        "cx writer failed: Source(PostgresError(Error { kind: Io, cause: Some(Os { code: 104, "
        'kind: ConnectionReset, message: "Connection reset by peer" }) }))'
    )
    assert retryable(panic)
    db = SqlDatabase("postgresql+psycopg://postgres@db.internal:5432/shop", name="pg")
    lost = db.read_error("table `orders`", panic, 40_000)
    assert isinstance(lost, ConnectionLost) and lost.retryable
    assert str(lost).startswith(
        "connection `pg`: lost the connection to postgresql at db.internal:5432/shop while "
        "reading table `orders` after 40,000 rows (Connection reset by peer) — nothing was "
        "published"
    )
    assert "cx writer failed" not in str(lost) and "PostgresError" not in str(lost)


# -- the policy ----------------------------------------------------------------------------------


def test_policy_waits_with_backoff_and_stops_after_its_attempts() -> None:
    policy = RetryPolicy(retries=3, delay=0.5, backoff=3, max_delay=4, jitter=False)
    lost = ConnectionResetError("reset by peer")
    assert [policy.next_wait(n, lost) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4, None]
    assert policy.next_wait(1, ValueError("bug")) is None  # terminal: never again
    jittered = RetryPolicy(retries=5, delay=2)
    waits = [jittered.next_wait(3, lost) for _ in range(50)]
    assert all(4 <= w <= 8 for w in waits) and len(set(waits)) > 1


def test_policy_waits_at_least_what_the_server_asks() -> None:
    policy = RetryPolicy(retries=2, delay=0.01, jitter=False)
    busy = SourceUnreachable("429", dialect="http", address="api:443", retry_after=7)
    assert policy.next_wait(1, busy) == 7
    assert policy.next_wait(3, busy) is None
    assert retry_after("3") == 3
    date = format_datetime(datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_after(date, now=datetime(2030, 1, 1, tzinfo=UTC).timestamp()) == 30


FLAKY = """
from pathlib import Path
from headwater.errors import ContractViolation, SourceUnreachable

def bug(ctx):
    raise ContractViolation("not a retryable failure", table="raw.t", diff=["+ x int"])

CALLS = []

def shaky(ctx):
    CALLS.append(ctx.attempt)
    if len(CALLS) < 3:
        raise ValueError(f"the user's own failure, attempt {ctx.attempt}")
    return len(CALLS)

def lost(ctx):
    raise SourceUnreachable("cannot connect to mysql at db:3306/shop (connection refused)",
                            dialect="mysql", address="db:3306/shop", hint="is the server running?")
"""


def test_terminal_errors_are_not_retried_and_the_last_error_counts_attempts(
    tmp_path: Path,
) -> None:
    mod = unique("flaky")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          bug:
            tasks: [{{python: "{mod}:bug", retries: {{retries: 3, delay: 0.01}}}}]
          lost:
            tasks: [{{python: "{mod}:lost", retries: {{retries: 2, delay: 0.01}}}}]
          tempfail:
            tasks: [{{shell: "exit 75", retries: {{retries: 1, delay: 0.01}}}}]
          shaky:
            tasks: [{{python: "{mod}:shaky", retries: {{retries: 3, delay: 0.01}}}}]
          failing_shell:
            tasks: [{{shell: "exit 3", retries: {{retries: 1, delay: 0.01}}}}]
          unretried:
            tasks: [{{python: "{mod}:bug"}}]
        """,
        {mod: FLAKY},
    )
    ws = Workspace.open(root)
    with pytest.raises(headwater.RunFailed, match="not a retryable failure"):
        ws.run("bug")
    (task,) = ws.runs("bug")[0].tasks
    assert task.attempts == 1 and task.error_type == "headwater.errors.ContractViolation"
    with pytest.raises(headwater.RunFailed, match=r"\(gave up after 3 attempts\)"):
        ws.run("lost")
    (task,) = ws.runs("lost")[0].tasks
    assert task.attempts == 3 and task.error_type == "headwater.errors.SourceUnreachable"
    assert task.error_hint == "is the server running?"
    with pytest.raises(headwater.RunFailed, match=r"exited with status 75.*after 2 attempts"):
        ws.run("tempfail")
    # what the task's own code raises is retried as its `retries` say (Headwater cannot tell)
    record = ws.run("shaky")
    (task,) = record.tasks
    assert (task.attempts, task.value) == (3, 3)
    with pytest.raises(headwater.RunFailed, match=r"exited with status 3.*after 2 attempts"):
        ws.run("failing_shell")
    with pytest.raises(headwater.RunFailed, match="not a retryable failure"):
        ws.run("unretried")
    assert ws.runs("unretried")[0].tasks[0].attempts == 1
    ws.close()


def test_duckdb_interrupting_its_scanner_threads_reads_as_a_lost_connection() -> None:
    """DuckDB stops its other threads when one scanner connection is lost, and at times the
    interrupt, not the connection's error, is what reaches the reader."""
    from headwater.connect.sql.duckdb_reader import _read_error

    db = SqlDatabase("postgresql+psycopg://postgres@db.internal:5432/shop", name="pg")
    interrupted = OSError("INTERRUPT Error: Interrupted!")  # as Arrow re-raises it
    lost = _read_error(db, ReadRequest(table="orders"), interrupted, 24_000)
    assert isinstance(lost, ConnectionLost) and lost.rows == 24_000
    assert "lost the connection to postgresql at db.internal:5432/shop" in str(lost)
