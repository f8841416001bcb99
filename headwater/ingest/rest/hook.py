"""The Python escape hatch: a table whose records come from ``python: "module:function"``.

The function receives an :class:`Api` (the connection's client: auth, limits, retries,
pagination, landing) and the :class:`ReadContext`, and yields records (dicts) or pages
(lists of dicts)::

    def playlists(api, context):
        for user in ("anna", "ben"):
            yield from api.pages(f"/v1/users/{user}/playlists", paginate={"type": "next_url"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from headwater.connect.http import HttpClient, json_body
from headwater.errors import SourceError
from headwater.ingest.extraction import ReadContext
from headwater.ingest.rest.endpoint import Endpoint, Records, pages
from headwater.ingest.rest.landing import Landing
from headwater.project.http import NoPagination, Paginate

Hook = Callable[["Api", ReadContext], Iterable[Any]]
_PAGINATE: TypeAdapter[Paginate] = TypeAdapter(Paginate)


class Api:
    """What a ``python:`` table's function calls the API with."""

    def __init__(self, client: HttpClient, landing: Landing | None = None) -> None:
        self.client = client
        self._landing = landing

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON body of one GET."""
        response = self.client.get(path, params)
        if self._landing is not None:
            self._landing.keep(response.content)
        return json_body(response, self.client.url(path))

    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        records: str | None = None,
        paginate: Paginate | dict[str, Any] | None = None,
    ) -> Iterator[Records]:
        """The records of each page, as a table with these settings would read them."""
        try:
            style = NoPagination() if paginate is None else _PAGINATE.validate_python(paginate)
        except ValidationError as exc:
            raise SourceError(
                f"paginate={paginate!r} is not a pagination style: {exc}",
                hint="give e.g. {'type': 'next_url', 'next': 'next'}",
            ) from exc
        yield from pages(
            self.client, Endpoint(path, dict(params or {}), records, style), self._landing
        )

    def records(
        self, path: str, params: dict[str, Any] | None = None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        """The records of every page, one by one."""
        for page in self.pages(path, params, **options):
            yield from page


def load(spec: str, root: Path) -> Hook:
    """The function named ``module:function``; modules are found in the project folder too."""
    module_name, _, function_name = spec.partition(":")
    if str(root) not in sys.path:
        # a project's own modules (pipelines/*.py) import like installed ones
        sys.path.append(str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SourceError(
            f"cannot import module `{module_name}` for python: {spec}: {exc}",
            hint=f"put {module_name.replace('.', '/')}.py in the project folder {root}, "
            "or install the package that has it",
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SourceError(
            f"module `{module_name}` has no function `{function_name}` (python: {spec})",
            hint="define `def NAME(api, context):` yielding records or pages",
        )
    hook: Hook = function
    return hook


def run(hook: Hook, api: Api, context: ReadContext, spec: str) -> Iterator[Records]:
    """The function's output as pages of records, whether it yields records or pages."""
    for item in hook(api, context):
        if isinstance(item, dict):
            yield [item]
        elif isinstance(item, list) and all(isinstance(r, dict) for r in item):
            yield item
        else:
            raise SourceError(
                f"{spec} yielded {type(item).__name__} {item!r:.60}",
                hint="yield records (dicts) or pages (lists of dicts)",
            )
