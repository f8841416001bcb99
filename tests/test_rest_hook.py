"""The Python escape hatch: a project function reads the API through the connection's client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.errors import SourceError
from tests.music_api_support import MusicApi, Settings, project, read, serve

HOOKS = '''
def top_tracks(api, context):
    """Records of the first album's tracks, one by one, then a page of album summaries."""
    albums = api.get("/v1/browse/new-releases", {"limit": 3})["albums"]["items"]
    for track in api.records(f"/v1/albums/{albums[0]['id']}/tracks", {"limit": 4},
                             records="items", paginate={"type": "next_url"}):
        yield {"kind": "track", "id": track["id"], "run": context.run_id}
    yield [{"kind": "album", "id": album["id"], "run": context.run_id} for album in albums]


def bad(api, context):
    yield "not a record"
'''


@pytest.fixture
def api() -> Iterator[MusicApi]:
    yield from serve(Settings(albums=10))


@pytest.fixture
def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module in the project folder; sys.path and sys.modules are restored afterwards."""
    name = "music_hooks_for_test"
    (tmp_path / f"{name}.py").write_text(HOOKS)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield name
    sys.modules.pop(name, None)


def test_python_table_yields_records_and_pages(tmp_path: Path, api: MusicApi, hooks: str) -> None:
    from headwater.ingest.extraction import ReadContext

    table = {"name": "mixed", "python": f"{hooks}:top_tracks"}
    proj = project(tmp_path, api, [table], source={"landing": "landing"})
    rows = read(proj, "mixed", ReadContext(run_id="run-1")).to_pylist()
    first_album = api.albums[0]["id"]
    assert [r["id"] for r in rows if r["kind"] == "track"] == [
        t["id"] for t in api.tracks[first_album]
    ]
    assert [r["id"] for r in rows if r["kind"] == "album"] == [a["id"] for a in api.albums[:3]]
    assert {r["run"] for r in rows} == {"run-1"}
    pages = -(-len(api.tracks[first_album]) // 4)
    assert len(list((tmp_path / "landing").glob("mixed_*.json"))) == 1 + pages
    assert api.counters.tokens_issued == 1  # the connection's OAuth2 applies


def test_python_table_yielding_junk(tmp_path: Path, api: MusicApi, hooks: str) -> None:
    proj = project(tmp_path, api, [{"name": "bad", "python": f"{hooks}:bad"}])
    with pytest.raises(SourceError, match=r"music_hooks_for_test:bad yielded str 'not a record'"):
        read(proj, "bad")


def test_python_function_missing(tmp_path: Path, api: MusicApi, hooks: str) -> None:
    proj = project(tmp_path, api, [{"name": "bad", "python": f"{hooks}:nothing"}])
    with pytest.raises(
        SourceError, match="module `music_hooks_for_test` has no function `nothing`"
    ):
        read(proj, "bad")
    proj = project(tmp_path, api, [{"name": "bad", "python": "no_such_module:f"}])
    with pytest.raises(SourceError, match="cannot import module `no_such_module`"):
        read(proj, "bad")
