"""The course's Spotify lab against the local music API: every album and track exactly once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater import Workspace
from headwater.ingest.extraction import ReadContext
from headwater.ingest.rest.resource import build
from headwater.project import Project, load_project
from tests.music_api_support import (
    ALBUM_TRACKS,
    NEW_RELEASES,
    MusicApi,
    Settings,
    extract,
    lake_rows,
    project,
    read,
    run,
    serve,
)


def events(proj: Project, kind: str) -> list[Any]:
    ws = Workspace.open(proj.root)
    try:
        return ws.store.events(kind)
    finally:
        ws.close()


@pytest.fixture
def api() -> Iterator[MusicApi]:
    yield from serve(Settings(albums=60))


def test_new_releases_every_album_once_with_typed_nested_fields(
    tmp_path: Path, api: MusicApi
) -> None:
    table = read(project(tmp_path, api, [NEW_RELEASES]), "new_releases")
    assert table.column("id").to_pylist() == [a["id"] for a in api.albums]
    # nested objects stay structs and lists; ISO dates are typed
    assert pa.types.is_list(table.schema.field("artists").type)
    assert pa.types.is_struct(table.schema.field("artists").type.value_type)
    assert pa.types.is_struct(table.schema.field("external_urls").type)
    assert table.schema.field("release_date").type == pa.date32()
    assert table.column("total_tracks").type == pa.int64()
    first = table.slice(0, 1).to_pylist()[0]
    assert first["artists"][0]["name"] == api.albums[0]["artists"][0]["name"]
    # 60 albums in pages of 50: offsets 0 and 50, and no request past the total
    offsets = [q["offset"] for p, q in api.counters.served if p == "/v1/browse/new-releases"]
    assert offsets == ["0", "50"]


def test_flatten_turns_objects_into_columns(tmp_path: Path, api: MusicApi) -> None:
    flat = {**NEW_RELEASES, "flatten": True}
    table = read(project(tmp_path, api, [flat]), "new_releases")
    assert "external_urls" not in table.column_names
    assert (
        table.column("external_urls__spotify").to_pylist()[0]
        == (api.albums[0]["external_urls"]["spotify"])
    )
    assert pa.types.is_list(table.schema.field("artists").type)  # arrays stay lists


def test_every_track_exactly_once_despite_token_expiry(tmp_path: Path, api: MusicApi) -> None:
    """Tokens expire every 25 calls and all at once mid-run: renewed within the one read."""
    api.settings.token_requests = 25
    api.at_request(40, api.expire_tokens)
    proj = project(tmp_path, api, [NEW_RELEASES, ALBUM_TRACKS], connection={"concurrency": 6})

    tracks = read(proj, "album_tracks")

    ids = tracks.column("id").to_pylist()
    assert len(ids) == len(api.track_ids()) > 600
    assert set(ids) == api.track_ids()
    expected = Counter({album: len(items) for album, items in api.tracks.items()})
    assert Counter(tracks.column("album_id").to_pylist()) == expected
    assert tracks.column_names[0] == "album_id"
    # every page was answered once: no page fetched twice, none skipped
    pages = Counter(
        (path, q.get("offset", "0")) for path, q in api.counters.served if "/tracks" in path
    )
    assert max(pages.values()) == 1
    assert len(pages) == sum(-(-len(items) // 5) for items in api.tracks.values())
    c = api.counters
    assert c.tokens_issued >= 5 and c.unauthorized >= 5


def test_every_track_exactly_once_despite_throttling_and_failures(
    tmp_path: Path, api: MusicApi
) -> None:
    """429s, 503s and dropped connections mid-run: each fails an attempt of the task (the
    client does not retry), and the task's next attempt loads everything again."""
    api.settings.token_requests = 25
    api.at_request(60, lambda: api.throttle_next(3))
    api.at_request(90, lambda: api.fail_next(2))
    api.at_request(120, lambda: api.drop_next(2))
    retries = {"attempts": 10, "backoff": 0.01, "max_backoff": 0.1}
    proj = project(
        tmp_path,
        api,
        [NEW_RELEASES, ALBUM_TRACKS],
        connection={"concurrency": 6, "retries": retries},
    )

    record = run(proj)

    assert record.status == "success"
    tasks = {t.task_id: t for t in record.tasks}
    assert tasks["raw.album_tracks"].attempts > 1
    tracks = lake_rows(proj, "album_tracks")
    ids = tracks.column("id").to_pylist()
    assert len(ids) == len(api.track_ids()) > 600  # every track once: nothing twice
    assert set(ids) == api.track_ids()
    expected = Counter({album: len(items) for album, items in api.tracks.items()})
    assert Counter(tracks.column("album_id").to_pylist()) == expected
    c = api.counters
    assert c.throttled == 3 and c.failed == 2 and c.dropped == 2


def test_rate_limit_keeps_under_the_servers_limit(tmp_path: Path) -> None:
    """A client-side rate of 40/s never trips a server limit of 50/s: no 429 at all."""
    for api in serve(Settings(albums=20, rate_limit=50)):
        proj = project(
            tmp_path,
            api,
            [NEW_RELEASES, ALBUM_TRACKS],
            connection={"rate_limit": 40, "concurrency": 8},
        )
        tracks = read(proj, "album_tracks")
        assert set(tracks.column("id").to_pylist()) == api.track_ids()
        assert api.counters.throttled == 0
        assert api.counters.requests > 50  # so that the limit mattered


def test_server_rate_limit_429_honours_retry_after(tmp_path: Path) -> None:
    """A 429 fails the attempt; the next one waits at least the server's Retry-After, though
    the task's own backoff is 10 ms."""
    for api in serve(Settings(albums=12, retry_after="1")):
        proj = project(tmp_path, api, [NEW_RELEASES, ALBUM_TRACKS], connection={"concurrency": 8})
        api.at_request(20, lambda: api.throttle_next(1))  # noqa: B023 (runs in this iteration)
        record = run(proj)
        assert record.status == "success"
        # request 20 is album_tracks' or, when that task reads its parent pages first,
        # new_releases' (both run at once): whichever got the 429 took one more attempt
        attempts = {t.task_id: t.attempts for t in record.tasks}
        assert sorted(attempts.values()) == [1, 2]
        retry = [e for e in events(proj, "task_retry") if e.run_id == record.run_id]
        assert len(retry) == 1 and f"task `{max(attempts, key=attempts.get)}`" in retry[0].message
        assert "(Retry-After: 1)" in retry[0].message
        assert "retrying in 1.0s" in retry[0].message
        tracks = lake_rows(proj, "album_tracks")
        assert sorted(tracks.column("id").to_pylist()) == sorted(api.track_ids())
        assert api.counters.throttled == 1


def test_incremental_param_from_cursor_start(tmp_path: Path, api: MusicApi) -> None:
    table = {
        **NEW_RELEASES,
        "incremental_param": "updated_since",
        "load": {"strategy": "incremental", "cursor": "updated_at"},
    }
    proj = project(tmp_path, api, [table])
    first = extract(proj, "new_releases")
    assert first.complete  # no start yet: nothing filtered, the parameter is not sent
    assert all("updated_since" not in q for _, q in api.counters.served)
    for reader in first.readers:
        reader.read_all()

    since = datetime(2024, 1, 2, 12, tzinfo=UTC)  # album 36 onwards (one per hour)
    later = extract(
        proj, "new_releases", ReadContext(cursor_column="updated_at", cursor_start=since)
    )
    rows = pa.Table.from_batches([b for r in later.readers for b in r])
    assert not later.complete
    assert api.counters.served[-1][1]["updated_since"] == "2024-01-02T12:00:00Z"
    assert rows.column("id").to_pylist() == [a["id"] for a in api.albums[36:]]

    # nothing new: no rows, and no schema to guess (the loader sees an empty stream)
    future = ReadContext(cursor_column="updated_at", cursor_start=datetime(2030, 1, 1, tzinfo=UTC))
    nothing = extract(proj, "new_releases", future)
    assert sum(b.num_rows for r in nothing.readers for b in r) == 0
    assert not nothing.complete


def test_landing_keeps_every_raw_response(tmp_path: Path, api: MusicApi) -> None:
    proj = project(tmp_path, api, [NEW_RELEASES, ALBUM_TRACKS], source={"landing": "landing/music"})
    read(proj, "album_tracks")
    files = sorted((tmp_path / "landing" / "music").glob("album_tracks_*.json"))
    track_pages = sum(-(-len(items) // 5) for items in api.tracks.values())
    assert len(files) == track_pages  # the parent's re-read is not landed again
    stamp = files[0].name.split("_")[2]
    assert datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").year >= 2024
    landed = {t["id"] for f in files for t in json.loads(f.read_bytes())["items"]}
    assert landed == api.track_ids()

    read(proj, "new_releases")
    assert len(list((tmp_path / "landing" / "music").glob("new_releases_*.json"))) == 2


def test_landing_from_the_loader_context(tmp_path: Path, api: MusicApi) -> None:
    proj = project(tmp_path, api, [NEW_RELEASES])
    read(proj, "new_releases", ReadContext(landing=tmp_path / "from-loader"))
    bodies = [json.loads(f.read_bytes()) for f in sorted((tmp_path / "from-loader").iterdir())]
    assert [b["albums"]["offset"] for b in bodies] == [0, 50]


def test_example_project_reads_the_music_api(tmp_path: Path, api: MusicApi) -> None:
    """examples/music_api as shipped, pointed at the fixture by its `base_url` variable."""
    example = Path(__file__).resolve().parent.parent / "examples" / "music_api" / "headwater.yaml"
    (tmp_path / "headwater.yaml").write_text(example.read_text())
    proj = load_project(tmp_path, {"base_url": api.url}, environ={})
    source = proj.config.sources["spotify"]
    connection = proj.config.connections["music"]
    tracks = build(proj, source, source.table("album_tracks"), connection).read(ReadContext())
    rows = pa.Table.from_batches([b for r in tracks.readers for b in r])
    assert sorted(rows.column("id").to_pylist()) == sorted(api.track_ids())
    assert len(list((tmp_path / "landing" / "spotify").glob("album_tracks_*.json"))) == 60
