"""A processor's Python transform: a function of the project taking one record (a dict) and
returning a dict, a list of dicts, or None to drop it.

``python: processors/lab.py:transform`` names a file in the project folder (loaded as its own
module); ``python: package.module:transform`` an importable module. A record the function
raises on (or that is not JSON) fails alone and goes to the error stream; the routes are then
checked over all the outputs at once (in Python for field values, by DuckDB for SQL).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError, did_you_mean
from headwater.streams.processor_batch import Applied, Failure, Output
from headwater.streams.processor_json import ROW, json_table
from headwater.streams.processor_routes import Routes, quote_identifier
from headwater.streams.records import Record

if TYPE_CHECKING:
    import duckdb

Function = Callable[[dict[str, Any]], Any]


def load_function(ref: str, root: Path, where: str) -> Function:
    """The function ``path/to/file.py:name`` (in ``root``) or ``module:name`` refers to."""
    module_ref, _, name = ref.rpartition(":")
    if module_ref.endswith(".py"):
        path = (root / module_ref).resolve()
        if not path.is_file():
            raise ProjectError(
                f"{where}: no file {path}",
                hint="write the transform there, or fix the path (relative to the project folder)",
            )
        module_name = f"headwater_processor_{path.stem}_{abs(hash(str(path))):x}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise ProjectError(
                f"{where}: importing {path} failed: {type(exc).__name__}: {exc}",
                hint="fix the module; `--debug` shows the whole traceback",
            ) from exc
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise ProjectError(
                f"{where}: cannot import `{module_ref}`: {exc}",
                hint="give a file of the project as `path/to/file.py:function`, or install "
                "the module",
            ) from exc
    function = getattr(module, name, None)
    if not callable(function):
        public = [n for n in vars(module) if not n.startswith("_")]
        raise ProjectError(
            f"{where}: `{module_ref}` has no function `{name}`{did_you_mean(name, public)}"
        )
    return function


class PythonTransform:
    """Runs a processor's Python function and routes over micro-batches."""

    def __init__(self, function: Function, routes: Routes, partition_key: str | None) -> None:
        self.function = function
        self.routes = routes
        self.partition_key = partition_key
        self._db: duckdb.DuckDBPyConnection | None = None

    def apply(self, records: Sequence[Record]) -> Applied:
        made: list[tuple[int, dict[str, Any]]] = []
        datas: list[bytes] = []
        failures: list[Failure] = []
        function = self.function
        for index, record in enumerate(records):
            try:
                outs = _outputs(function(json.loads(record.data)))
                dumped = [_dumps(out) for out in outs]
            except Exception as exc:
                failures.append(Failure.of(index, exc))
                continue
            made.extend((index, out) for out in outs)
            datas.extend(dumped)
        if self.routes.in_python:
            routes = [self.routes.match(out) for _, out in made]
        else:
            routes = self._sql_routes(datas)
        key = self.partition_key
        return Applied(
            [
                Output(index, route, data, _key(out.get(key)) if key else None)
                for (index, out), route, data in zip(made, routes, datas, strict=True)
            ],
            failures,
        )

    def _sql_routes(self, datas: list[bytes]) -> list[int]:
        if not datas:
            return []
        if self._db is None:
            import duckdb

            self._db = duckdb.connect(config={"threads": 1})
        self._db.register("outputs", json_table(datas))
        try:
            rows = self._db.execute(
                f"SELECT {self.routes.case()} FROM outputs ORDER BY {quote_identifier(ROW)}"
            ).fetchall()
        finally:
            self._db.unregister("outputs")
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _outputs(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    raise TypeError(
        f"the transform returned a {type(value).__name__}; return a dict, a list of dicts, "
        "or None to drop the record"
    )


def _dumps(value: dict[str, Any]) -> bytes:
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
    ).encode()


def _key(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
