"""A pagination that does not end stops with an error naming the request, not after hours of
requests: a cursor that comes back, an API that ignores the offset, more pages than allowed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from headwater.errors import SourceError
from tests.music_api_support import project, read


class Endless(BaseHTTPRequestHandler):
    """/ignores_offset: the same two records whatever the offset; /cycle: cursors a → b → a;
    /endless?page=N: two new records on every page, for ever."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests += 1  # type: ignore[attr-defined]
        body: Any
        if url.path == "/ignores_offset":
            body = {"data": [{"id": 1}, {"id": 2}]}
        elif url.path == "/cycle":
            nxt = {"": "a", "a": "b", "b": "a"}[query.get("cursor", "")]
            body = {"data": [{"id": query.get("cursor", "start")}], "next": nxt}
        else:
            page = int(query.get("page", "1"))
            body = [{"id": page * 2}, {"id": page * 2 + 1}]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[SimpleNamespace]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", server=server)
    server.shutdown()
    server.server_close()


CASES = {
    "ignores_offset": (
        {"path": "/ignores_offset", "records": "data", "paginate": {"type": "offset", "limit": 2}},
        r"pagination loops: GET .*/ignores_offset\?offset=2&limit=2 answered the same page",
        2,
    ),
    "cycle": (
        {
            "path": "/cycle",
            "records": "data",
            "paginate": {"type": "cursor", "cursor_path": "next"},
        },
        r"pagination loops: the page after GET .*/cycle\?cursor=b is .*/cycle\?cursor=a, "
        "which was already read",
        3,
    ),
    "endless": (
        {"path": "/endless", "paginate": {"type": "page"}, "max_pages": 5},
        r"GET .*/endless: more than 5 pages; its pagination may not end",
        5,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_pagination_that_does_not_end_is_an_error(
    tmp_path: Path, api: SimpleNamespace, case: str
) -> None:
    table, message, requests = CASES[case]
    proj = project(tmp_path, api, [{"name": case, **table}], auth=None)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match=message):
        read(proj, case)
    assert api.server.requests == requests
