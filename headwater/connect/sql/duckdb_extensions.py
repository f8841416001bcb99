"""Load DuckDB's extensions (mysql, postgres, httpfs, avro, iceberg) from PyPI packages, offline.

The packages ship ``mysql.duckdb_extension``; DuckDB derives the entry point from the file
name and expects ``mysql_scanner``, so we link the file under its canonical name in a cache
folder and point DuckDB's extension directory there. ``INSTALL`` never hits the network.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
import threading
from pathlib import Path

import duckdb

from headwater.errors import MissingDependency

# extension name → (PyPI package, module, file stem inside it)
PACKAGES = {
    "mysql_scanner": ("duckdb-extension-mysql", "duckdb_extension_mysql", "mysql"),
    "postgres_scanner": ("duckdb-extension-postgres", "duckdb_extension_postgres", "postgres"),
    "httpfs": ("duckdb-extension-httpfs", "duckdb_extension_httpfs", "httpfs"),
    # iceberg_scan reads Avro manifests: load avro before iceberg
    "avro": ("duckdb-extension-avro", "duckdb_extension_avro", "avro"),
    "iceberg": ("duckdb-extension-iceberg", "duckdb_extension_iceberg", "iceberg"),
}

_lock = threading.Lock()
_directory: Path | None = None
# extensions → (the process that opened it, a database with them loaded): see shared()
_shared: dict[tuple[str, ...], tuple[int, duckdb.DuckDBPyConnection]] = {}
_shared_lock = threading.Lock()
# a forked child's copies of its parent's databases: never used, and never freed while the
# child runs (freeing one joins threads the child does not have: DuckDB aborts the process)
_inherited: list[duckdb.DuckDBPyConnection] = []


def _cache_root() -> Path:
    """A folder per Python environment, so two virtualenvs never re-point each other's links;
    the system's temporary folder when the user's cache cannot be written."""
    environment = hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for root in (base, Path(tempfile.gettempdir())):
        folder = root / "headwater" / "duckdb-extensions" / environment
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        return folder
    raise MissingDependency(
        f"no writable folder for DuckDB's extensions under {base} or {tempfile.gettempdir()}",
        hint="set XDG_CACHE_HOME to a writable folder",
    )


def extension_directory() -> Path:
    """A folder laid out as DuckDB expects, holding links to every packaged scanner."""
    global _directory
    with _lock:
        if _directory is not None:
            return _directory
        version = "v" + duckdb.__version__
        platform = duckdb.execute("PRAGMA platform").fetchone()
        assert platform is not None
        root = _cache_root()
        target = root / version / str(platform[0])
        target.mkdir(parents=True, exist_ok=True)
        for name, (_package, module_name, stem) in PACKAGES.items():
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            assert module.__file__ is not None
            shipped = (
                Path(module.__file__).parent / "extensions" / version / f"{stem}.duckdb_extension"
            )
            link = target / f"{name}.duckdb_extension"
            if shipped.exists() and not (link.exists() and link.resolve() == shipped.resolve()):
                temporary = link.with_suffix(f".tmp{os.getpid()}")
                temporary.unlink(missing_ok=True)
                temporary.symlink_to(shipped)
                os.replace(temporary, link)
        _directory = root
        return _directory


def connect(*extensions: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the given scanner extensions loaded."""
    con = duckdb.connect(
        config={
            "extension_directory": str(extension_directory()),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    for name in extensions:
        try:
            con.execute(f"LOAD {name}")
        except duckdb.Error as exc:
            package = PACKAGES.get(name, (name,))[0]
            raise MissingDependency(
                f"DuckDB extension `{name}` is not available: {exc}",
                hint=f"install the `{package}=={duckdb.__version__}` package, or use reader: sqlalchemy",
            ) from exc
    return con


def shared(*extensions: str) -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory DuckDB database with ``extensions`` loaded.

    Loading a scanner costs about 0.1 s per database, and a load asks twice (the table's
    schema, then its rows), a scheduler all day: the database is opened once per process. A
    forked child opens its own (DuckDB's state does not survive a fork). Each caller gets its
    own connection, for one thread, and must close it; what it attaches it names uniquely and
    detaches (see :mod:`headwater.connect.sql.duckdb_reader`).
    """
    key = tuple(sorted(extensions))
    with _shared_lock:
        held = _shared.get(key)
        if held is None or held[0] != os.getpid():
            if held is not None:
                _inherited.append(held[1])
            held = (os.getpid(), connect(*extensions))
            _shared[key] = held
        return held[1].cursor()
