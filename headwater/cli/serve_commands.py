"""The serve command: the query service and Iceberg REST catalog over HTTP (uvicorn)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    app,
    consoles,
    handles_errors,
    open_workspace,
)


@app.command()
@handles_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on.", show_default="serve.host, 127.0.0.1")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on.", show_default="serve.port, 8000")
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Serve the project over HTTP: SQL queries, table metadata, an Iceberg catalog.

    POST /v1/query    read-only SQL, answered in pages of JSON or Arrow
    GET  /v1/tables   the tables; /v1/tables/NAME: schema, snapshots, properties
    /v1/config, /v1/namespaces/…   the Iceberg REST catalog (pyiceberg, DuckDB…)
    POST /v1/pipelines/NAME/runs   queue a run (GET lists them; /v1/runs/ID)
    POST /v1/streams/NAME/records  push JSON events into a stream
    POST /  (X-Amz-Target)          the Kinesis API: boto3's kinesis client with
                                    endpoint_url pointing here
    /docs             the OpenAPI documentation of every route (/openapi.json)

    With `serve: {tokens: [...]}` in headwater.yaml, every request needs
    `Authorization: Bearer <token>` (the Kinesis API: the token as aws_access_key_id).

    Example: headwater serve --port 8181 --var api_token=s3cret
    """
    import logging

    from headwater.web import create_app, server

    if debug:  # a failed request's traceback, which the log otherwise leaves out
        logging.getLogger("headwater.web").setLevel(logging.DEBUG)

    ws = open_workspace(project, var)
    settings = ws.project.config.serve
    host, port = host or settings.host, settings.port if port is None else port
    web = create_app(ws)
    _, err = consoles()
    address = f"http://{host}:{port}"
    err.print(
        f"serving [bold]{ws.project.name}[/bold] at {address}: query API {address}/v1/query, "
        f"Iceberg REST catalog uri {address}, Kinesis endpoint_url {address}, "
        f"docs {address}/docs",
        highlight=False,
    )
    if not settings.tokens:
        loopback = host == "localhost" or _is_loopback(host)
        level = "note" if loopback else "[bold red]warning[/bold red]"
        advice = escape(
            f"no token is asked for; anyone who reaches {host}:{port} can read every table, "
            "queue pipeline runs, change tables through the Iceberg catalog, and put into, "
            "read and delete streams — "
            'set `serve: {tokens: ["${var.api_token}"]}` in headwater.yaml'
        )
        err.print(f"{level}: {advice}", highlight=False)
    try:
        server.run(web, host, port, debug=debug)
    finally:
        ws.close()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
