"""The contenders: each reads all of ``hw_bench.events`` and writes it to local disk.

Run as a child process, one contender per process, so the parent can read the child's own
peak RSS from ``wait4``: ``python bench/extract_contenders.py '<job json>'``. A contender is
a setup function (imports, untimed) returning the timed run; the run returns the files it
wrote, whose row count is checked afterwards (Parquet footers, or the Iceberg snapshot
summary for Headwater).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from extract_data import TABLE, Urls, urls

if TYPE_CHECKING:
    import duckdb

QUERY = f"SELECT * FROM {TABLE}"

Kind = Literal["raw", "peer", "headwater"]
Run = Callable[[], list[Path]]


@dataclass(frozen=True)
class Job:
    """What one child process does: a contender against a dialect, into out_dir."""

    contender: str
    dialect: str
    rows: int
    batch_size: int
    out_dir: str
    result_file: str
    duckdb_extensions: str

    @property
    def urls(self) -> Urls:
        return urls(self.dialect)

    @property
    def out(self) -> Path:
        return Path(self.out_dir)


@dataclass(frozen=True)
class Outcome:
    """What a child reports back; the parent adds ``wait4``'s view of peak RSS."""

    seconds: float
    rows: int
    peak_mb: float
    baseline_mb: float
    schema: str
    error: str | None = None
    rss_profile: tuple[float, ...] = ()


@dataclass(frozen=True)
class Contender:
    """A named reader: how it is set up, which dialects it serves, and how to classify it."""

    name: str
    kind: Kind
    description: str
    setup: Callable[[Job], Run]
    dialects: tuple[str, ...] = ("mysql", "postgres")


# ---------------------------------------------------------------- shared helpers


def write_stream(batches: Iterable[pa.RecordBatch], schema: pa.Schema, path: Path) -> None:
    """Write record batches to one Parquet file as they arrive (one row group per batch)."""
    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


def prepare_duckdb_extensions(root: Path) -> Path:
    """Lay out the PyPI-shipped scanner extensions where DuckDB's LOAD looks for them.

    ``INSTALL mysql`` downloads from DuckDB's own server; the wheels
    ``duckdb-extension-mysql``/``-postgres`` carry the same binaries instead.
    """
    import duckdb
    import duckdb_extension_mysql
    import duckdb_extension_postgres

    version = f"v{duckdb.__version__}"
    platform = duckdb.execute("PRAGMA platform").fetchone()
    target = root / version / str(platform[0] if platform else "linux_amd64")
    target.mkdir(parents=True, exist_ok=True)
    for module, canonical in (
        (duckdb_extension_mysql, "mysql_scanner"),
        (duckdb_extension_postgres, "postgres_scanner"),
    ):
        package_dir = Path(str(module.__file__)).parent
        found = sorted(package_dir.glob(f"extensions/{version}/*.duckdb_extension"))
        if not found:
            raise FileNotFoundError(f"no {version} extension under {package_dir}")
        link = target / f"{canonical}.duckdb_extension"
        link.unlink(missing_ok=True)
        link.symlink_to(found[0])
    return root


# ---------------------------------------------------------------- raw readers


def setup_cx_arrow(job: Job) -> Run:
    import connectorx as cx

    def run() -> list[Path]:
        table = cx.read_sql(job.urls.connectorx, QUERY, return_type="arrow")
        path = job.out / "events.parquet"
        pq.write_table(table, path)
        return [path]

    return run


def setup_cx_stream(job: Job) -> Run:
    import connectorx as cx

    def run() -> list[Path]:
        reader = cx.read_sql(
            job.urls.connectorx, QUERY, return_type="arrow_stream", batch_size=job.batch_size
        )
        path = job.out / "events.parquet"
        write_stream(reader, reader.schema, path)
        return [path]

    return run


def _duckdb_attached(job: Job) -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect(
        config={
            "extension_directory": job.duckdb_extensions,
            "autoinstall_known_extensions": False,
        }
    )
    extension = "mysql_scanner" if job.dialect == "mysql" else "postgres_scanner"
    kind = "mysql" if job.dialect == "mysql" else "postgres"
    con.execute(f"LOAD {extension}")
    con.execute(f"ATTACH '{job.urls.duckdb_attach}' AS src (TYPE {kind}, READ_ONLY)")
    return con


def setup_duckdb_stream(job: Job) -> Run:
    import duckdb  # noqa: F401  (imported untimed)

    def run() -> list[Path]:
        con = _duckdb_attached(job)
        reader = con.execute(f"SELECT * FROM src.{TABLE}").fetch_record_batch(job.batch_size)
        path = job.out / "events.parquet"
        write_stream(reader, reader.schema, path)
        con.close()
        return [path]

    return run


def setup_duckdb_copy(job: Job) -> Run:
    import duckdb  # noqa: F401  (imported untimed)

    def run() -> list[Path]:
        con = _duckdb_attached(job)
        path = job.out / "events.parquet"
        con.execute(f"COPY (SELECT * FROM src.{TABLE}) TO '{path}' (FORMAT parquet)")
        con.close()
        return [path]

    return run


def setup_adbc(job: Job) -> Run:
    from adbc_driver_postgresql import dbapi

    def run() -> list[Path]:
        path = job.out / "events.parquet"
        with dbapi.connect(job.urls.adbc) as conn, conn.cursor() as cursor:
            cursor.execute(QUERY)
            reader = cursor.fetch_record_batch()
            write_stream(reader, reader.schema, path)
        return [path]

    return run


# ---------------------------------------------------------------- peers


def setup_dlt(job: Job) -> Run:
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.sql_database import sql_database

    def run() -> list[Path]:
        source = sql_database(
            credentials=job.urls.sqlalchemy,
            table_names=[TABLE],
            backend="pyarrow",
            chunk_size=job.batch_size,
        )
        pipeline = dlt.pipeline(
            pipeline_name=f"bench_{job.dialect}",
            pipelines_dir=str(job.out / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=(job.out / "lake").as_uri()),
            dataset_name="bench",
        )
        pipeline.run(source, loader_file_format="parquet")
        return sorted((job.out / "lake" / "bench" / TABLE).glob("*.parquet"))

    return run


def setup_pandas(job: Job) -> Run:
    import pandas as pd
    import sqlalchemy as sa

    def run() -> list[Path]:
        engine = sa.create_engine(job.urls.sqlalchemy)
        with engine.connect() as conn:
            frame = pd.read_sql(QUERY, conn)
        engine.dispose()
        path = job.out / "events.parquet"
        frame.to_parquet(path, index=False)
        return [path]

    return run


# ---------------------------------------------------------------- headwater

HEADWATER_PROJECT = """\
name: bench
variables:
  source_url: {default: "sqlite:///unused.db"}
  reader: {default: auto}
connections:
  src: {type: sql, url: "${var.source_url}"}
sources:
  src: {connection: src, namespace: raw, reader: "${var.reader}", tables: [events]}
pipelines:
  load: {tasks: [{ingest: src}]}
"""


# What a load imports on first use, as the raw readers import theirs untimed in setup (a
# scheduler or `headwater serve` has them loaded): the catalog, pyiceberg's Arrow I/O, the
# readers and drivers, Headwater's run path. `hw_auto_cold` times them too.
LOAD_IMPORTS = (
    "pyiceberg.catalog.sql",
    "pyiceberg.io.pyarrow",
    "pyiceberg.table",
    "connectorx",
    "duckdb",
    "pymysql",
    "psycopg",
    "headwater.orchestrate.runs",
    "headwater.orchestrate.dispatch",
    "headwater.orchestrate.table_tasks",
    "headwater.ingest.load",
    "headwater.ingest.sql_table",
    "headwater.lake.writer",
    "headwater.connect.sql.connectorx_reader",
    "headwater.connect.sql.duckdb_reader",
)


def _headwater_setup(reader: str, warm: bool = True) -> Callable[[Job], Run]:
    def setup(job: Job) -> Run:
        import importlib

        from headwater import Workspace

        if warm:
            for module in LOAD_IMPORTS:
                importlib.import_module(module)
        project = job.out / "hw_project"
        project.mkdir(parents=True, exist_ok=True)
        (project / "headwater.yaml").write_text(HEADWATER_PROJECT)

        def run() -> list[Path]:
            variables = {"source_url": job.urls.sqlalchemy, "reader": reader}
            workspace = Workspace.open(project, variables=variables)
            workspace.run("load")
            return _iceberg_metadata(project)

        return run

    return setup


def _iceberg_metadata(project: Path) -> list[Path]:
    """The newest Iceberg metadata file of the events table under the project folder."""
    found = [p for p in project.rglob("*.metadata.json") if TABLE in str(p)]
    if not found:
        raise FileNotFoundError(f"no Iceberg metadata for {TABLE!r} under {project}")
    return [max(found, key=lambda p: p.stat().st_mtime_ns)]


# ---------------------------------------------------------------- registry

CONTENDERS: tuple[Contender, ...] = (
    Contender("cx_arrow", "raw", "ConnectorX read_sql(arrow) → write_table", setup_cx_arrow),
    Contender(
        "cx_stream", "raw", "ConnectorX read_sql(arrow_stream) → ParquetWriter", setup_cx_stream
    ),
    Contender(
        "duckdb_stream",
        "raw",
        "DuckDB scanner fetch_record_batch → ParquetWriter",
        setup_duckdb_stream,
    ),
    Contender("duckdb_copy", "raw", "DuckDB scanner COPY TO parquet", setup_duckdb_copy),
    Contender(
        "adbc",
        "raw",
        "ADBC PostgreSQL fetch_record_batch → ParquetWriter",
        setup_adbc,
        ("postgres",),
    ),
    Contender("dlt", "peer", "dlt sql_database(pyarrow) → filesystem parquet", setup_dlt),
    Contender("pandas", "peer", "pandas.read_sql(SQLAlchemy) → to_parquet", setup_pandas),
    *(
        Contender(f"hw_{r}", "headwater", f"Headwater ingest, reader={r}", _headwater_setup(r))
        for r in ("auto", "duckdb", "connectorx", "sqlalchemy")
    ),
    Contender(
        "hw_auto_cold",
        "headwater",
        "Headwater ingest, reader=auto, its first-use imports timed too",
        _headwater_setup("auto", warm=False),
    ),
)

BY_NAME = {c.name: c for c in CONTENDERS}


# ---------------------------------------------------------------- child side


def count_rows(paths: list[Path]) -> int:
    """Rows written: Parquet footers, or an Iceberg snapshot's ``total-records``."""
    if not paths:
        raise FileNotFoundError("the contender wrote no files")
    total = 0
    for path in paths:
        if path.name.endswith(".metadata.json"):
            metadata = json.loads(path.read_text())
            current = metadata["current-snapshot-id"]
            snapshot = next(s for s in metadata["snapshots"] if s["snapshot-id"] == current)
            total += int(snapshot["summary"]["total-records"])
        else:
            total += pq.ParquetFile(path).metadata.num_rows
    return total


def describe_schema(paths: list[Path]) -> str:
    """Arrow types as written, to compare type fidelity between readers."""
    parquet = [p for p in paths if p.suffix == ".parquet"]
    if not parquet:
        return ""
    schema = pq.read_schema(parquet[0])
    return ", ".join(f"{f.name}:{f.type}" for f in schema if not f.name.startswith("_dlt"))


def memory_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (current) of this process image, in MB.

    ``ru_maxrss`` is not used: Linux carries the parent's high-water mark across
    fork+exec into it, so a small contender would report the harness's own size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(f"{field} not in /proc/self/status")


class RssSampler:
    """Samples this process's RSS in a thread while the timed run goes on.

    The profile shows whether memory grows with rows read (a leak or an unbounded queue)
    or levels off (bounded streaming), which a single peak number cannot tell.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(memory_mb("VmRSS"))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def profile(self, points: int = 10) -> tuple[float, ...]:
        """RSS in MB at each tenth of the run (last sample at or before that moment)."""
        if not self.samples:
            return ()
        last = len(self.samples) - 1
        return tuple(round(self.samples[last * i // points]) for i in range(1, points + 1))


def execute(job: Job) -> Outcome:
    """Set up untimed, run timed, then check the row count written."""
    shutil.rmtree(job.out, ignore_errors=True)
    job.out.mkdir(parents=True)
    run = BY_NAME[job.contender].setup(job)
    baseline = memory_mb("VmRSS")
    with RssSampler() as sampler:
        started = time.perf_counter()
        paths = run()
        seconds = time.perf_counter() - started
    rows = count_rows(paths)
    error = None if rows == job.rows else f"wrote {rows} rows, expected {job.rows}"
    peak = memory_mb("VmHWM")
    return Outcome(seconds, rows, peak, baseline, describe_schema(paths), error, sampler.profile())


def main(argv: list[str]) -> int:
    job = Job(**json.loads(argv[1]))
    try:
        outcome = execute(job)
    except Exception as exc:
        traceback.print_exc()
        failure = f"{type(exc).__name__}: {exc}"
        outcome = Outcome(0.0, 0, memory_mb("VmHWM"), memory_mb("VmRSS"), "", failure)
    Path(job.result_file).write_text(json.dumps(asdict(outcome)))
    return 0 if outcome.error is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
