"""The Apache Iceberg REST catalog API over the project's catalog: its read routes, and the
assembly of the whole catalog (the write routes are in :mod:`headwater.web.iceberg_writes`).

Any Iceberg client (pyiceberg's ``RestCatalog``, Spark, Trino, DuckDB's ``ATTACH … (TYPE
iceberg)``) can list the namespaces and tables and load a table: its metadata file's location
and content, from which it reads the data files itself; and create namespaces and tables,
commit to them and drop them. Routes follow ``open-api/rest-catalog-open-api.yaml`` of
apache/iceberg, with and without the ``prefix`` that ``GET /v1/config`` announces
(``serve.catalog_prefix``). Renaming, registering, namespace properties and multi-table
transactions answer the spec's 406 ``UnsupportedOperationException``.
"""

from __future__ import annotations

import gzip
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from headwater.web.deps import Ws
from headwater.web.errors import ApiError, ErrorResponse
from headwater.web.iceberg_lookup import (
    SEPARATOR,
    LoadTableResult,
    etag,
    namespace_of,
    table_of,
    table_result,
)
from headwater.web.iceberg_writes import writes

__all__ = ["SEPARATOR", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 406)
}

# the routes of the spec this server answers, as GET /v1/config lists them
ENDPOINTS = (
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
)


class CatalogConfig(BaseModel):
    defaults: dict[str, str]
    overrides: dict[str, str]
    endpoints: list[str]


class ListNamespacesResponse(BaseModel):
    namespaces: list[list[str]]


class GetNamespaceResponse(BaseModel):
    namespace: list[str]
    properties: dict[str, str]


class TableIdentifier(BaseModel):
    namespace: list[str]
    name: str


class ListTablesResponse(BaseModel):
    identifiers: list[TableIdentifier]


def check_prefix(request: Request) -> None:
    """A prefixed route answers the prefix ``/v1/config`` announces, and no other."""
    given = request.path_params.get("prefix")
    expected = request.app.state.catalog_prefix
    if given is not None and given != expected:
        raise ApiError(
            404,
            "NoSuchCatalogException",
            f"no catalog under the prefix `{given}`",
            hint=f"GET /v1/config announces the prefix: {expected or 'none'}",
        )


catalog = APIRouter(tags=["Iceberg REST catalog"], responses=_ERRORS)


@catalog.get("/namespaces", response_model=ListNamespacesResponse)
def list_namespaces(
    ws: Ws, parent: Annotated[str | None, Query(description="namespaces are one level")] = None
) -> ListNamespacesResponse:
    """Every namespace (``raw``, ``gold``…); namespaces are one level, so none has children."""
    if parent:
        namespace_of(ws, parent)
        return ListNamespacesResponse(namespaces=[])
    namespaces = sorted(ws.lake.catalog.list_namespaces())
    return ListNamespacesResponse(namespaces=[list(ns) for ns in namespaces])


@catalog.get("/namespaces/{namespace}", response_model=GetNamespaceResponse)
def load_namespace(ws: Ws, namespace: str) -> GetNamespaceResponse:
    """A namespace and its properties."""
    name = namespace_of(ws, namespace)
    properties = ws.lake.catalog.load_namespace_properties(name)
    properties.pop("exists", None)  # the SQL catalog's marker of an empty namespace
    return GetNamespaceResponse(namespace=[name], properties=properties)


@catalog.head("/namespaces/{namespace}", status_code=204)
def namespace_exists(ws: Ws, namespace: str) -> Response:
    """204 when the namespace exists, 404 otherwise."""
    namespace_of(ws, namespace)
    return Response(status_code=204)


@catalog.get("/namespaces/{namespace}/tables", response_model=ListTablesResponse)
def list_tables(ws: Ws, namespace: str) -> ListTablesResponse:
    """The tables of a namespace."""
    name = namespace_of(ws, namespace)
    identifiers = [
        TableIdentifier(namespace=[name], name=table.split(".", 1)[1])
        for table in ws.lake.tables(name)
    ]
    return ListTablesResponse(identifiers=identifiers)


@catalog.get(
    "/namespaces/{namespace}/tables/{table}",
    response_model=LoadTableResult,
    responses={304: {"description": "Not modified since the ETag given in If-None-Match"}},
)
def load_table(
    ws: Ws,
    namespace: str,
    table: str,
    snapshots: Annotated[str, Query(pattern="^(all|refs)$")] = "all",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A table's metadata location and metadata (``snapshots=refs``: only the snapshots that
    branches and tags point at). The ETag changes with every commit."""
    found = table_of(ws, namespace, table)
    location = found.metadata_location
    if if_none_match == etag(location, snapshots):
        return Response(status_code=304, headers={"ETag": etag(location, snapshots)})
    with found.io.new_input(location).open() as stream:
        raw = stream.read()
    if raw[:2] == b"\x1f\x8b":  # a gzip-compressed metadata file (*.gz.metadata.json)
        raw = gzip.decompress(raw)
    if snapshots == "refs":
        metadata = json.loads(raw)
        kept = {ref["snapshot-id"] for ref in metadata.get("refs", {}).values()}
        metadata["snapshots"] = [
            s for s in metadata.get("snapshots", []) if s["snapshot-id"] in kept
        ]
        raw = json.dumps(metadata).encode()
    return table_result(location, raw, snapshots)


@catalog.head("/namespaces/{namespace}/tables/{table}", status_code=204)
def table_exists(ws: Ws, namespace: str, table: str) -> Response:
    """204 when the table exists, 404 otherwise."""
    table_of(ws, namespace, table)
    return Response(status_code=204)


@catalog.post("/namespaces/{namespace}/tables/{table}/metrics", status_code=204)
def report_metrics(ws: Ws, namespace: str, table: str) -> Response:
    """Scan and commit reports of clients are accepted and not kept."""
    table_of(ws, namespace, table)
    return Response(status_code=204)


def _unsupported(what: str) -> Any:
    def refuse() -> None:
        raise ApiError(
            406,
            "UnsupportedOperationException",
            f"this catalog does not support {what}",
            hint="tables are created, committed to and dropped; GET /v1/config lists the routes",
        )

    refuse.__doc__ = f"Not supported: {what}."
    return refuse


for _method, _path, _what in (
    ("POST", "/namespaces/{namespace}/properties", "changing namespace properties"),
    ("POST", "/namespaces/{namespace}/register", "registering a table"),
    ("POST", "/tables/rename", "renaming a table"),
    ("POST", "/transactions/commit", "committing a multi-table transaction"),
):
    catalog.add_api_route(
        _path,
        _unsupported(_what),
        methods=[_method],
        status_code=406,
        name=f"unsupported: {_what}",
        response_model=ErrorResponse,
    )
catalog.include_router(writes)


router = APIRouter()


@router.get("/v1/config", response_model=CatalogConfig, tags=["Iceberg REST catalog"])
def get_config(
    request: Request,
    warehouse: Annotated[str | None, Query(description="accepted; there is one catalog")] = None,
) -> CatalogConfig:
    """How Iceberg clients talk to this catalog: the routes it answers and its prefix."""
    prefix = request.app.state.catalog_prefix
    return CatalogConfig(
        defaults={}, overrides={"prefix": prefix} if prefix else {}, endpoints=list(ENDPOINTS)
    )


router.include_router(catalog, prefix="/v1")
router.include_router(
    catalog, prefix="/v1/{prefix}", dependencies=[Depends(check_prefix)], include_in_schema=False
)
