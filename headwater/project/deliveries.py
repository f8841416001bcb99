"""The typed shape of ``deliveries:`` in headwater.yaml: buffered movement of a stream's records
into an Iceberg table or into files under a prefix (the Firehose analog)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.base import Contract, Strict

# the expressions a prefix may hold: !{timestamp:yyyy/MM/dd/HH}, !{partitionKeyFromQuery:a.b}
EXPRESSION = re.compile(r"!\{([A-Za-z]+):([^}]*)\}")
EXPRESSION_KINDS = ("timestamp", "partitionKeyFromQuery")
FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
TIME_LETTERS = re.compile(r"yyyy|MM|dd|HH|mm|ss")


def prefix_problems(prefix: str) -> list[str]:
    """What is wrong with the expressions of a prefix (nothing: it can be evaluated)."""
    problems = []
    rest = EXPRESSION.sub("", prefix)
    if "!{" in rest:
        problems.append(
            f"`{prefix}` has an unclosed or empty `!{{…}}`; write `!{{timestamp:yyyy/MM/dd}}` "
            "or `!{partitionKeyFromQuery:field}`"
        )
    for kind, argument in EXPRESSION.findall(prefix):
        if kind not in EXPRESSION_KINDS:
            problems.append(
                f"`!{{{kind}:…}}` is not an expression a prefix takes; use "
                + " or ".join(f"`!{{{k}:…}}`" for k in EXPRESSION_KINDS)
            )
        elif kind == "timestamp" and not TIME_LETTERS.search(argument):
            problems.append(
                f"`!{{timestamp:{argument}}}` has no date part; use yyyy, MM, dd, HH, mm, ss"
            )
        elif kind == "partitionKeyFromQuery" and not FIELD_PATH.match(argument):
            problems.append(
                f"`!{{partitionKeyFromQuery:{argument}}}` needs a field path such as "
                "`country` or `customer.country`"
            )
    if prefix.startswith("/"):
        problems.append(f"`{prefix}` starts with `/`: a prefix is relative to the url")
    return problems


class FilesDestination(Strict):
    """Files under a prefix, on a local folder or an S3 bucket prefix."""

    url: str = Field(description="folder (relative to the project) or s3://bucket/prefix")
    prefix: str = Field(
        default="!{timestamp:yyyy/MM/dd/HH}/",
        description="path under the url; may hold !{timestamp:yyyy/MM/dd/HH} and "
        "!{partitionKeyFromQuery:field}",
    )
    format: Literal["jsonl", "parquet"] = "jsonl"
    compression: Literal["none", "gzip"] = "none"

    @field_validator("prefix")
    @classmethod
    def _expressions(cls, value: str) -> str:
        problems = prefix_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


class Buffer(Strict):
    """Flush when either hint is reached, whichever comes first."""

    mb: float = Field(default=5, ge=1, le=128, description="buffered megabytes")
    seconds: float = Field(default=60, ge=0, le=900, description="seconds since the last flush")


class ErrorOutput(Strict):
    """Where records that fail parse or schema go: a prefix under the files url, or a table."""

    prefix: str | None = Field(default=None, description="a files delivery: a prefix")
    table: str | None = Field(default=None, description="a table delivery: namespace.name")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``errors: errors/`` (a prefix) or ``errors: raw.clicks_errors`` (a table)."""
        if isinstance(value, str):
            return {"prefix": value} if value.endswith("/") else {"table": value}
        return value

    @model_validator(mode="after")
    def _one(self) -> ErrorOutput:
        if (self.prefix is None) == (self.table is None):
            raise ValueError("give `prefix` (for files) or `table`, not both or neither")
        if self.prefix is not None:
            problems = prefix_problems(self.prefix)
            if problems:
                raise ValueError("; ".join(problems))
        return self


class DeliveryConfig(Strict):
    """A delivery: a stream's records, buffered, into a table (default) or files."""

    description: str | None = None
    stream: str = Field(description="the stream read")
    start: Literal["trim_horizon", "latest"] = Field(
        default="trim_horizon",
        description="where a delivery that has delivered nothing yet starts reading",
    )
    table: str | None = Field(default=None, description="Iceberg table namespace.name")
    files: FilesDestination | None = Field(default=None, description="files under a prefix")
    buffer: Buffer = Buffer()
    errors: ErrorOutput | None = Field(
        default=None,
        description="failed records: a table (default <table>__errors) or a prefix "
        "(default errors/)",
    )
    schema_: dict[str, str] = Field(
        default_factory=dict,
        alias="schema",
        description="declared columns (name: DuckDB type); none: inferred from the records",
    )
    contract: Contract = Field(
        default="evolve", description="what to do with new fields and values that do not fit"
    )
    lease_seconds: float = Field(
        default=30,
        ge=1,
        le=600,
        description="how long a worker holds a shard without renewing it: the others take "
        "over a dead worker's shards after this",
    )

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and value.count(".") != 1:
            raise ValueError(f"table `{value}` must be namespace.name")
        return value

    @model_validator(mode="after")
    def _destination(self) -> DeliveryConfig:
        if (self.table is None) == (self.files is None):
            raise ValueError("give one destination: `table: ns.name` or `files: {url: …}`")
        if self.errors is not None:
            if self.table is not None and self.errors.table is None:
                raise ValueError("a table delivery writes its errors to a table: `errors: {table}`")
            if self.files is not None and self.errors.prefix is None:
                raise ValueError(
                    "a files delivery writes its errors under a prefix: `errors: {prefix}`"
                )
        return self

    @property
    def errors_table(self) -> str | None:
        if self.table is None:
            return None
        return self.errors.table if self.errors and self.errors.table else f"{self.table}__errors"

    @property
    def errors_prefix(self) -> str | None:
        if self.files is None:
            return None
        return self.errors.prefix if self.errors and self.errors.prefix else "errors/"
