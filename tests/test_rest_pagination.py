"""Every pagination style reads every record once, and stops where the API says it ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import SourceError
from tests.music_api_support import MusicApi, Settings, project, read, serve

KEY = {"type": "api_key", "name": "X-API-Key", "value": "music-api-key"}


@pytest.fixture
def api() -> Iterator[MusicApi]:
    yield from serve(Settings(albums=23))


STYLES: dict[str, dict[str, Any]] = {
    "offset": {
        "path": "/v1/paged/offset",
        "records": "data",
        "paginate": {"type": "offset", "limit": 5, "total": "meta.total"},
    },
    "offset_without_total": {
        "path": "/v1/paged/offset",
        "records": "$.data",
        "paginate": {"type": "offset", "limit": 5},
    },
    "page": {
        "path": "/v1/paged/page",
        "records": "results",
        "paginate": {
            "type": "page",
            "size": 4,
            "size_param": "per_page",
            "total_pages": "total_pages",
        },
    },
    "page_until_empty": {
        "path": "/v1/paged/page",
        "paginate": {"type": "page", "size": 4, "size_param": "per_page"},
    },
    "cursor": {
        "path": "/v1/paged/cursor",
        "params": {"limit": 6},
        "records": "data",
        "paginate": {"type": "cursor", "cursor_path": "paging.next_cursor"},
    },
    "next_url_relative": {
        "path": "/v1/paged/next_url",
        "params": {"limit": 7},
        "records": "items",
        "paginate": {"type": "next_url", "next": "links.next"},
    },
    "link_header": {
        "path": "/v1/paged/link_header",
        "params": {"per_page": 9},
        "paginate": "link_header",
    },
}

# requests each style makes for 23 albums: a style that stops on an empty page asks once more
REQUESTS = {
    "offset": 5,
    "offset_without_total": 6,
    "page": 6,
    "page_until_empty": 7,
    "cursor": 4,
    "next_url_relative": 4,
    "link_header": 3,
}


@pytest.mark.parametrize("style", list(STYLES))
def test_pagination_style(tmp_path: Path, api: MusicApi, style: str) -> None:
    table = {"name": "albums", **STYLES[style]}
    rows = read(project(tmp_path, api, [table], auth=KEY), "albums")
    assert rows.column("id").to_pylist() == [a["id"] for a in api.albums]
    assert len(api.counters.served) == REQUESTS[style]


def test_no_pagination_reads_one_page(tmp_path: Path, api: MusicApi) -> None:
    table = {"name": "albums", "path": "/v1/paged/offset", "params": {"limit": 10}}
    rows = read(project(tmp_path, api, [table], auth=KEY), "albums")
    # the default record selector takes the body's first list: `data`
    assert rows.column("id").to_pylist() == [a["id"] for a in api.albums[:10]]
    assert len(api.counters.served) == 1


def test_pagination_that_does_not_advance_is_an_error(tmp_path: Path, api: MusicApi) -> None:
    # the endpoint ignores `cursor`, so the same cursor comes back: a loop, not endless reading
    table = {
        "name": "albums",
        "path": "/v1/paged/offset",
        "paginate": {"type": "cursor", "cursor_path": "meta.total", "cursor_param": "ignored"},
    }
    with pytest.raises(SourceError, match="pagination does not advance"):
        read(project(tmp_path, api, [table], auth=KEY), "albums")
