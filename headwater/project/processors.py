"""The typed shape of ``processors:`` in headwater.yaml: which stream a processor reads, how it
transforms each record (a Python function or a DuckDB ``SELECT`` over each micro-batch), and
the ordered routes that send its outputs to other streams."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.base import Strict

# a field's value a record must have for ``when: {field: value}``
Scalar = str | int | float | bool | None


class Route(Strict):
    """Where outputs go: to ``to`` when ``when`` holds (the first route that holds wins); a
    route without ``when`` takes every output no route before it took."""

    when: str | dict[str, Scalar] | None = Field(
        default=None,
        description="a SQL expression over the output's fields, run by DuckDB "
        "(\"country = 'USA'\"), or field values it must have ({country: USA}); none: every "
        "output left",
    )
    to: str = Field(description="the stream that takes the outputs")

    @field_validator("when")
    @classmethod
    def _not_empty(cls, value: str | dict[str, Scalar] | None) -> str | dict[str, Scalar] | None:
        if value is not None and not (value.strip() if isinstance(value, str) else value):
            raise ValueError("`when` is empty: give a condition, or leave `when` out")
        return value


class ProcessorConfig(Strict):
    """A consumer group reading one stream, transforming and routing its records."""

    description: str | None = None
    stream: str = Field(description="the stream read")
    start: Literal["trim_horizon", "latest"] = Field(
        default="trim_horizon",
        description="where a shard is read from the first time (then: after its checkpoint)",
    )
    python: str | None = Field(
        default=None,
        description="path/to/file.py:function in the project folder (or module:function) "
        "taking a record (a dict) and returning a dict, a list of dicts, or None to drop it",
    )
    sql: str | None = Field(
        default=None,
        description="a SELECT … FROM records run by DuckDB over each micro-batch, one record "
        "per row of `records`",
    )
    to: str | None = Field(default=None, description="shorthand for `routes: [{to: STREAM}]`")
    routes: tuple[Route, ...] = Field(
        default=(), description="where outputs go, first matching route first"
    )
    errors: str | None = Field(
        default=None,
        description="the stream taking records the transform failed on, with the error; "
        "default `<processor>__errors`",
    )
    partition_key: str | None = Field(
        default=None,
        description="the output field keying each output record; default: the input "
        "record's partition key",
    )
    batch_records: int = Field(
        default=2000, gt=0, le=100_000, description="records read from a shard at once"
    )
    lease_ttl: float = Field(
        default=10.0,
        gt=0.5,
        le=600,
        description="seconds a worker's hold on a shard lasts without renewal (renewed "
        "every third of it); another worker takes a dead one's shards after it",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_route(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("to") is not None and value.get("routes"):
            raise ValueError("give either `to` or `routes`, not both")
        return value

    @model_validator(mode="after")
    def _transform_and_routes(self) -> ProcessorConfig:
        if (self.python is None) == (self.sql is None):
            raise ValueError(
                "a processor needs either `python: file.py:function` or `sql: SELECT … FROM "
                "records` (one of them)"
            )
        if self.python is not None:
            module, _, function = self.python.rpartition(":")
            if not module or not function.isidentifier():
                raise ValueError(
                    f"`{self.python}` must be `path/to/file.py:function` or "
                    "`module:function`, e.g. `processors/lab.py:transform`"
                )
        if not self.routes and self.to is None:
            raise ValueError("a processor needs `to: STREAM` or `routes:` saying where outputs go")
        for index, route in enumerate(self.routes[:-1]):
            if route.when is None:
                raise ValueError(
                    f"route {index} has no `when`, so it takes every output and the routes "
                    "after it get none: put it last"
                )
        return self

    @property
    def all_routes(self) -> tuple[Route, ...]:
        return self.routes if self.routes else (Route(to=self.to or ""),)

    def errors_stream(self, name: str) -> str:
        return self.errors or f"{name}__errors"

    def outputs(self, name: str) -> list[tuple[tuple[str | int, ...], str]]:
        """Every stream it writes, with its path under ``processors.<name>`` in the file."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.routes:
            found += [(("routes", i, "to"), r.to) for i, r in enumerate(self.routes)]
        else:
            found.append((("to",), self.to or ""))
        found.append((("errors",), self.errors_stream(name)))
        return found
