"""What the Iceberg REST catalog's read and write routes share: the namespace or table a path
names (404 as the spec has it), and a table's answer (``LoadTableResult``) with its ETag."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from fastapi.responses import Response
from pydantic import BaseModel, Field

from headwater.errors import TableNotFound
from headwater.project.base import IDENTIFIER
from headwater.web.errors import ApiError
from headwater.workspace import Workspace

if TYPE_CHECKING:
    from pyiceberg.table import Table

SEPARATOR = "\x1f"  # the spec's default namespace separator (%1F in a URL)


class LoadTableResult(BaseModel):
    """A table as loading, creating or committing to it answers (for the OpenAPI document:
    the answer is built by :func:`table_result`)."""

    metadata_location: str | None = Field(
        alias="metadata-location", description="absent for a staged create"
    )
    metadata: dict[str, Any] = Field(description="the table's metadata file, as it is")
    config: dict[str, str]


def namespace_of(ws: Workspace, encoded: str) -> str:
    """The namespace a path names; 404 unless it exists (namespaces are one level)."""
    parts = encoded.split(SEPARATOR)
    if len(parts) == 1 and (parts[0],) in ws.lake.catalog.list_namespaces():
        return parts[0]
    raise ApiError(
        404,
        "NoSuchNamespaceException",
        f"namespace `{'.'.join(parts)}` does not exist",
        hint="GET /v1/namespaces lists them",
    )


def table_of(ws: Workspace, encoded_namespace: str, name: str) -> Table:
    """The table a path names; 404 unless it exists."""
    found = namespace_of(ws, encoded_namespace)
    try:
        return ws.lake.table(f"{found}.{name}")
    except TableNotFound as exc:
        raise ApiError(404, "NoSuchTableException", exc.message, exc.hint) from None


def identifier(name: str, what: str) -> str:
    """``name`` when Headwater can name a namespace or table so; else a 400 that says why."""
    if IDENTIFIER.match(name):
        return name
    raise ApiError(
        400,
        "BadRequestException",
        f"{what} `{name}` is not a valid name",
        hint="names are letters, digits and underscores, not starting with a digit",
    )


def etag(location: str, snapshots: str = "all") -> str:
    """The ETag of a table's answer: it changes with every commit (a new metadata file)."""
    return '"' + hashlib.sha256(f"{location}|{snapshots}".encode()).hexdigest()[:32] + '"'


def table_result(location: str | None, metadata: bytes, snapshots: str = "all") -> Response:
    """A ``LoadTableResult`` holding ``metadata`` (JSON) as it is: no re-serialisation can
    change a field. A staged table (``location`` None) has no metadata file yet, nor ETag."""
    if location is None:
        return Response(b'{"metadata":%s,"config":{}}' % metadata, media_type="application/json")
    body = b'{"metadata-location":%s,"metadata":%s,"config":{}}' % (
        json.dumps(location).encode(),
        metadata,
    )
    return Response(
        body, media_type="application/json", headers={"ETag": etag(location, snapshots)}
    )
