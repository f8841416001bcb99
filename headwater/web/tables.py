"""``GET /v1/tables`` and ``GET /v1/tables/{name}``: what the catalog holds, as ``headwater
tables`` and ``headwater show`` print it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from headwater.web.deps import Ws
from headwater.web.errors import RESPONSES, ErrorResponse

if TYPE_CHECKING:
    from headwater.lake import TableInfo

router = APIRouter(tags=["tables"])


class TableSummary(BaseModel):
    name: str = Field(examples=["gold.fact_orders"])
    rows: int
    files: int
    bytes: int
    snapshot_id: int | None = Field(description="the current snapshot")
    updated_at: datetime | None


class TableList(BaseModel):
    tables: list[TableSummary]


class ColumnInfo(BaseModel):
    name: str
    type: str = Field(description="Arrow type the data files hold")
    nullable: bool


class SnapshotEntry(BaseModel):
    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    rows: int
    summary: dict[str, str] = Field(description="Iceberg summary, with headwater.run-id, …")


class SchemaChange(BaseModel):
    changed_at: datetime
    kind: str
    column: str | None
    old_type: str | None
    new_type: str | None
    run_id: str


class TableDetail(TableSummary):
    columns: list[ColumnInfo]
    snapshots: list[SnapshotEntry] = Field(description="oldest first")
    properties: dict[str, str] = Field(description="the Iceberg table's properties")
    schema_changes: list[SchemaChange]
    cursor: Any = Field(description="the cursor committed with the last load, if any")
    checks: list[dict[str, Any]] = Field(description="the latest result of each check")


@router.get("/v1/tables", response_model=TableList, responses=RESPONSES)
def list_tables(ws: Ws) -> TableList:
    """Every table of the catalog with its rows, files, size and current snapshot."""
    return TableList(tables=[_summary(info) for info in ws.tables()])


@router.get(
    "/v1/tables/{name}",
    response_model=TableDetail,
    responses={**RESPONSES, 404: {"model": ErrorResponse, "description": "No such table"}},
)
def show_table(
    ws: Ws, name: Annotated[str, Path(description="NAMESPACE.NAME", examples=["raw.orders"])]
) -> TableDetail:
    """A table's schema, snapshots (its history), properties, schema changes and checks."""
    details = ws.table(name)
    return TableDetail(
        **_summary(details.info).model_dump(),
        columns=[
            ColumnInfo(name=f.name, type=str(f.type), nullable=f.nullable) for f in details.schema
        ],
        snapshots=[
            SnapshotEntry(
                snapshot_id=s.snapshot_id,
                parent_id=s.parent_id,
                committed_at=s.committed_at,
                operation=s.operation,
                rows=s.rows,
                summary=s.summary,
            )
            for s in details.snapshots
        ],
        properties=ws.lake.table_metadata(name).properties,
        schema_changes=[
            SchemaChange(
                changed_at=c.changed_at,
                kind=c.kind,
                column=c.column,
                old_type=c.old_type,
                new_type=c.new_type,
                run_id=c.run_id,
            )
            for c in details.schema_changes
        ],
        cursor=details.cursor,
        checks=details.checks,
    )


def _summary(info: TableInfo) -> TableSummary:
    return TableSummary(
        name=info.name,
        rows=info.rows,
        files=info.files,
        bytes=info.bytes,
        snapshot_id=info.snapshot_id,
        updated_at=info.updated_at,
    )
