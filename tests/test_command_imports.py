"""What each ``headwater`` command imports, run as the console script runs it: a command that
reads the project, the metadata store or the catalog's metadata loads no pyiceberg, SQLAlchemy
ORM or DuckDB.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from headwater import Workspace
from headwater.errors import ModelError

# the modules whose import a light command must not pay for
HEAVY = ("pyiceberg", "sqlalchemy.orm", "duckdb")

CHILD = """
import json, sys

HEAVY = __HEAVY__


def heavy():
    return sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in sys.modules))


def invoke(argv):
    from headwater.cli.app import main

    sys.argv = ["headwater", *argv]
    try:
        main()
    except SystemExit as exc:
        return exc.code
    return None


result_path, mode, *argv = sys.argv[1:]
if mode == "one":
    result = {"code": invoke(argv), "heavy": heavy()}
else:  # every command's --help, one after the other, each with what it added
    import typer.main

    from headwater.cli.app import app

    def paths(command, prefix):
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield (*prefix, name)
            yield from paths(sub, (*prefix, name))

    result = {}
    for path in paths(typer.main.get_command(app), ()):
        before = set(heavy())
        code = invoke([*path, "--help"])
        result[" ".join(path)] = {"code": code, "heavy": sorted(set(heavy()) - before)}
with open(result_path, "w") as f:
    json.dump(result, f)
""".replace("__HEAVY__", repr(HEAVY))


def _headwater(tmp_path: Path, *argv: str, mode: str = "one") -> tuple[Any, str]:
    """Run ``headwater ARGV`` in a fresh interpreter: what it noted, and its standard output."""
    result = tmp_path / f"result-{len(list(tmp_path.glob('result-*')))}.json"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(result), mode, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.read_text()), child.stdout


def _project(root: Path, tables: list[str], models: dict[str, str]) -> Path:
    """A project reading ``tables`` of a small SQLite database, with ``models`` (name: SQL)."""
    root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(root / "src.db")
    with con:
        con.execute("CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer_id INT, amount INT)"
        )
        con.execute("DELETE FROM customers")
        con.execute("DELETE FROM orders")
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(1, "Ada"), (2, "Grace")])
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, 1, 10), (2, 1, 5), (3, 2, 7)])
    con.close()
    (root / "headwater.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: light
            connections:
              src: {{type: sql, url: "sqlite:///src.db"}}
            sources:
              src:
                connection: src
                namespace: raw
                tables: [{", ".join(tables)}]
            pipelines:
              main:
                tasks:
                  - ingest: src
                  - models: gold
              load:
                tasks:
                  - ingest: src
            """
        )
    )
    for name, sql in models.items():
        path = root / "models" / f"{name.replace('.', '/')}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return root


TOTALS = (
    "SELECT o.id, c.name, o.amount\n"
    "FROM raw.orders AS o JOIN raw.customers AS c ON c.id = o.customer_id\n"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project after one successful run: two tables loaded and one model built."""
    root = _project(
        tmp_path_factory.mktemp("imports") / "light",
        ["customers", "orders"],
        {"gold.totals": TOTALS},
    )
    with Workspace.open(root) as ws:
        record = ws.run("main")
        assert record.status.value == "success"
        got = ws.query("SELECT name, sum(amount) AS total FROM gold.totals GROUP BY 1 ORDER BY 1")
        assert got.to_pylist() == [{"name": "Ada", "total": 15}, {"name": "Grace", "total": 7}]
    return root


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    got, out = _headwater(tmp_path, "--help")
    assert got == {"code": 0, "heavy": []}
    assert "Usage: headwater" in out and "pipelines" in out


def test_every_commands_help_imports_nothing_heavy(tmp_path: Path) -> None:
    got, _ = _headwater(tmp_path, mode="every-help")
    assert {"run", "runs", "pipelines", "tables", "show", "checks import", "docs build"} <= set(got)
    assert not any(name.split()[0] == "agent" for name in got)  # removed: no such command
    assert {name: r for name, r in got.items() if r != {"code": 0, "heavy": []}} == {}


def test_runs_imports_nothing_heavy(project: Path, tmp_path: Path) -> None:
    with Workspace.open(project) as ws:
        [record] = ws.runs(None, 20)
    got, out = _headwater(tmp_path, "runs", "-p", str(project))
    assert got == {"code": 0, "heavy": []}
    [line] = [line for line in out.splitlines() if record.run_id[:8] in line]
    assert "main" in line and "success" in line


def test_pipelines_imports_nothing_heavy(project: Path, tmp_path: Path) -> None:
    got, out = _headwater(tmp_path, "pipelines", "-p", str(project))
    assert got == {"code": 0, "heavy": []}
    [line] = [line for line in out.splitlines() if " main " in line]
    # two ingest tasks and one model; every table the model reads is one the project loads
    assert line.split("│")[1:5] == [" main     ", " manual   ", " active ", " 3     "]


def test_tables_imports_nothing_heavy(project: Path, tmp_path: Path) -> None:
    got, out = _headwater(tmp_path, "tables", "-p", str(project))
    rows = {line.split()[1]: line.split()[3] for line in out.splitlines() if " raw." in line}
    assert rows == {"raw.customers": "2", "raw.orders": "3"}
    assert got == {"code": 0, "heavy": []}


def test_show_imports_nothing_heavy(project: Path, tmp_path: Path) -> None:
    got, out = _headwater(tmp_path, "show", "raw.orders", "-p", str(project))
    assert out.startswith("raw.orders  3 rows in 1 file (")
    assert got == {"code": 0, "heavy": []}


def test_the_catalog_is_asked_only_for_tables_the_project_does_not_build(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", ["customers", "orders"], {"gold.totals": TOTALS})
    with Workspace.open(root) as ws:
        assert ws.run("main").status.value == "success"

    with Workspace.open(root) as ws:
        assert sorted(ws.models().models) == ["gold.totals"]
        assert "lake" not in vars(ws)  # every table it reads is loaded by the project

    # `raw.orders` is no longer loaded, but the catalog holds it from the run above
    _project(root, ["customers"], {"gold.totals": TOTALS})
    with Workspace.open(root) as ws:
        graph = ws.models()
        assert "lake" in vars(ws)
    assert {r.name for r in graph.models["gold.totals"].references} == {
        "raw.orders",
        "raw.customers",
    }

    _project(root, ["customers"], {"gold.missing": "SELECT * FROM raw.ordrs\n"})
    with (
        Workspace.open(root) as ws,
        pytest.raises(
            ModelError, match=r"unknown table `raw\.ordrs` \(did you mean `raw\.orders`\?\)"
        ),
    ):
        ws.models()


def test_a_full_load_imports_no_duckdb(tmp_path: Path) -> None:
    """DuckDB (33 MB) is for reads through its scanners, models and loads that compare new rows
    with the table; a full load through another reader does without it."""
    root = _project(tmp_path / "p", ["customers", "orders"], {})
    got, out = _headwater(tmp_path, "run", "load", "-p", str(root))
    assert got["code"] == 0, out
    assert "duckdb" not in got["heavy"]
    with Workspace.open(root) as ws:
        assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 3}]
