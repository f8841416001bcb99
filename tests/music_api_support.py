"""The local music API for REST tests: a running server, a project pointing at it, a read
(one attempt, as a task makes it) or a run of its pipeline (with the task's retries).

The server is the example's script, ``examples/music_api/server.py``, loaded from its path:
``MusicApi`` and ``Settings`` are imported from here."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import yaml

from headwater import RunFailed, Workspace
from headwater.ingest.extraction import Extraction, ReadContext
from headwater.ingest.rest.resource import build
from headwater.project import Project, load_project
from headwater.state import RunRecord

SERVER = Path(__file__).resolve().parent.parent / "examples" / "music_api" / "server.py"


def _load_server() -> ModuleType:
    """``examples/music_api/server.py`` as the module ``music_api_server`` (once per process)."""
    name = "music_api_server"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SERVER)
    assert spec is not None and spec.loader is not None, SERVER
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


server = _load_server()
MusicApi = server.MusicApi
Settings = server.Settings

OAUTH = {
    "type": "oauth2_client_credentials",
    "token_url": "/api/token",
    "client_id": "headwater",
    "client_secret": "music-secret",
}
# quick retries: the tests inject failures and should not wait for production backoffs (the
# connection's `retries` are the attempts of an ingest task of the API)
FAST_RETRIES = {"attempts": 4, "backoff": 0.01, "max_backoff": 2}

NEW_RELEASES: dict[str, Any] = {
    "name": "new_releases",
    "path": "/v1/browse/new-releases",
    "records": "albums.items",
    "paginate": {"type": "offset", "limit": 50, "total": "albums.total"},
    "load": {"strategy": "merge", "primary_key": "id"},
}
ALBUM_TRACKS: dict[str, Any] = {
    "name": "album_tracks",
    "path": "/v1/albums/{album_id}/tracks",
    "params": {"limit": 5},
    "records": "items",
    "parent": {"table": "new_releases", "field": "id", "as": "album_id"},
    "paginate": {"type": "next_url", "next": "next"},
    "load": {"strategy": "merge", "primary_key": ["album_id", "id"]},
}


def serve(settings: Settings | None = None) -> Iterator[MusicApi]:
    """A started music API on a free loopback port, stopped afterwards."""
    with MusicApi(settings or Settings()) as api:
        yield api


def project(
    root: Path,
    api: MusicApi,
    tables: list[dict[str, Any]],
    *,
    auth: dict[str, Any] | None = OAUTH,
    connection: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> Project:
    """A project in ``root`` with one HTTP connection to ``api``, a source `music`, and a
    pipeline `load` that ingests it."""
    conn: dict[str, Any] = {"type": "http", "base_url": api.url, "retries": FAST_RETRIES}
    if auth is not None:
        conn["auth"] = auth
    conn.update(connection or {})
    doc = {
        "name": "music_test",
        "connections": {"music": conn},
        "sources": {"music": {"connection": "music", "tables": tables, **(source or {})}},
        "pipelines": {"load": {"tasks": [{"ingest": "music"}]}},
    }
    (root / "headwater.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_project(root, environ={})


def extract(project: Project, table: str, context: ReadContext | None = None) -> Extraction:
    """``build(...).read(context)`` for one table of the source `music`."""
    source = project.config.sources["music"]
    entry = next(t for t in source.tables if t.name == table)
    connection = project.config.connections[source.connection]
    return build(project, source, entry, connection).read(context or ReadContext())


def read(project: Project, table: str, context: ReadContext | None = None) -> pa.Table:
    """Every row of one read, drained into one Arrow table."""
    extraction = extract(project, table, context)
    return pa.Table.from_batches(
        [b for reader in extraction.readers for b in reader], extraction.schema
    )


def run(project: Project) -> RunRecord:
    """Run the pipeline `load`; a failed run's record is returned instead of raised."""
    ws = Workspace.open(project.root)
    try:
        return ws.run("load")
    except RunFailed as failed:
        assert isinstance(failed.run, RunRecord)
        return failed.run
    finally:
        ws.close()


def lake_rows(project: Project, table: str) -> pa.Table:
    """The rows of ``raw.<table>`` in the project's lake."""
    ws = Workspace.open(project.root)
    try:
        return ws.query(f"SELECT * FROM raw.{table}")
    finally:
        ws.close()
