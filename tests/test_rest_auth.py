"""Each auth type reaches the API; OAuth2 tokens refresh on expiry and on 401, or fail clearly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import SourceError
from tests.music_api_support import NEW_RELEASES, OAUTH, MusicApi, Settings, project, read, serve


@pytest.fixture
def api() -> Iterator[MusicApi]:
    yield from serve(Settings(albums=120))


AUTHS: dict[str, dict[str, Any]] = {
    "bearer": {"type": "bearer", "token": "music-static-token"},
    "api_key": {"type": "api_key", "name": "X-API-Key", "value": "music-api-key"},
    "api_key_in_query": {
        "type": "api_key",
        "name": "api_key",
        "value": "music-api-key",
        "location": "query",
    },
    "basic": {"type": "basic", "username": "reader", "password": "music-password"},
    "oauth2": OAUTH,
    "oauth2_in_body": {**OAUTH, "client_auth": "body"},
}


@pytest.mark.parametrize("kind", list(AUTHS))
def test_auth_type(tmp_path: Path, api: MusicApi, kind: str) -> None:
    rows = read(project(tmp_path, api, [NEW_RELEASES], auth=AUTHS[kind]), "new_releases")
    assert rows.num_rows == 120
    served_as = kind.split("_in_")[0]
    assert api.counters.auth == {served_as: 3}
    assert api.counters.unauthorized == 0


def test_wrong_static_credentials_fail_with_the_status(tmp_path: Path, api: MusicApi) -> None:
    auth = {**AUTHS["basic"], "password": "wrong"}
    with pytest.raises(SourceError) as caught:
        read(project(tmp_path, api, [NEW_RELEASES], auth=auth), "new_releases")
    message = str(caught.value)
    assert "new-releases?offset=0&limit=50 answered 401 Unauthorized" in message
    assert "the credentials were rejected" in message
    assert "Invalid username or password" in message
    assert "check the connection's `auth`" in message
    assert api.counters.unauthorized == 1  # a static credential is not retried


def test_secrets_stay_out_of_messages(tmp_path: Path, api: MusicApi) -> None:
    auth = {**AUTHS["api_key_in_query"], "value": "not-the-key"}
    with pytest.raises(SourceError) as caught:
        read(project(tmp_path, api, [NEW_RELEASES], auth=auth), "new_releases")
    assert "not-the-key" not in str(caught.value)
    config = project(tmp_path, api, [NEW_RELEASES], auth=OAUTH).config
    assert "music-secret" not in repr(config.connections["music"])


def test_token_refreshed_before_it_expires(tmp_path: Path, api: MusicApi) -> None:
    """A token living 0.2 s is renewed on time: slow pages never meet a 401."""
    api.settings.token_seconds = 0.2
    proj = project(tmp_path, api, [NEW_RELEASES], connection={"rate_limit": 8})
    rows = read(proj, "new_releases")
    assert rows.num_rows == 120
    assert api.counters.tokens_issued >= 2
    assert api.counters.unauthorized == 0


def test_token_refreshed_once_on_401(tmp_path: Path, api: MusicApi) -> None:
    api.settings.token_requests = 1  # every token is good for one call
    rows = read(project(tmp_path, api, [NEW_RELEASES]), "new_releases")
    assert rows.column("id").to_pylist() == [a["id"] for a in api.albums]
    assert api.counters.tokens_issued == 3
    assert api.counters.unauthorized == 2


def test_token_that_cannot_be_refreshed(tmp_path: Path, api: MusicApi) -> None:
    api.settings.token_requests = 1
    api.at_request(3, lambda: setattr(api.settings, "client_secret", "rotated"))
    with pytest.raises(SourceError) as caught:
        read(project(tmp_path, api, [NEW_RELEASES]), "new_releases")
    message = str(caught.value)
    assert message.startswith("the OAuth2 access token expired and could not be refreshed")
    assert "/api/token answered 400 Bad Request" in message
    assert "invalid_client" in message
    assert "check client_id, client_secret" in message


def test_wrong_client_secret_at_the_start(tmp_path: Path, api: MusicApi) -> None:
    auth = {**OAUTH, "client_secret": "wrong"}
    started = time.monotonic()
    with pytest.raises(SourceError, match="could not get an OAuth2 access token: POST"):
        read(project(tmp_path, api, [NEW_RELEASES], auth=auth), "new_releases")
    assert time.monotonic() - started < 2  # a 400 is final, not retried
    assert api.counters.requests == 1
