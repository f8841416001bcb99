"""A MariaDB/PostgreSQL source big enough that `headwater run` takes a second or two, loaded
three ways (full, incremental, merge) and modelled once; and the comparison of the lake with
the source by count, distinct keys and checksums computed in SQL on both sides."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from headwater import Workspace

# `headwater ...` in a fresh interpreter, as the console script runs it
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]

# source table → (lake table, key); one per load strategy
TABLES = {
    "dim": ("raw.dim", "id"),  # full
    "ev": ("raw.ev", "id"),  # incremental on id
    "acct": ("raw.acct", "id"),  # merge on id, cursor ver
}
# the same numbers, computed by the source engine and by DuckDB over the lake
CHECKSUM = (
    "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS nkeys, SUM(id) AS ids, SUM(amount) AS amount, "
    "SUM(MOD(id * 7919 + amount, 1000003)) AS mixed, SUM(LENGTH(name)) AS chars FROM {table}"
)


def project(root: Path, url: str) -> Path:
    """The project: the three tables of ``url`` in `raw`, and `gold.by_grp` over two of them."""
    (root / "models" / "gold").mkdir(parents=True)
    (root / "models" / "gold" / "by_grp.sql").write_text(
        "SELECT e.grp, COUNT(*) AS n, SUM(e.amount) AS amount, COUNT(a.id) AS accounts\n"
        "FROM raw.ev AS e LEFT JOIN raw.acct AS a ON a.id = e.id\nGROUP BY e.grp\n"
    )
    (root / "headwater.yaml").write_text(
        f"""name: faults
connections:
  src: {{url: "{url}"}}
sources:
  s:
    connection: src
    namespace: raw
    batch_rows: 20000
    retry_delay: 0.2
    tables:
      - {{name: dim, load: full}}
      - {{name: ev, load: {{strategy: incremental, cursor: id}}}}
      - {{name: acct, load: {{strategy: merge, primary_key: id, cursor: ver}}}}
pipelines:
  p:
    tasks:
      - ingest: s
      - models: gold
""",
        encoding="utf-8",
    )
    return root


def _series(engine: sa.Engine, first: int, last: int) -> str:
    if engine.dialect.name in ("mysql", "mariadb"):
        return f"SELECT seq AS i FROM seq_{first}_to_{last}"
    return f"SELECT i FROM generate_series({first}, {last}) AS g(i)"


def create(engine: sa.Engine, rows: int) -> None:
    """The three tables with ``rows`` rows each (made by the server: a second or so)."""
    with engine.begin() as conn:
        for table in TABLES:
            ver = ", ver BIGINT NOT NULL" if table == "acct" else ""
            conn.exec_driver_sql(
                f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, grp INTEGER NOT NULL, "
                f"amount BIGINT NOT NULL, name VARCHAR(40) NOT NULL{ver})"
            )
    insert(engine, 1, rows, version=1)


def insert(engine: sa.Engine, first: int, last: int, version: int) -> None:
    """Rows ``first``..``last`` added to every table (`acct` rows at ``version``)."""
    series = _series(engine, first, last)
    with engine.begin() as conn:
        for table in TABLES:
            ver = ", ver" if table == "acct" else ""
            one = f", {version}" if table == "acct" else ""
            conn.exec_driver_sql(
                f"INSERT INTO {table} (id, grp, amount, name{ver}) "
                f"SELECT i, MOD(i, 97), MOD(i * 31, 100000), CONCAT('name-', i){one} "
                f"FROM ({series}) AS s"
            )


def update(engine: sa.Engine, version: int) -> None:
    """Change every 50th row of `dim` and `acct` (to ``version`` there: the merge's cursor
    only grows), other rows for another version."""
    step = version
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE dim SET amount = amount + {step}, name = CONCAT(name, 'd') "
            f"WHERE MOD(id, 50) = {step % 50}"
        )
        conn.exec_driver_sql(
            f"UPDATE acct SET amount = amount + {step}, name = CONCAT(name, 'a'), "
            f"ver = {version} WHERE MOD(id, 50) = {step % 50}"
        )


def _numbers(row: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in row)


def source_numbers(engine: sa.Engine) -> dict[str, tuple[int, ...]]:
    with engine.connect() as conn:
        found = {
            lake: _numbers(conn.exec_driver_sql(CHECKSUM.format(table=table)).one())
            for table, (lake, _) in TABLES.items()
        }
        model = conn.exec_driver_sql(
            "SELECT COUNT(*), SUM(n), SUM(amount), SUM(accounts), SUM(grp * n) FROM ("
            "SELECT e.grp, COUNT(*) AS n, SUM(e.amount) AS amount, COUNT(a.id) AS accounts "
            "FROM ev AS e LEFT JOIN acct AS a ON a.id = e.id GROUP BY e.grp) AS m"
        ).one()
    return {**found, "gold.by_grp": _numbers(model)}


def lake_numbers(root: Path) -> dict[str, tuple[int, ...]]:
    with Workspace.open(root) as ws:
        found = {
            lake: _numbers(ws.query(CHECKSUM.format(table=lake)).to_pylist()[0].values())
            for lake, _ in TABLES.values()
        }
        model = ws.query(
            "SELECT COUNT(*), SUM(n), SUM(amount), SUM(accounts), SUM(grp * n) FROM gold.by_grp"
        ).to_pylist()[0]
    return {**found, "gold.by_grp": _numbers(model.values())}


def cli(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``headwater ARGV -p ROOT`` started in its own process."""
    return subprocess.Popen(
        [*CLI, *argv, "-p", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def run_to_completion(root: Path, env: dict[str, str] | None = None) -> float:
    """`headwater run p` until it ends; it must succeed. Returns how long it took."""
    started = time.monotonic()
    process = cli(root, "run", "p", env=env)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, out + err
    return time.monotonic() - started


def warehouse_files(root: Path) -> set[str]:
    """Every Parquet file under the project's warehouse."""
    return {str(p.resolve()) for p in (root / ".headwater" / "warehouse").rglob("*.parquet")}


def live_files(root: Path) -> set[str]:
    """The data files of the current snapshot of every table."""
    with Workspace.open(root) as ws:
        return {
            str(Path(task.file.file_path.removeprefix("file://")).resolve())
            for info in ws.tables()
            for task in ws.lake.table(info.name).scan().plan_files()
        }


def wait_for_run(root: Path, process: subprocess.Popen[str], runs_before: int) -> None:
    """Until ``process`` has recorded its run (its tasks start from then on)."""
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()
        with Workspace.open(root) as ws:
            if len(ws.runs()) > runs_before:
                return
        assert time.monotonic() < deadline, "the run was never recorded"
        time.sleep(0.05)
