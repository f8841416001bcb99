"""The typed shape of ``processors:`` in headwater.yaml: which stream a processor reads, how it
transforms each record (a Python function or a DuckDB ``SELECT`` over each micro-batch) or
aggregates them over tumbling event-time windows (``window:`` and ``aggregate:``), and the
ordered routes that send its outputs to other streams."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.base import IDENTIFIER, Names, Strict
from headwater.project.window_aggregates import check_aggregate

# the fields every window record has besides its `by` fields and its aggregates
WINDOW_FIELDS = ("window_start", "window_end")

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


class WindowConfig(Strict):
    """Tumbling event-time windows per key: ``size`` long, aligned on the Unix epoch."""

    size: str = Field(description="how long a window is: 1m, 30s, 1h (at least 1 ms)")
    by: Names = Field(default=(), description="the fields keying the windows (device_id)")
    time: str | None = Field(
        default=None,
        description="the field holding a record's event time: epoch seconds or milliseconds, "
        "or an ISO 8601 time; none: when the stream took the record",
    )
    lateness: str = Field(
        default="0s",
        description="how long after a window's end its records may still arrive (the "
        "watermark is the newest event time seen in the shard minus this)",
    )

    @field_validator("size", "lateness")
    @classmethod
    def _duration(cls, value: str, info: Any) -> str:
        from headwater.durations import parse_duration
        from headwater.errors import ProjectError

        try:
            millis = parse_duration(str(value)).total_seconds() * 1000
        except ProjectError as exc:
            raise ValueError(
                f"`{value}` is not a duration: write it like 10s, 1m, 1h or 0.5s"
            ) from exc
        if info.field_name == "size" and millis < 1:
            raise ValueError(f"a window of `{value}` is empty: give at least 1 ms, e.g. 1m")
        if millis != int(millis):
            raise ValueError(f"`{value}` is not a whole number of milliseconds")
        return str(value)

    @field_validator("by")
    @classmethod
    def _fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not IDENTIFIER.match(name):
                raise ValueError(f"`{name}` is not a field name (letters, digits, _)")
            if name in WINDOW_FIELDS:
                raise ValueError(f"`{name}` is a field every window record has already")
        if len(set(value)) != len(value):
            raise ValueError("a field is named twice in `by`")
        return value

    @field_validator("time")
    @classmethod
    def _time_field(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("`time` is empty: name the field, or leave `time` out")
        return value

    @property
    def size_ms(self) -> int:
        return _millis(self.size)

    @property
    def lateness_ms(self) -> int:
        return _millis(self.lateness)


def _millis(text: str) -> int:
    from headwater.durations import parse_duration

    return round(parse_duration(text).total_seconds() * 1000)


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
    window: WindowConfig | None = Field(
        default=None,
        description="aggregate the records over tumbling windows per key instead of "
        "transforming them one by one (with `aggregate:`)",
    )
    aggregate: tuple[str, ...] = Field(
        default=(),
        description="the window records' aggregates, SQL with an alias each: "
        "`avg(temperature) AS avg_temperature`",
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
        if self.window is not None or self.aggregate:
            self._check_window()
        elif (self.python is None) == (self.sql is None):
            raise ValueError(
                "a processor needs either `python: file.py:function` or `sql: SELECT … FROM "
                "records` (one of them), or `window:` with `aggregate:`"
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

    def _check_window(self) -> None:
        if self.window is None:
            raise ValueError(
                "`aggregate:` needs `window: {size: 1m, by: [FIELD]}` saying what to aggregate over"
            )
        if not self.aggregate:
            raise ValueError(
                "a `window:` needs `aggregate:`, a list such as "
                '["count(*) AS readings", "avg(temperature) AS avg_temperature"]'
            )
        if self.python is not None or self.sql is not None:
            raise ValueError(
                "a windowed processor aggregates the records as they are: leave out "
                "`python:`/`sql:` (transform them in a processor before this one)"
            )
        names = set(self.window.by) | set(WINDOW_FIELDS)
        for index, text in enumerate(self.aggregate):
            alias = check_aggregate(text, f"aggregate[{index}]")
            if alias in names:
                raise ValueError(
                    f"aggregate[{index}] `{text}`: the alias `{alias}` is taken (by a `by` "
                    "field, window_start/window_end or another aggregate)"
                )
            names.add(alias)

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
