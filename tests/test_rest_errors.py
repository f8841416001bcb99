"""Bad answers and bad config fail with messages that say what, where and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.errors import ProjectFileError, SourceError, SourceUnreachable
from tests.music_api_support import (
    ALBUM_TRACKS,
    NEW_RELEASES,
    MusicApi,
    Settings,
    lake_rows,
    project,
    read,
    run,
    serve,
)

KEY = {"type": "api_key", "name": "X-API-Key", "value": "music-api-key"}


@pytest.fixture
def api() -> Iterator[MusicApi]:
    yield from serve(Settings(albums=30))


# The HTTP client sends each request once: a 5xx, a dropped connection or a 429 fails the
# read with a retryable error, and the ingest task runs again under the one retry policy (the
# connection's `retries`: 4 attempts here). So these go through a run of the pipeline.


def test_retries_503_then_succeeds(tmp_path: Path, api: MusicApi) -> None:
    api.fail_next(3)  # attempts: 4
    proj = project(tmp_path, api, [NEW_RELEASES], auth=KEY)
    record = run(proj)
    (task,) = record.tasks
    assert task.status == "success" and task.attempts == 4
    assert lake_rows(proj, "new_releases").num_rows == 30
    assert api.counters.failed == 3


def test_retries_dropped_connections(tmp_path: Path, api: MusicApi) -> None:
    api.drop_next(2)
    proj = project(tmp_path, api, [NEW_RELEASES], auth=KEY)
    (task,) = run(proj).tasks
    assert task.status == "success" and task.attempts == 3
    assert lake_rows(proj, "new_releases").num_rows == 30
    assert api.counters.dropped == 2


def test_retries_exhausted(tmp_path: Path, api: MusicApi) -> None:
    api.fail_next(10, status=502)
    (task,) = run(project(tmp_path, api, [NEW_RELEASES], auth=KEY)).tasks
    assert task.status == "failed" and task.attempts == 4
    message = task.error or ""
    assert "/v1/browse/new-releases?offset=0&limit=50 answered 502 Bad Gateway" in message
    assert "502 Bad Gateway" in message and "raise `retries.attempts`" in message
    assert "(gave up after 4 attempts) — the API is down or limiting us" in message
    assert task.error_type == "headwater.errors.SourceUnreachable"
    assert api.counters.failed == 4


def test_a_single_request_fails_with_a_retryable_error(tmp_path: Path, api: MusicApi) -> None:
    api.fail_next(1, status=502)
    with pytest.raises(SourceUnreachable, match="answered 502 Bad Gateway") as caught:
        read(project(tmp_path, api, [NEW_RELEASES], auth=KEY), "new_releases")
    assert caught.value.retryable
    assert api.counters.requests == 1  # the client itself does not retry


def test_unreachable_server(tmp_path: Path, api: MusicApi) -> None:
    proj = project(tmp_path, api, [NEW_RELEASES], auth=KEY)
    api.stop()
    (task,) = run(proj).tasks
    assert task.attempts == 4
    assert "/v1/browse/new-releases?offset=0&limit=50 failed: ConnectError" in (task.error or "")
    assert "(gave up after 4 attempts) — the API is down" in (task.error or "")


def test_html_page_instead_of_json(tmp_path: Path, api: MusicApi) -> None:
    table = {"name": "albums", "path": "/v1/broken/html"}
    with pytest.raises(SourceError) as caught:
        read(project(tmp_path, api, [table], auth=KEY), "albums")
    message = str(caught.value)
    assert f"GET {api.url}/v1/broken/html answered 200 OK (text/html; charset=utf-8)" in message
    assert "an HTML page instead of JSON: '<!DOCTYPE html><html><head><title>Sign in" in message
    assert "check base_url and path" in message


def test_invalid_json(tmp_path: Path, api: MusicApi) -> None:
    table = {"name": "albums", "path": "/v1/broken/json"}
    proj = project(tmp_path, api, [table], auth=KEY, source={"landing": "landing"})
    with pytest.raises(SourceError) as caught:
        read(proj, "albums")
    message = str(caught.value)
    assert (
        "/v1/broken/json answered 200 OK (application/json) with a body that is not valid JSON"
        in message
    )
    assert """'{"items": [{"id": 1}, {"id": '""" in message
    # the bad body is kept for inspection
    (landed,) = (tmp_path / "landing").glob("albums_*.json")
    assert landed.read_bytes() == b'{"items": [{"id": 1}, {"id": '


def test_client_error_is_not_retried(tmp_path: Path, api: MusicApi) -> None:
    table = {"name": "albums", "path": "/v1/nowhere"}
    with pytest.raises(SourceError, match=r"/v1/nowhere answered 404 Not Found .* check `path`"):
        read(project(tmp_path, api, [table], auth=KEY), "albums")
    assert api.counters.requests == 1
    # nor by the task: a 404 is terminal
    (task,) = run(project(tmp_path, api, [table], auth=KEY)).tasks
    assert task.status == "failed" and task.attempts == 1
    assert task.error_type == "headwater.errors.SourceError"
    assert api.counters.requests == 2


def test_records_path_that_selects_nothing(tmp_path: Path, api: MusicApi) -> None:
    table = {**NEW_RELEASES, "records": "albums.itemz"}
    with pytest.raises(SourceError) as caught:
        read(project(tmp_path, api, [table], auth=KEY), "new_releases")
    assert str(caught.value) == (
        "records path `albums.itemz` selects nothing in the response of GET "
        f"{api.url}/v1/browse/new-releases?offset=0&limit=50: `albums` has keys href, items, "
        "limit, next, offset, previous, total — fix `records` in the table's config"
    )


def test_parent_field_missing(tmp_path: Path, api: MusicApi) -> None:
    child = {
        **ALBUM_TRACKS,
        "parent": {"table": "new_releases", "field": "album_id", "as": "album_id"},
    }
    with pytest.raises(
        SourceError,
        match="parent field `album_id` is not in a record of `new_releases`; the record has keys album_type, id,",
    ):
        read(project(tmp_path, api, [NEW_RELEASES, child], auth=KEY), "album_tracks")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"name": "t"}, "give `path` (the endpoint) or `python` (module:function)"),
        ({"name": "t", "path": "/a/{id}"}, "path placeholder(s) id have no value"),
        (
            {"name": "t", "path": "/a", "parent": {"table": "t2", "field": "id", "as": "x"}},
            "path `/a` has no `{x}` placeholder",
        ),
        ({"name": "t", "python": "nocolon"}, "`python` must be `module:function`"),
        ({"name": "t", "path": "/a", "paginate": {"type": "links"}}, "unknown type `links`"),
        (
            {"name": "t", "path": "/a/{x}", "parent": {"table": "t2", "field": "id", "as": "x"}},
            "parent `t2` is not a table of this source; tables: t",
        ),
    ],
)
def test_config_errors(
    tmp_path: Path, api: MusicApi, table: dict[str, object], expected: str
) -> None:
    with pytest.raises(ProjectFileError) as caught:
        project(tmp_path, api, [table], auth=KEY)
    assert expected in str(caught.value)


def test_unknown_auth_type(tmp_path: Path, api: MusicApi) -> None:
    with pytest.raises(ProjectFileError, match="unknown type `oauth`"):
        project(tmp_path, api, [NEW_RELEASES], auth={"type": "oauth", "token": "x"})


def test_parent_cycle(tmp_path: Path, api: MusicApi) -> None:
    a = {"name": "a", "path": "/a/{x}", "parent": {"table": "b", "field": "id", "as": "x"}}
    b = {"name": "b", "path": "/b/{y}", "parent": {"table": "a", "field": "id", "as": "y"}}
    with pytest.raises(ProjectFileError, match="tables a → b → a form a cycle"):
        project(tmp_path, api, [a, b], auth=KEY)
