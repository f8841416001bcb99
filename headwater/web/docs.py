"""The OpenAPI document at ``/openapi.json`` and its browsable page at ``/docs``.

The document is a route like the others, so it asks for the bearer token when the server has
any. The page itself holds nothing of the project (a browser cannot send a bearer token when
it opens a page): it asks for the token and fetches the document with it. Its Swagger UI
assets (Swagger UI 5, which reads OpenAPI 3.1) are served from the installed
``fastapi-swagger`` package, never from a CDN, so the
page works on a machine without Internet access.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

_SCRIPT = Path(__file__).with_name("static") / "docs.js"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Headwater API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/headwater.js"></script>
</body>
</html>
"""


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI document of every route."""
    return JSONResponse(request.app.openapi())


async def _page(_: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE)


def install(app: FastAPI) -> None:
    """Serve the document (behind the token, as every route) and the page with its assets."""
    from importlib.resources import files

    assets = files("fastapi_swagger.resources")
    app.include_router(router)
    # plain routes: the app's token dependency is for API routes, and these hold no data
    app.add_route("/docs", _page, include_in_schema=False)
    app.add_route("/docs/headwater.js", _script, include_in_schema=False)
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")


async def _script(_: Request) -> Response:
    return Response(_SCRIPT.read_bytes(), media_type="text/javascript")
