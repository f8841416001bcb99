"""The typed shape of ``headwater.yaml``: immutable pydantic models, unknown keys rejected.

Loose input (strings, shorthands) is converted here, at the edge; everything downstream gets
these validated value objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    """Base for every config object: frozen, and unknown keys are errors."""

    # numbers given where text is expected (a variable's default in a description) are text
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _identifier(value: str, what: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{what} `{value}` must be letters, digits and underscores, not starting with a digit"
        )
    return value


class Variable(Strict):
    """A named input of the project; ``default`` may be overridden by --var or env."""

    description: str | None = None
    default: str | int | float | bool | None = None
    sensitive: bool = False


class SqlConnection(Strict):
    """A relational database reached through a SQLAlchemy URL."""

    type: Literal["sql"] = "sql"
    url: str = Field(
        description="SQLAlchemy URL; a relative sqlite path is relative to the project folder"
    )


def _connection_type(value: Any) -> str:
    return str(
        value.get("type", "sql") if isinstance(value, dict) else getattr(value, "type", "sql")
    )


# Later connection kinds (http, object store, stream broker) join this union by `type`.
Connection = Annotated[
    Annotated[SqlConnection, Tag("sql")],
    Discriminator(_connection_type),
]

Reader = Literal["auto", "duckdb", "connectorx", "sqlalchemy"]


class SourceTable(Strict):
    """One table to extract: a source table by name, or a query, landing in ``target``."""

    name: str = Field(description="table name in the target namespace")
    table: str | None = Field(default=None, description="source table, default: `name`")
    query: str | None = Field(
        default=None, description="a SELECT to run instead of reading a table"
    )
    schema_: str | None = Field(default=None, alias="schema", description="source schema/database")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _identifier(value, "table name")

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceTable:
        if self.table and self.query:
            raise ValueError("give either `table` or `query`, not both")
        return self

    @property
    def source_table(self) -> str:
        return self.table or self.name


class Source(Strict):
    """What to read from a connection and where it lands."""

    connection: str
    namespace: str = "raw"
    tables: tuple[SourceTable, ...] = Field(min_length=1)
    reader: Reader = "auto"
    batch_rows: int = Field(default=100_000, gt=0, description="rows per Arrow record batch")
    mode: Literal["full"] = "full"

    @field_validator("tables", mode="before")
    @classmethod
    def _coerce_tables(cls, value: Any) -> Any:
        """Accept `[customers, orders]` as shorthand for `[{name: customers}, ...]`."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, value: str) -> str:
        return _identifier(value, "namespace")


class Models(Strict):
    """Where the SQL models live: ``<path>/<namespace>/<name>.sql``."""

    path: str = "models"


class Lake(Strict):
    """Where tables live: an Iceberg SQL catalog and a warehouse location."""

    catalog_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the catalog; default .headwater/catalog.db"
    )
    warehouse: str = Field(default=".headwater/warehouse", description="folder or file:// URL")
    target_file_mb: int = Field(default=128, gt=0, description="size of one data file on storage")


class State(Strict):
    """Where runs, task runs and other metadata are stored."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default .headwater/state.db")


class IngestStep(Strict):
    """Extract a source's tables (all, or the listed ones): one task per table."""

    ingest: str
    tables: tuple[str, ...] | None = None
    depends_on: tuple[str, ...] = ()
    name: str | None = None


class ModelsStep(Strict):
    """Build models selected by namespace (`gold`), name (`gold.dim_customers`) or glob."""

    models: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    name: str | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _coerce_models(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def _step_kind(value: Any) -> str | None:
    keys = value if isinstance(value, dict) else vars(value)
    return "ingest" if "ingest" in keys else "models" if "models" in keys else None


Step = Annotated[
    Annotated[IngestStep, Tag("ingest")] | Annotated[ModelsStep, Tag("models")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a task needs `ingest: SOURCE` or `models: SELECTOR`",
    ),
]


class Pipeline(Strict):
    """An ordered list of steps; each step expands to tasks whose dependencies come from data."""

    description: str | None = None
    tasks: tuple[Step, ...] = Field(min_length=1)
    parallelism: int = Field(default=4, gt=0, description="tasks running at once")


class ProjectConfig(Strict):
    """The whole ``headwater.yaml``."""

    name: str
    description: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    connections: dict[str, Connection] = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    models: Models = Models()
    pipelines: dict[str, Pipeline] = Field(default_factory=dict)
    lake: Lake = Lake()
    state: State = State()

    @field_validator("variables", mode="before")
    @classmethod
    def _coerce_variables(cls, value: Any) -> Any:
        """Accept `name: value` as shorthand for `name: {default: value}`."""
        if isinstance(value, dict):
            return {k: v if isinstance(v, dict) else {"default": v} for k, v in value.items()}
        return value

    def broken_references(self) -> list[tuple[tuple[str | int, ...], str, str, list[str]]]:
        """Names that point at nothing: (path in the file, what, name, the names that exist)."""
        broken: list[tuple[tuple[str | int, ...], str, str, list[str]]] = []
        for name, source in self.sources.items():
            if source.connection not in self.connections:
                path: tuple[str | int, ...] = ("sources", name, "connection")
                broken.append((path, "connection", source.connection, list(self.connections)))
        for pname, pipeline in self.pipelines.items():
            for index, step in enumerate(pipeline.tasks):
                if isinstance(step, IngestStep) and step.ingest not in self.sources:
                    path = ("pipelines", pname, "tasks", index, "ingest")
                    broken.append((path, "source", step.ingest, list(self.sources)))
        return broken
