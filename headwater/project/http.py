"""Config of HTTP API connections and REST sources (endpoints, auth, pagination).

An example (the music API of ``examples/music_api``)::

    connections:
      music:
        type: http
        base_url: http://127.0.0.1:8765
        auth: {type: oauth2_client_credentials, token_url: /api/token,
               client_id: "${var.client_id}", client_secret: "${var.client_secret}"}
        rate_limit: 50        # requests per second, shared by every request of the connection
        concurrency: 8        # requests in flight at once
    sources:
      spotify:
        connection: music
        landing: landing/spotify
        tables:
          - name: new_releases
            path: /v1/browse/new-releases
            records: albums.items
            paginate: {type: offset, limit: 50, total: albums.total}
          - name: album_tracks
            path: /v1/albums/{album_id}/tracks
            parent: {table: new_releases, field: id, as: album_id}
            paginate: {type: next_url, next: next}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from headwater.project.base import SourceBase, Strict, TableBase

# ---------------------------------------------------------------------------------------------
# auth


class BearerAuth(Strict):
    """A fixed token sent as ``Authorization: Bearer <token>``."""

    type: Literal["bearer"] = "bearer"
    token: SecretStr


class ApiKeyAuth(Strict):
    """A key sent in a header or a query parameter."""

    type: Literal["api_key"] = "api_key"
    name: str = Field(description="header or query parameter name, e.g. X-API-Key")
    value: SecretStr
    location: Literal["header", "query"] = "header"


class BasicAuth(Strict):
    """HTTP Basic authentication."""

    type: Literal["basic"] = "basic"
    username: str
    password: SecretStr


class OAuth2ClientCredentials(Strict):
    """OAuth2 client-credentials grant; the token is refreshed on expiry and on a 401."""

    type: Literal["oauth2_client_credentials"] = "oauth2_client_credentials"
    token_url: str = Field(description="absolute, or relative to the connection's base_url")
    client_id: str
    client_secret: SecretStr
    scope: str | None = None
    client_auth: Literal["basic", "body"] = Field(
        default="basic",
        description="send the client id and secret as HTTP Basic (RFC 6749) or in the form body",
    )


Auth = Annotated[
    BearerAuth | ApiKeyAuth | BasicAuth | OAuth2ClientCredentials, Field(discriminator="type")
]


class Retries(Strict):
    """Attempts of a load from this API after 5xx, 429, timeouts and connection errors.

    Each attempt is a whole load that starts from the last committed state (the one retry
    policy, :mod:`headwater.retry`); it waits with exponential backoff and jitter, and at least
    as long as a ``Retry-After`` asks. A step's or pipeline's ``retries`` and the source's own
    ``attempts`` take precedence."""

    attempts: int = Field(
        default=5, ge=1, description="attempts of a load from this API, the first included"
    )
    backoff: float = Field(default=0.5, ge=0, description="seconds before the first retry")
    max_backoff: float = Field(
        default=30.0, ge=0, description="longest backoff between attempts (not Retry-After)"
    )


class HttpConnection(Strict):
    """An HTTP API: base URL, auth, limits and retries shared by its endpoints."""

    type: Literal["http"] = "http"
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    auth: Auth | None = None
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    retries: Retries = Retries()
    rate_limit: float | None = Field(
        default=None, gt=0, description="requests per second, for the whole process"
    )
    concurrency: int = Field(default=4, ge=1, le=256, description="requests in flight at once")


# ---------------------------------------------------------------------------------------------
# pagination


class NoPagination(Strict):
    """One request; the response holds every record."""

    type: Literal["none"] = "none"


class OffsetPagination(Strict):
    """``offset``/``limit`` parameters; stops at ``total`` (when given) or on an empty page."""

    type: Literal["offset"] = "offset"
    limit: int = Field(default=100, gt=0)
    offset_param: str = "offset"
    limit_param: str = "limit"
    start: int = Field(default=0, ge=0)
    total: str | None = Field(default=None, description="path of the record count in the body")


class PagePagination(Strict):
    """A page number parameter; stops on an empty page or past ``total_pages``."""

    type: Literal["page"] = "page"
    page_param: str = "page"
    start: int = Field(default=1, ge=0, description="number of the first page")
    size: int | None = Field(default=None, gt=0, description="records per page to ask for")
    size_param: str | None = Field(default=None, description="parameter carrying `size`")
    total_pages: str | None = Field(default=None, description="path of the page count")


class CursorPagination(Strict):
    """A cursor from the body sent back as a parameter; stops when the body has none."""

    type: Literal["cursor"] = "cursor"
    cursor_path: str = Field(description="path of the next cursor in the body")
    cursor_param: str = "cursor"


class NextUrlPagination(Strict):
    """The body holds the URL of the next page (absolute or relative); stops when it is null."""

    type: Literal["next_url"] = "next_url"
    next: str = Field(default="next", description="path of the next page's URL in the body")


class LinkHeaderPagination(Strict):
    """The RFC 5988 ``Link`` header's ``rel="next"`` (GitHub style)."""

    type: Literal["link_header"] = "link_header"


Paginate = Annotated[
    NoPagination
    | OffsetPagination
    | PagePagination
    | CursorPagination
    | NextUrlPagination
    | LinkHeaderPagination,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------------------------------------
# endpoints

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
Param = str | int | float | bool


class Parent(Strict):
    """Read this endpoint once per record of another table of the same source."""

    model_config = ConfigDict(**Strict.model_config, populate_by_name=True)

    table: str = Field(description="the parent table, in the same source")
    field: str = Field(description="record field whose value fills the placeholder")
    as_: str = Field(
        alias="as", description="placeholder name in `path`; also the child's column of it"
    )


class RestTable(TableBase):
    """One endpoint (or a Python function) whose records land in one table."""

    path: str | None = Field(
        default=None, description="relative to base_url; {placeholders} come from `parent`"
    )
    python: str | None = Field(
        default=None, description="`module:function` yielding records or pages, instead of path"
    )
    params: dict[str, Param] = Field(default_factory=dict)
    records: str | None = Field(
        default=None,
        description="dotted path of the record list (albums.items); default: the body if it is "
        "a list, else its first list field",
    )
    paginate: Paginate = NoPagination()
    max_pages: int = Field(
        default=10_000,
        gt=0,
        description="pages of one endpoint (per parent) after which the read stops with an "
        "error: a pagination that does not end",
    )
    parent: Parent | None = None
    incremental_param: str | None = Field(
        default=None, description="request parameter given the cursor's start value"
    )
    flatten: bool = Field(default=False, description="nested objects as parent__child columns")

    @field_validator("paginate", mode="before")
    @classmethod
    def _paginate_shorthand(cls, value: Any) -> Any:
        """Accept `paginate: link_header` for `paginate: {type: link_header}`."""
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _path_or_python(self) -> RestTable:
        if self.path is None and self.python is None:
            raise ValueError(
                f"table `{self.name}`: give `path` (the endpoint) or `python` (module:function)"
            )
        if self.path is not None and self.python is not None:
            raise ValueError(f"table `{self.name}`: give either `path` or `python`, not both")
        if self.python is not None:
            module, _, function = self.python.partition(":")
            if not module or not function:
                raise ValueError(f"table `{self.name}`: `python` must be `module:function`")
            if self.parent is not None or self.paginate.type != "none":
                raise ValueError(
                    f"table `{self.name}`: a `python` table pages by itself; "
                    "drop `parent` and `paginate`"
                )
            return self
        assert self.path is not None
        wanted = set(PLACEHOLDER.findall(self.path))
        given = {self.parent.as_} if self.parent is not None else set()
        if wanted - given:
            missing = ", ".join(sorted(wanted - given))
            raise ValueError(
                f"table `{self.name}`: path placeholder(s) {missing} have no value; "
                "add `parent: {table: ..., field: ..., as: NAME}`"
            )
        if self.parent is not None and self.parent.as_ not in wanted:
            raise ValueError(
                f"table `{self.name}`: path `{self.path}` has no `{{{self.parent.as_}}}` "
                "placeholder for the parent's value"
            )
        return self


class RestSource(SourceBase):
    """Endpoints of an HTTP API connection."""

    type: Literal["http"] = "http"
    tables: tuple[RestTable, ...] = Field(min_length=1)
    landing: str | None = Field(
        default=None,
        description="folder (relative to the project) keeping each raw response as a JSON file",
    )

    @model_validator(mode="after")
    def _parents_exist(self) -> RestSource:
        names = {table.name: table for table in self.tables}
        for table in self.tables:
            seen = [table.name]
            current = table
            while current.parent is not None:
                parent = names.get(current.parent.table)
                if parent is None:
                    raise ValueError(
                        f"table `{current.name}`: parent `{current.parent.table}` is not a table "
                        f"of this source; tables: {', '.join(names)}"
                    )
                if parent.name in seen:
                    raise ValueError(f"tables {' → '.join([*seen, parent.name])} form a cycle")
                seen.append(parent.name)
                current = parent
        return self

    def table(self, name: str) -> RestTable:
        return next(t for t in self.tables if t.name == name)
