"""The music_api example as a user runs it: `headwater run music` into Iceberg tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater import Workspace
from headwater.errors import RunFailed
from tests.music_api_support import SERVER, MusicApi, Settings, server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "music_api"


@pytest.fixture
def api() -> Iterator[MusicApi]:
    with MusicApi(Settings(albums=60)) as server:
        yield server


def workspace(tmp_path: Path, api: MusicApi) -> Workspace:
    shutil.copy(EXAMPLE / "headwater.yaml", tmp_path / "headwater.yaml")
    text = (tmp_path / "headwater.yaml").read_text()
    # the example's production retry waits, shortened for a test
    text = text.replace("backoff: 0.5, max_backoff: 30", "backoff: 0.01, max_backoff: 1")
    (tmp_path / "headwater.yaml").write_text(text)
    return Workspace.open(tmp_path, {"base_url": api.url})


def lake_tracks(ws: Workspace) -> list[tuple[str, str]]:
    rows = ws.query("SELECT album_id, id FROM raw.album_tracks").to_pylist()
    return sorted((r["album_id"], r["id"]) for r in rows)


def served_tracks(api: MusicApi) -> list[tuple[str, str]]:
    return sorted((album, t["id"]) for album, items in api.tracks.items() for t in items)


def test_every_album_and_track_lands_once_despite_expiry_and_throttling(
    tmp_path: Path, api: MusicApi
) -> None:
    api.settings.token_requests = 20  # tokens die every 20 calls…
    api.at_request(30, api.expire_tokens)  # …and all at once mid-run
    api.at_request(45, lambda: api.throttle_next(3))  # 429 with Retry-After
    ws = workspace(tmp_path, api)
    record = ws.run("music")
    assert lake_tracks(ws) == served_tracks(api)
    albums = ws.query("SELECT id FROM raw.new_releases").column("id").to_pylist()
    assert sorted(albums) == sorted(api.tracks)
    assert api.counters.unauthorized >= 2 and api.counters.throttled == 3
    assert {t.task_id: t.rows for t in record.tasks}["raw.album_tracks"] == len(served_tracks(api))
    # run again on unchanged data: merge by key, nothing changes
    snapshots = len(ws.lake.snapshots("raw.album_tracks"))
    again = ws.run("music")
    assert all(t.details and t.details["changed"] is False for t in again.tasks)
    assert len(ws.lake.snapshots("raw.album_tracks")) == snapshots
    ws.close()


def test_an_api_that_stops_mid_run_publishes_nothing_and_the_next_run_recovers(
    tmp_path: Path, api: MusicApi
) -> None:
    api.at_request(40, lambda: api.fail_next(10_000))  # down for good, mid-pages
    ws = workspace(tmp_path, api)
    with pytest.raises(RunFailed) as failed:
        ws.run("music")
    errors = " ".join(t.error or "" for t in failed.value.run.tasks)
    assert "503" in errors
    assert "raw.album_tracks" not in ws.lake.tables()  # nothing half-published
    api.fail_next(0)
    api.counters.failed = 0
    ws.run("music")
    assert lake_tracks(ws) == served_tracks(api)
    ws.close()


class Counting:
    """Counts the rows each task reports while it runs."""

    def __init__(self) -> None:
        self.calls: dict[str, list[int]] = {}

    def task_started(self, task: object) -> None:
        pass

    def task_progress(self, task: object, rows: int) -> None:
        self.calls.setdefault(task.id, []).append(rows)  # type: ignore[attr-defined]

    def task_finished(self, *args: object) -> None:
        pass


def test_progress_counts_records_as_pages_arrive(tmp_path: Path, api: MusicApi) -> None:
    ws = workspace(tmp_path, api)
    listener = Counting()
    ws.run("music", listener=listener)
    tracks = listener.calls["raw.album_tracks"]
    assert sum(tracks) == len(served_tracks(api))  # every record once, not twice
    assert len(tracks) >= len(api.tracks)  # one report per page, not one at the end
    ws.close()


def call(url: str, token: str, data: bytes | None = None) -> tuple[int, dict[str, Any]]:
    """One request to the API: the status and the JSON body, errors included."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_the_server_script_runs_as_the_readme_starts_it() -> None:
    """`python examples/music_api/server.py` in a process of its own, with its switches."""
    command = [sys.executable, str(SERVER), "--port", "0", "--albums", "7", "--token-requests", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # music API on http://127.0.0.1:PORT — 7 albums, …
            assert " — 7 albums, " in banner, banner
            url = banner.split()[3]
            page = f"{url}/v1/browse/new-releases?offset=5&limit=50"
            status, body = call(page, "music-static-token")
            form = b"grant_type=client_credentials&client_id=headwater&client_secret=music-secret"
            token = call(f"{url}/api/token", "", form)[1]["access_token"]
            first, second = call(page, token)[0], call(page, token)[0]
        finally:
            process.terminate()
    assert status == 200
    assert body["albums"]["items"] == server.generate(Settings(albums=7))[0][5:]
    assert body["albums"]["total"] == 7 and body["albums"]["next"] is None
    assert (first, second) == (200, 401)  # --token-requests 1: a token serves one call
