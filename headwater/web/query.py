"""``POST /v1/query``: run a read-only SQL statement, answered page by page as JSON or Arrow.

The first request runs the statement and returns its first page with a ``next_page_token``;
each later request sends the token back for the next page. The statement runs once: its
result is streamed from one open cursor (see :mod:`headwater.sql.cursors`), so every page
reads the same snapshots and memory holds one page, whatever the result's size.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from headwater.errors import QueryError
from headwater.json_values import finite, json_value
from headwater.sql.cursors import Abort, Cursors, Page
from headwater.web.errors import RESPONSES, ApiError

if TYPE_CHECKING:
    import pyarrow as pa

router = APIRouter(tags=["query"])

ARROW_STREAM = "application/vnd.apache.arrow.stream"
NEXT_PAGE_HEADER = "Headwater-Next-Page-Token"
MAX_PAGE_ROWS = {"json": 100_000, "arrow": 1_000_000}
# how often a computing request looks whether its client is still there
_POLL_SECONDS = 0.2


class QueryRequest(BaseModel):
    """A statement to run (first page), or the token of the next page."""

    model_config = ConfigDict(extra="forbid")

    sql: str | None = Field(
        default=None,
        description="One read-only statement (SELECT, WITH, UNION, DESCRIBE, …) over catalog "
        "tables, in DuckDB's dialect; `FOR TIMESTAMP AS OF …` / `FOR VERSION AS OF …` read a "
        "table as it was. Required for the first page.",
        examples=["SELECT status, count(*) AS n FROM raw.orders GROUP BY 1 ORDER BY 1"],
    )
    format: Literal["json", "arrow"] = Field(
        default="json",
        description=f"`json`: rows as arrays; `arrow`: an Arrow IPC stream ({ARROW_STREAM})",
    )
    page_size: int = Field(
        default=1000,
        ge=1,
        description="rows per page: at most 100,000 as JSON, 1,000,000 as Arrow",
    )
    page_token: str | None = Field(
        default=None, description="`next_page_token` of the previous page, for the next one"
    )

    @model_validator(mode="after")
    def _sql_or_token(self) -> QueryRequest:
        if (self.sql is None) == (self.page_token is None):
            raise ValueError("give `sql` for the first page or `page_token` for the next")
        if self.page_size > MAX_PAGE_ROWS[self.format]:
            raise ValueError(
                f"page_size is at most {MAX_PAGE_ROWS[self.format]:,} for format {self.format}"
            )
        return self


class Column(BaseModel):
    name: str
    type: str = Field(description="Arrow type, e.g. int64, string, decimal128(10, 2)")


class QueryPage(BaseModel):
    """One page of a result as JSON."""

    columns: list[Column]
    rows: list[list[Any]] = Field(description="one array per row, values in column order")
    row_count: int
    next_page_token: str | None = Field(description="send it back for the next page; null: done")


def cursors(request: Request) -> Cursors:
    cursors: Cursors = request.app.state.cursors
    return cursors


@router.post(
    "/v1/query",
    response_model=QueryPage,
    responses={
        **RESPONSES,
        200: {
            "description": f"a page as JSON, or as `{ARROW_STREAM}` with the next page's token "
            f"in the `{NEXT_PAGE_HEADER}` header",
            "content": {ARROW_STREAM: {}},
        },
    },
)
async def query(
    request: QueryRequest, http: Request, open_cursors: Annotated[Cursors, Depends(cursors)]
) -> Response:
    """Run a read-only statement and return its first page, or the next page of one.

    ```
    curl -s -X POST localhost:8000/v1/query -H 'Content-Type: application/json' \\
         -d '{"sql": "SELECT count(*) AS n FROM gold.fact_orders"}'
    ```
    DDL and DML are refused with a 400 that names the statement. A client that goes away
    stops its query.
    """
    abort = Abort()

    def answer() -> Response:
        if request.page_token is not None:
            page = open_cursors.next(request.page_token, request.page_size, abort)
        else:
            assert request.sql is not None
            page = open_cursors.first(request.sql, request.page_size, abort)
        if request.format == "arrow":
            return _arrow(page)
        return Response(_json(page), media_type="application/json")

    failed: Exception | None = None
    async with anyio.create_task_group() as watching:
        watching.start_soon(_stop_when_gone, http, abort)
        try:
            answered = await anyio.to_thread.run_sync(answer)
        except Exception as exc:  # raised below: a task group would wrap it in a group
            failed = exc
        finally:
            watching.cancel_scope.cancel()
    if failed is not None:
        raise failed
    return answered


async def _stop_when_gone(http: Request, abort: Abort) -> None:
    """Stop the query when its client disconnects: nobody would read the answer."""
    while not await http.is_disconnected():
        await anyio.sleep(_POLL_SECONDS)
    abort(QueryError("the client went away", hint="nobody reads this answer"))


def _arrow(page: Page) -> Response:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, page.rows.schema) as writer:
        writer.write_table(page.rows)
    headers = {NEXT_PAGE_HEADER: page.token} if page.token else {}
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM, headers=headers)


def _json(page: Page) -> bytes:
    table: pa.Table = page.rows
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    values = table.to_pydict()
    rows = [finite(list(row)) for row in zip(*values.values(), strict=True)] if values else []
    body = {
        "columns": columns,
        "rows": rows,
        "row_count": table.num_rows,
        "next_page_token": page.token,
    }
    return json.dumps(body, default=_json_value, ensure_ascii=False, allow_nan=False).encode()


def _json_value(value: Any) -> Any:
    try:
        return json_value(value)
    except TypeError:
        raise ApiError(
            500, "ServiceFailureException", f"cannot answer a {type(value).__name__} as JSON"
        ) from None
