"""The FastAPI app of ``headwater serve``, built from one Workspace; a router per concern.

Adding a concern is one line in ``ROUTERS``; every route is behind the bearer-token check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import APIRouter, Depends, FastAPI

import headwater
from headwater.sql.cursors import Cursors, Result
from headwater.web import docs, errors, iceberg_rest, kinesis, pipelines, push, query, tables
from headwater.web.auth import require_token
from headwater.workspace import Workspace

ROUTERS: tuple[APIRouter, ...] = (
    query.router,
    tables.router,
    iceberg_rest.router,
    pipelines.router,
    push.router,
)

# rows per batch from DuckDB: a page is assembled from batches this small
_BATCH_ROWS = 10_000


def create_app(workspace: Workspace) -> FastAPI:
    """The HTTP app over ``workspace``: ``/v1/query``, ``/v1/tables``, the Iceberg REST
    catalog (``/v1/config``, ``/v1/namespaces/…``), ``/v1/streams/{name}/records``, the
    Kinesis API at ``/`` and OpenAPI docs at ``/docs``."""
    settings = workspace.project.config.serve
    workspace.lake.catalog  # noqa: B018 — open the catalog once, before requests race to

    @contextmanager
    def stream(sql: str) -> Iterator[Result]:
        with workspace.query_session(sandboxed=True) as session:
            yield Result(lambda: session.query(sql, batch_rows=_BATCH_ROWS), session.con.interrupt)

    cursors = Cursors(
        stream,
        page_bytes=settings.page_bytes,
        timeout=settings.query_timeout,
        running=settings.max_queries,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        cursors.close()

    app = FastAPI(
        title=f"Headwater: {workspace.project.name}",
        version=headwater.__version__,
        description="SQL over the project's Iceberg tables, their metadata, and an Iceberg REST "
        "catalog that other engines read them through.",
        dependencies=[Depends(require_token)],
        lifespan=lifespan,
        # web/docs.py serves them: the document behind the token, the page without a CDN
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.workspace = workspace
    app.state.cursors = cursors
    app.state.tokens = tuple(t.get_secret_value().encode() for t in settings.tokens)
    app.state.catalog_prefix = settings.catalog_prefix
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    docs.install(app)
    # boto3's Kinesis requests, told apart by their X-Amz-Target header (web/kinesis.py)
    app.add_middleware(
        kinesis.KinesisEndpoint, api=kinesis.kinesis_api(workspace), tokens=app.state.tokens
    )
    return app
