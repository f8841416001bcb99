"""The write routes of the Iceberg REST catalog: another door to the lake's one commit path.

Namespaces are created and dropped, and tables created and dropped, through the project's
catalog; a commit's ``requirements`` and ``updates`` are parsed into pyiceberg's own models
and handed to :func:`headwater.lake.commits.commit_updates`, which ends in the catalog's
``commit_table`` (optimistic concurrency on the metadata location) like every other writer of
the lake. pyiceberg writes every metadata file; clients write their data files and manifests
under the table's location (:mod:`headwater.web.iceberg_guard` checks where they point).
A create with ``stage-create`` answers the new table's metadata and creates nothing: the
client's first commit, with ``assert-create``, creates it.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from headwater.errors import CommitConflict
from headwater.lake.properties import CATALOG_ID
from headwater.web import iceberg_guard, iceberg_lookup
from headwater.web.deps import Ws
from headwater.web.errors import ApiError, ErrorResponse
from headwater.web.iceberg_lookup import LoadTableResult
from headwater.workspace import Workspace

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.update import TableRequirement, TableUpdate

log = logging.getLogger("headwater.web")

TARGET_FILE_SIZE = "write.target-file-size-bytes"  # set on Headwater's own tables too
# deletes and updates rewrite data files: Headwater reads data files only (a client may
# override these; a commit that adds delete files is refused all the same)
COPY_ON_WRITE = {
    f"write.{operation}.mode": "copy-on-write" for operation in ("delete", "update", "merge")
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409)
}


class CreateNamespaceRequest(BaseModel):
    namespace: list[str] = Field(description='one level: `["silver"]`')
    properties: dict[str, str] = Field(default_factory=dict)


class CreateNamespaceResponse(BaseModel):
    namespace: list[str]
    properties: dict[str, str]


class CreateTableRequest(BaseModel):
    """The spec's ``CreateTableRequest``; the schema, partition spec and sort order are read
    with pyiceberg's models."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    location: str | None = Field(default=None, description="omit it, or give the table's own")
    table_schema: dict[str, Any] = Field(alias="schema")
    partition_spec: dict[str, Any] | None = Field(default=None, alias="partition-spec")
    write_order: dict[str, Any] | None = Field(default=None, alias="write-order")
    stage_create: bool = Field(default=False, alias="stage-create")
    properties: dict[str, str] = Field(default_factory=dict)


class TableIdentifier(BaseModel):
    namespace: list[str]
    name: str


class CommitTableRequest(BaseModel):
    """The spec's ``CommitTableRequest``; each requirement and update is read with pyiceberg's
    ``TableRequirement`` / ``TableUpdate`` models."""

    identifier: TableIdentifier | None = None
    requirements: list[dict[str, Any]]
    updates: list[dict[str, Any]]


class CommitTableResponse(BaseModel):
    metadata_location: str = Field(alias="metadata-location")
    metadata: dict[str, Any]


writes = APIRouter(tags=["Iceberg REST catalog"], responses=_ERRORS)


@writes.post("/namespaces", response_model=CreateNamespaceResponse)
def create_namespace(ws: Ws, body: CreateNamespaceRequest) -> CreateNamespaceResponse:
    """Create a namespace (one level), with properties; 409 when it exists."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    if len(body.namespace) != 1:
        raise ApiError(
            400,
            "BadRequestException",
            f"namespace {body.namespace} has {len(body.namespace)} levels; namespaces here "
            "have one",
            hint='send e.g. {"namespace": ["silver"]}',
        )
    name = iceberg_lookup.identifier(body.namespace[0], "namespace")
    try:
        ws.lake.catalog.create_namespace(name, body.properties)
    except NamespaceAlreadyExistsError:
        raise _exists(f"namespace `{name}` already exists") from None
    return CreateNamespaceResponse(namespace=[name], properties=body.properties)


@writes.delete("/namespaces/{namespace}", status_code=204)
def drop_namespace(ws: Ws, namespace: str) -> Response:
    """Drop an empty namespace; 409 while it holds tables (external tables too)."""
    from pyiceberg.exceptions import NamespaceNotEmptyError

    name = iceberg_lookup.namespace_of(ws, namespace)
    held = ws.lake.tables(name) + [t.full_name for t in ws.lake.external.tables(name)]
    if held:
        raise _not_empty(name, ", ".join(sorted(held)))
    try:
        ws.lake.catalog.drop_namespace(name)
    except NamespaceNotEmptyError:  # a table was created meanwhile
        raise _not_empty(name, "a table created meanwhile") from None
    return Response(status_code=204)


@writes.post("/namespaces/{namespace}/tables", response_model=LoadTableResult)
def create_table(ws: Ws, namespace: str, body: CreateTableRequest) -> Response:
    """Create a table at ``<warehouse>/<namespace>.db/<name>``; with ``stage-create``, only
    answer its metadata (the client's first commit, with ``assert-create``, creates it)."""
    from pyiceberg.exceptions import TableAlreadyExistsError
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table.metadata import new_table_metadata
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder

    ns = iceberg_lookup.namespace_of(ws, namespace)
    name = iceberg_lookup.identifier(body.name, "table")
    _absent(ws, ns, name)
    schema = _parse(Schema, body.table_schema, "schema")
    spec = _parse(PartitionSpec, body.partition_spec, "partition-spec")
    order = _parse(SortOrder, body.write_order, "write-order")
    location = iceberg_guard.table_location(ws.lake, ns, name)
    iceberg_guard.check_location(body.location, location)
    properties = {
        TARGET_FILE_SIZE: str(ws.lake.target_file_bytes),
        **COPY_ON_WRITE,
        CATALOG_ID: ws.lake.catalog_id,  # whose table it is (a client's other id is refused)
        **body.properties,
    }
    iceberg_guard.check_properties(properties, location, ws.lake.catalog_id)
    try:
        if body.stage_create:
            metadata = new_table_metadata(
                schema,
                spec or UNPARTITIONED_PARTITION_SPEC,
                order or UNSORTED_SORT_ORDER,
                location,
                properties,
            )
            _prepare(location)
            return iceberg_lookup.table_result(None, metadata.model_dump_json().encode())
        created = ws.lake.catalog.create_table(
            (ns, name),
            schema,
            location=location,
            partition_spec=spec or UNPARTITIONED_PARTITION_SPEC,
            sort_order=order or UNSORTED_SORT_ORDER,
            properties=properties,
        )
    except TableAlreadyExistsError:
        raise _exists(f"table `{ns}.{name}` already exists") from None
    except ValueError as exc:  # a partition or sort field naming no column, a bad version…
        raise ApiError(
            400, "BadRequestException", f"table `{ns}.{name}` cannot be created: {exc}"
        ) from exc
    return iceberg_lookup.table_result(
        created.metadata_location, created.metadata.model_dump_json().encode()
    )


@writes.post("/namespaces/{namespace}/tables/{table}", response_model=CommitTableResponse)
def commit_table(ws: Ws, namespace: str, table: str, body: CommitTableRequest) -> Response:
    """Commit ``requirements`` and ``updates`` in one Iceberg commit through the lake's commit
    function; 409 ``CommitFailedException`` when a requirement does not hold (reload the table
    and try again). With ``assert-create``, the commit creates the table."""
    ns = iceberg_lookup.namespace_of(ws, namespace)
    name = iceberg_lookup.identifier(table, "table")
    if body.identifier is not None and (body.identifier.namespace, body.identifier.name) != (
        [ns],
        name,
    ):
        raise ApiError(
            400,
            "BadRequestException",
            f"identifier {[*body.identifier.namespace, body.identifier.name]} is not the "
            f"table of the path, `{ns}.{name}`",
            hint="leave the identifier out or send the table's own",
        )
    requirements, updates = _changes(body)
    creates = any(r.type == "assert-create" for r in requirements)
    current = _current(ws, ns, name)
    if current is None and not creates:
        raise ApiError(
            404,
            "NoSuchTableException",
            f"table `{ns}.{name}` does not exist",
            hint="create it first (POST …/tables), or commit with an assert-create requirement",
        )
    if creates and current is None:
        _absent(ws, ns, name)
    location = (
        current.metadata.location if current else iceberg_guard.table_location(ws.lake, ns, name)
    )
    iceberg_guard.check_updates(ws.lake, location, current, updates)
    metadata_location, metadata = _commit(ws, f"{ns}.{name}", requirements, updates)
    return iceberg_lookup.table_result(metadata_location, metadata.model_dump_json().encode())


@writes.delete("/namespaces/{namespace}/tables/{table}", status_code=204)
def drop_table(
    ws: Ws,
    namespace: str,
    table: str,
    purge_requested: Annotated[
        bool,
        Query(alias="purgeRequested", description="also delete every file the table references"),
    ] = False,
) -> Response:
    """Drop a table from the catalog; its files stay unless ``purgeRequested=true``."""
    from pyiceberg.exceptions import NoSuchTableError

    found = iceberg_lookup.table_of(ws, namespace, table)
    try:
        if purge_requested:
            ws.lake.catalog.purge_table(found.name())
        else:
            ws.lake.catalog.drop_table(found.name())
    except NoSuchTableError:
        raise ApiError(
            404, "NoSuchTableException", f"table `{'.'.join(found.name())}` was dropped meanwhile"
        ) from None
    return Response(status_code=204)


def _changes(
    body: CommitTableRequest,
) -> tuple[tuple[TableRequirement, ...], tuple[TableUpdate, ...]]:
    """The body's requirements and updates as pyiceberg's models; a 400 naming the first one
    that is unknown or malformed."""
    requirements_model, updates_model = _adapters()
    requirements = _parse(requirements_model, body.requirements, "requirements")
    updates = _parse(updates_model, body.updates, "updates")
    return requirements, updates


@functools.cache
def _adapters() -> tuple[TypeAdapter[Any], TypeAdapter[Any]]:
    """Validators of pyiceberg's ``TableRequirement`` and ``TableUpdate`` unions (built once)."""
    from pyiceberg.table.update import TableRequirement, TableUpdate

    return TypeAdapter(tuple[TableRequirement, ...]), TypeAdapter(tuple[TableUpdate, ...])


def _parse(model: Any, value: Any, field: str) -> Any:
    """``value`` validated by a pyiceberg model (or TypeAdapter); None stays None."""
    if value is None:
        return None
    try:
        if hasattr(model, "validate_python"):
            return model.validate_python(value)
        return model.model_validate(value)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "union_tag_invalid":
            message = (
                f"unknown {first['ctx']['discriminator'].strip(chr(39))} `{first['ctx']['tag']}`"
            )
        raise ApiError(
            400,
            "BadRequestException",
            f"{where}: {message}",
            hint="see the Iceberg REST spec (open-api/rest-catalog-open-api.yaml) for its shape",
        ) from None


def _commit(
    ws: Workspace,
    name: str,
    requirements: tuple[TableRequirement, ...],
    updates: tuple[TableUpdate, ...],
) -> tuple[str, Any]:
    """Commit through the lake's commit function; its failures answered as the spec has
    them: 409 when a requirement does not hold or the table appeared meanwhile, 400 for
    updates pyiceberg cannot apply, 500 ``CommitStateUnknownException`` for anything else."""
    from pyiceberg.exceptions import TableAlreadyExistsError

    from headwater.lake.commits import commit_updates

    try:
        return commit_updates(ws.lake, name, requirements, updates)
    except CommitConflict as exc:
        raise ApiError(409, "CommitFailedException", exc.message, exc.hint) from exc
    except TableAlreadyExistsError as exc:
        raise ApiError(
            409,
            "CommitFailedException",
            f"table `{name}` was created by another commit meanwhile",
            hint="load the table and commit again",
        ) from exc
    except (ValueError, NotImplementedError) as exc:  # pyiceberg refused to apply an update
        raise ApiError(
            400, "BadRequestException", f"the updates cannot be applied to `{name}`: {exc}"
        ) from exc
    except Exception as exc:
        log.exception("commit to %s failed", name)
        raise ApiError(
            500,
            "CommitStateUnknownException",
            f"the commit to `{name}` failed: {type(exc).__name__}: {exc}",
            hint="load the table to see whether it committed; the server's log has the traceback",
        ) from exc


def _prepare(location: str) -> None:
    """Make the folders a staged table's files go to, as the spec asks a server to prepare
    for the commit that creates it: DuckDB writes its manifests into ``<location>/metadata``
    of a local warehouse without creating the folder (object stores need none)."""
    if location.startswith("file://"):
        for folder in ("data", "metadata"):
            Path(location.removeprefix("file://"), folder).mkdir(parents=True, exist_ok=True)


def _current(ws: Workspace, namespace: str, name: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return ws.lake.catalog.load_table((namespace, name))
    except NoSuchTableError:
        return None


def _absent(ws: Workspace, namespace: str, name: str) -> None:
    """409 when ``namespace.name`` is taken, by an Iceberg or an external table."""
    full = f"{namespace}.{name}"
    if ws.lake.catalog.table_exists((namespace, name)):
        raise _exists(f"table `{full}` already exists")
    if ws.lake.external.get(full) is not None:
        raise _exists(f"`{full}` is an external table (files registered by `headwater crawl`)")


def _not_empty(name: str, held: str) -> ApiError:
    return ApiError(
        409,
        "NamespaceNotEmptyException",
        f"namespace `{name}` is not empty: it holds {held}",
        hint="drop its tables first",
    )


def _exists(message: str) -> ApiError:
    return ApiError(409, "AlreadyExistsException", message, hint="choose another name, or drop it")
