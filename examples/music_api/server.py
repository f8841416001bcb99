"""A small local music API shaped like the course's Spotify endpoints, for this example and
Headwater's tests.

A real HTTP server on loopback (stdlib only) with deterministic data::

    POST /api/token                        client credentials → access_token, expires_in
    GET  /v1/browse/new-releases           ?offset&limit[&updated_since] → {"albums": {...}}
    GET  /v1/albums/{id}/tracks            ?offset&limit → {"items", "next", "total", ...}
    GET  /v1/paged/{style}                 the albums under other pagination styles:
                                           offset, page, cursor, next_url, link_header
    GET  /v1/broken/html | /v1/broken/json a login page, a truncated body

It misbehaves on request, like real APIs do: tokens expire after some seconds or some
requests (401 with a JSON error), a request rate above ``rate_limit`` gets 429 with
``Retry-After``, and ``fail_next`` / ``drop_next`` / ``throttle_next`` inject 503s, dropped
connections and 429s. ``counters`` says what happened, for assertions.

Run it from the repository root (it needs nothing but Python)::

    python examples/music_api/server.py --port 8765
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WORDS = (
    "Blue Night River Echo Golden Static Velvet Paper Neon Quiet Wild Silver Broken Hollow "
    "Summer Glass Electric Midnight Northern Lost Crimson Gentle Distant Fading Open Heart Ocean "
    "Signal Mirror Garden Satellite Harbor Winter Fever Lights Dream Shadow Road"
)
WORDS = tuple(_WORDS.split())
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MAX_LIMIT = 50  # Spotify's largest page


@dataclass
class Settings:
    """What the API serves and how it misbehaves; change attributes while it runs."""

    albums: int = 120
    tracks: tuple[int, int] = (8, 20)  # tracks per album, min and max
    seed: int = 42
    client_id: str = "headwater"
    client_secret: str = "music-secret"
    token_seconds: float = 3600.0  # a token's life
    token_requests: int | None = None  # …or this many API calls, whichever comes first
    rate_limit: int | None = None  # API calls per second before 429
    retry_after: str = "1"  # the 429's Retry-After: seconds, or "date" for an HTTP date
    static_token: str = "music-static-token"  # accepted as `Authorization: Bearer …`
    api_key: str = "music-api-key"  # accepted as X-API-Key header or api_key= parameter
    basic: tuple[str, str] = ("reader", "music-password")  # accepted as HTTP Basic


@dataclass
class Counters:
    """What the server did, for test assertions."""

    requests: int = 0  # every request received
    tokens_issued: int = 0
    unauthorized: int = 0  # 401s
    throttled: int = 0  # 429s
    failed: int = 0  # injected 5xx
    dropped: int = 0  # connections closed without an answer
    paths: dict[str, int] = field(default_factory=dict)  # served 200s per path
    auth: dict[str, int] = field(default_factory=dict)  # how served requests authenticated
    served: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # 200s: path, query


@dataclass
class _Token:
    expires: float
    uses: int = 0


class MusicApi:
    """The server, its data and its switches; a context manager that starts and stops it."""

    def __init__(self, settings: Settings | None = None, host: str = "127.0.0.1", port: int = 0):
        self.settings = settings or Settings()
        self.counters = Counters()
        self.albums, self.tracks = generate(self.settings)
        self._tokens: dict[str, _Token] = {}
        self._served: deque[float] = deque()
        self._faults = {"fail": 0, "drop": 0, "throttle": 0}
        self._scheduled: dict[int, list[Callable[[], None]]] = {}
        self._fail_status = 503
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MusicApi:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="music-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def serve(self) -> None:
        """Serve in this thread until interrupted (the demo server)."""
        with contextlib.suppress(KeyboardInterrupt):
            self._server.serve_forever()
        self._server.server_close()

    def __enter__(self) -> MusicApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # switches for fault tests ------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` API calls with ``status`` (and an HTML error page)."""
        with self._lock:
            self._faults["fail"] = count
            self._fail_status = status

    def drop_next(self, count: int) -> None:
        """Close the connection of the next ``count`` API calls without answering."""
        with self._lock:
            self._faults["drop"] = count

    def throttle_next(self, count: int) -> None:
        """Answer the next ``count`` API calls with 429 and ``Retry-After``."""
        with self._lock:
            self._faults["throttle"] = count

    def at_request(self, number: int, action: Callable[[], None]) -> None:
        """Run ``action`` (a switch) when request ``number`` arrives: faults in mid-run."""
        with self._lock:
            self._scheduled.setdefault(number, []).append(action)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on."""
        with self._lock:
            for token in self._tokens.values():
                token.expires = 0.0

    def track_ids(self) -> set[str]:
        return {t["id"] for tracks in self.tracks.values() for t in tracks}

    # request handling ----------------------------------------------------------------------

    def _fault(self, kind: str) -> bool:
        with self._lock:
            if self._faults[kind] > 0:
                self._faults[kind] -= 1
                return True
            return False

    def _over_rate(self) -> bool:
        limit = self.settings.rate_limit
        if limit is None:
            return False
        now = time.monotonic()
        with self._lock:
            while self._served and self._served[0] <= now - 1.0:
                self._served.popleft()
            if len(self._served) >= limit:
                return True
            self._served.append(now)
            return False

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _Token(time.monotonic() + self.settings.token_seconds)
            self.counters.tokens_issued += 1
        return token

    def authenticate(self, headers: Any, query: dict[str, str]) -> tuple[str | None, str]:
        """How the caller authenticated (None: it did not), and the 401 message otherwise."""
        s = self.settings
        header = headers.get("Authorization", "")
        if headers.get("X-API-Key") == s.api_key or query.get("api_key") == s.api_key:
            return "api_key", ""
        if header.startswith("Basic "):
            pair = f"{s.basic[0]}:{s.basic[1]}".encode()
            ok = header[6:] == base64.b64encode(pair).decode()
            return ("basic", "") if ok else (None, "Invalid username or password")
        if not header.startswith("Bearer "):
            return None, "No token provided"
        value = header[7:]
        if value == s.static_token:
            return "bearer", ""
        with self._lock:
            token = self._tokens.get(value)
            if token is None:
                return None, "Invalid access token"
            token.uses += 1
            used_up = s.token_requests is not None and token.uses > s.token_requests
            if used_up or time.monotonic() >= token.expires:
                return None, "The access token expired"
        return "oauth2", ""


def generate(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The albums (newest release first) and each album's tracks; same seed, same data."""
    rng = random.Random(settings.seed)

    def ident() -> str:
        return "".join(rng.choice(BASE62) for _ in range(22))

    def title(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    artists = [
        {
            "id": (aid := ident()),
            "name": title(2),
            "type": "artist",
            "uri": f"spotify:artist:{aid}",
            "external_urls": {"spotify": f"https://open.spotify.com/artist/{aid}"},
        }
        for _ in range(max(4, settings.albums // 3))
    ]
    albums: list[dict[str, Any]] = []
    tracks: dict[str, list[dict[str, Any]]] = {}
    low, high = settings.tracks
    for index in range(settings.albums):
        album_id = ident()
        credited = rng.sample(artists, k=rng.choice((1, 1, 1, 2)))
        count = rng.randint(low, high)
        released = date(2024, 12, 31) - timedelta(days=index // 3)
        albums.append(
            {
                "album_type": "album" if count > 6 else "single",
                "id": album_id,
                "name": title(rng.randint(1, 3)),
                "release_date": released.isoformat(),
                "release_date_precision": "day",
                "total_tracks": count,
                "artists": credited,
                "images": [
                    {
                        "url": f"https://i.scdn.co/image/{album_id}/{size}",
                        "height": size,
                        "width": size,
                    }
                    for size in (640, 300, 64)
                ],
                "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
                "uri": f"spotify:album:{album_id}",
                "updated_at": (EPOCH + timedelta(hours=index)).isoformat().replace("+00:00", "Z"),
            }
        )
        tracks[album_id] = [
            {
                "id": (tid := ident()),
                "name": title(rng.randint(1, 4)),
                "track_number": number,
                "disc_number": 1,
                "duration_ms": rng.randint(90_000, 420_000),
                "explicit": rng.random() < 0.15,
                "artists": credited,
                "preview_url": None,
                "type": "track",
                "uri": f"spotify:track:{tid}",
                "is_local": False,
            }
            for number in range(1, count + 1)
        ]
    return albums, tracks


def _handler(api: MusicApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and clients use
        # headers and body are two writes: without this, Nagle + delayed ACK stall each by 40 ms
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the benchmark would drown in access logs."""

        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def _serve(self, method: str) -> None:
            # read the body first: one left unread would be taken for the next request
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
            with api._lock:
                api.counters.requests += 1
                actions = api._scheduled.pop(api.counters.requests, [])
            for action in actions:
                action()
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if api._fault("drop"):
                with api._lock:
                    api.counters.dropped += 1
                self.close_connection = True
                return
            if api._fault("fail"):
                with api._lock:
                    api.counters.failed += 1
                page = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
                self._send(api._fail_status, page, "text/html")
                return
            if method == "POST" and parts.path == "/api/token":
                self._token()
                return
            if api._fault("throttle") or api._over_rate():
                with api._lock:
                    api.counters.throttled += 1
                wait = api.settings.retry_after
                if wait == "date":
                    wait = formatdate(time.time() + 1, usegmt=True)
                self._json(429, _error(429, "API rate limit exceeded"), {"Retry-After": wait})
                return
            kind, message = api.authenticate(self.headers, query)
            if kind is None:
                with api._lock:
                    api.counters.unauthorized += 1
                self._json(401, _error(401, message), {"WWW-Authenticate": "Bearer"})
                return
            status, body, headers = route(api, method, parts.path, query, self._base())
            if status == 200:
                with api._lock:
                    api.counters.auth[kind] = api.counters.auth.get(kind, 0) + 1
                    api.counters.paths[parts.path] = api.counters.paths.get(parts.path, 0) + 1
                    api.counters.served.append((parts.path, query))
            if isinstance(body, bytes):
                self._send(status, body, headers.pop("Content-Type"), headers)
            else:
                self._json(status, body, headers)

        def _token(self) -> None:
            form = {k: v[-1] for k, v in parse_qs(self._body.decode()).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            if form.get("grant_type") != "client_credentials":
                self._json(400, {"error": "unsupported_grant_type"})
            elif (client_id, secret) != (api.settings.client_id, api.settings.client_secret):
                self._json(400, {"error": "invalid_client", "error_description": "Invalid client"})
            else:
                body = {
                    "access_token": api.issue_token(),
                    "token_type": "Bearer",
                    "expires_in": _number(api.settings.token_seconds),
                }
                self._json(200, body)

        def _base(self) -> str:
            return f"http://{self.headers.get('Host') or '127.0.0.1'}"

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(body).encode(), "application/json", headers)

        def _send(
            self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}


Answer = tuple[int, Any, dict[str, str]]


def route(api: MusicApi, method: str, path: str, query: dict[str, str], base: str) -> Answer:
    """The answer to an authenticated API call."""
    segments = path.strip("/").split("/")
    if method != "GET":
        return 405, _error(405, "Method not allowed"), {}
    try:
        offset = int(query.get("offset", 0))
        limit = int(query.get("limit", 20))
    except ValueError:
        return 400, _error(400, "Invalid offset or limit"), {}
    if not 0 < limit <= MAX_LIMIT or offset < 0:
        return 400, _error(400, f"Invalid limit: between 1 and {MAX_LIMIT}"), {}
    if path == "/v1/browse/new-releases":
        albums = api.albums
        if "updated_since" in query:
            albums = [a for a in albums if a["updated_at"] >= query["updated_since"]]
        return 200, {"albums": _window(f"{base}{path}", albums, offset, limit, query)}, {}
    if len(segments) == 4 and segments[:2] == ["v1", "albums"] and segments[3] == "tracks":
        tracks = api.tracks.get(segments[2])
        if tracks is None:
            return 404, _error(404, "Non existing id"), {}
        return 200, _window(f"{base}{path}", tracks, offset, limit, query), {}
    if len(segments) == 3 and segments[:2] == ["v1", "paged"]:
        return paged(api.albums, segments[2], query, offset, limit, base + path)
    if path == "/v1/broken/html":
        page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>"
        return 200, page, {"Content-Type": "text/html; charset=utf-8"}
    if path == "/v1/broken/json":
        return 200, b'{"items": [{"id": 1}, {"id": ', {"Content-Type": "application/json"}
    return 404, _error(404, "Service not found"), {}


def _window(
    url: str, items: list[dict[str, Any]], offset: int, limit: int, query: dict[str, str]
) -> dict[str, Any]:
    """Spotify's paging object: items, href, limit, offset, total, next and previous URLs."""

    def link(at: int) -> str:
        return f"{url}?{urlencode({**query, 'offset': at, 'limit': limit})}"

    return {
        "href": link(offset),
        "items": items[offset : offset + limit],
        "limit": limit,
        "next": link(offset + limit) if offset + limit < len(items) else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": len(items),
    }


def paged(
    albums: list[dict[str, Any]],
    style: str,
    query: dict[str, str],
    offset: int,
    limit: int,
    url: str,
) -> Answer:
    """The albums (id, name, release date) under another pagination style."""
    rows = [{"id": a["id"], "name": a["name"], "release_date": a["release_date"]} for a in albums]
    if style == "offset":
        return 200, {"data": rows[offset : offset + limit], "meta": {"total": len(rows)}}, {}
    if style == "page":
        size = int(query.get("per_page", 10))
        number = int(query.get("page", 1))
        pages = -(-len(rows) // size)
        start = (number - 1) * size
        return (
            200,
            {"results": rows[start : start + size], "page": number, "total_pages": pages},
            {},
        )
    if style == "cursor":
        at = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if "cursor" in query else 0
        end = at + limit
        cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(rows) else None
        return 200, {"data": rows[at:end], "paging": {"next_cursor": cursor}}, {}
    if style == "next_url":
        end = offset + limit
        # relative, as some APIs give it: the client must resolve it against the page's URL
        nxt = f"next_url?offset={end}&limit={limit}" if end < len(rows) else None
        return 200, {"items": rows[offset:end], "links": {"next": nxt}}, {}
    if style == "link_header":
        number = int(query.get("page", 1))
        size = int(query.get("per_page", 10))
        last = -(-len(rows) // size)
        links = [f'<{url}?page={last}&per_page={size}>; rel="last"']
        if number < last:
            links.insert(0, f'<{url}?page={number + 1}&per_page={size}>; rel="next"')
        start = (number - 1) * size
        return 200, rows[start : start + size], {"Link": ", ".join(links)}
    return 404, _error(404, f"no pagination style {style}"), {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the local music API (Spotify-like).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--albums", type=int, default=Settings.albums)
    parser.add_argument("--token-seconds", type=float, default=Settings.token_seconds)
    parser.add_argument("--token-requests", type=int, default=None)
    parser.add_argument("--rate-limit", type=int, default=None, help="requests/s before 429")
    args = parser.parse_args(argv)
    settings = Settings(
        albums=args.albums,
        token_seconds=args.token_seconds,
        token_requests=args.token_requests,
        rate_limit=args.rate_limit,
    )
    api = MusicApi(settings, args.host, args.port)
    print(
        f"music API on {api.url} — {len(api.albums)} albums, {len(api.track_ids())} tracks; "
        f"client id {settings.client_id!r}, secret {settings.client_secret!r}; Ctrl-C stops",
        flush=True,
    )
    api.serve()


if __name__ == "__main__":
    main()
