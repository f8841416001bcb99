"""The typed shape of ``headwater.yaml``: immutable pydantic models, unknown keys rejected.

Loose input (strings, shorthands) is converted here, at the edge; everything downstream gets
these validated value objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, SecretStr, Tag, field_validator, model_validator

from headwater.project.base import (
    Contract,
    DurationText,
    Load,
    SourceBase,
    Strategy,
    Strict,
    TableBase,
)
from headwater.project.deliveries import DeliveryConfig
from headwater.project.feeds import FeedConfig
from headwater.project.files import FilesConnection, FileSource, FileTable, S3Config
from headwater.project.http import HttpConnection, RestSource, RestTable
from headwater.project.pipelines import (
    CheckStep,
    GroupStep,
    IngestStep,
    ModelsStep,
    Pipeline,
    PipelineStep,
    PythonStep,
    SensorStep,
    ShellStep,
)
from headwater.project.processors import ProcessorConfig, Route
from headwater.project.redis import RedisConnection, RedisSource, RedisTable
from headwater.project.streams import (
    KinesisConnection,
    MqttConnection,
    NatsConnection,
    StreamConfig,
)

__all__ = [
    "CheckStep",
    "Connection",
    "Contract",
    "DeliveryConfig",
    "FeedConfig",
    "FileSource",
    "FileTable",
    "FilesConnection",
    "GroupStep",
    "HttpConnection",
    "IngestStep",
    "KinesisConnection",
    "Lake",
    "Load",
    "Models",
    "ModelsStep",
    "MqttConnection",
    "NatsConnection",
    "Partition",
    "Pipeline",
    "PipelineStep",
    "ProcessorConfig",
    "ProjectConfig",
    "PythonStep",
    "Quality",
    "RedisConnection",
    "RedisSource",
    "RedisTable",
    "RestSource",
    "RestTable",
    "Route",
    "SensorStep",
    "Serve",
    "ShellStep",
    "Source",
    "SourceBase",
    "SourceTable",
    "SqlConnection",
    "SqlSource",
    "State",
    "Strategy",
    "StreamConfig",
    "Strict",
    "TableBase",
    "Variable",
]


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
    read_timeout: float = Field(
        60.0,
        gt=0,
        description="seconds to wait for a MySQL/MariaDB server to answer (its greeting, then "
        "each read of the SQLAlchemy connection) before giving up; the task's retries follow",
    )


def _type_of(value: Any, default: str = "sql") -> str:
    return str(
        value.get("type", default) if isinstance(value, dict) else getattr(value, "type", default)
    )


CONNECTION_TYPES = ("sql", "http", "files", "redis", "nats", "kinesis", "mqtt")
STREAM_CONNECTION_TYPES = ("nats", "redis", "kinesis")

# A connection's kind is its `type`; each kind has its own source shape.
Connection = Annotated[
    Annotated[SqlConnection, Tag("sql")]
    | Annotated[HttpConnection, Tag("http")]
    | Annotated[FilesConnection, Tag("files")]
    | Annotated[RedisConnection, Tag("redis")]
    | Annotated[NatsConnection, Tag("nats")]
    | Annotated[KinesisConnection, Tag("kinesis")]
    | Annotated[MqttConnection, Tag("mqtt")],
    Discriminator(_type_of),
]

Reader = Literal["auto", "duckdb", "connectorx", "sqlalchemy"]


class Partition(Strict):
    """Split a table on a numeric or date column into ranges read concurrently."""

    column: str
    count: int = Field(default=2, ge=1, le=64, description="ranges read at once")


class SourceTable(TableBase):
    """One SQL table to extract: a source table by name, or a query, landing in ``name``."""

    table: str | None = Field(default=None, description="source table, default: `name`")
    query: str | None = Field(
        default=None, description="a SELECT to run instead of reading a table"
    )
    schema_: str | None = Field(default=None, alias="schema", description="source schema/database")
    partition: Partition | None = Field(
        default=None, description="read in concurrent ranges of a numeric or date column"
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceTable:
        if self.table and self.query:
            raise ValueError("give either `table` or `query`, not both")
        return self

    @property
    def source_table(self) -> str:
        return self.table or self.name


def _tables_shorthand(value: Any) -> Any:
    """Accept `[customers, orders]` as shorthand for `[{name: customers}, ...]`."""
    if isinstance(value, list):
        return [{"name": item} if isinstance(item, str) else item for item in value]
    return value


class CdcSettings(Strict):
    """How a source's tables under ``load: cdc`` follow the source's change log."""

    slot: str | None = Field(
        default=None,
        description="PostgreSQL: the replication slot (default hw_<project>_<source>)",
    )
    publication: str | None = Field(
        default=None,
        description="PostgreSQL: the publication (default hw_<project>_<source>)",
    )
    server_id: int | None = Field(
        default=None,
        ge=1,
        lt=2**32,
        description="MySQL/MariaDB: the replica server id the capture reads the binary log as "
        "(default: derived from the project and source names)",
    )
    interval: DurationText = Field(
        default="1s", description="longest wait for changes before committing what was read"
    )
    max_changes: int = Field(
        default=50_000, gt=0, description="changes read before a commit (whole transactions)"
    )


class SqlSource(SourceBase):
    """Tables or queries of a SQL database connection."""

    type: Literal["sql"] = "sql"
    tables: tuple[SourceTable, ...] = Field(min_length=1)
    reader: Reader = "auto"
    batch_rows: int = Field(default=100_000, gt=0, description="rows per Arrow record batch")
    cdc: CdcSettings = Field(
        default_factory=CdcSettings, description="change data capture, for `load: cdc`"
    )

    @field_validator("tables", mode="before")
    @classmethod
    def _coerce_tables(cls, value: Any) -> Any:
        return _tables_shorthand(value)


Source = Annotated[
    Annotated[SqlSource, Tag("sql")]
    | Annotated[RestSource, Tag("http")]
    | Annotated[FileSource, Tag("files")]
    | Annotated[RedisSource, Tag("redis")],
    Discriminator(_type_of),
]


class Models(Strict):
    """Where the SQL models live: ``<path>/<namespace>/<name>.sql``."""

    path: str = "models"


class Quality(Strict):
    """Where check suites live: ``<path>/<suite>.yaml``, each mapping tables to checks."""

    path: str = "checks"
    audit: bool = Field(
        default=True, description="run a table's checks on new data before publishing it"
    )
    quarantine: tuple[str, ...] = Field(
        default=(),
        description="tables whose failing new rows go to <table>__quarantine instead of "
        "rejecting the whole load",
    )


class Lake(Strict):
    """Where tables live: an Iceberg SQL catalog and a warehouse location."""

    catalog_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the catalog; default .headwater/catalog.db"
    )
    warehouse: str = Field(
        default=".headwater/warehouse", description="folder, file:// URL or s3://bucket/prefix"
    )
    target_file_mb: int = Field(default=128, gt=0, description="size of one data file on storage")
    s3: S3Config | None = Field(default=None, description="S3 settings for an s3:// warehouse")

    @model_validator(mode="after")
    def _s3_settings_on_s3(self) -> Lake:
        if self.s3 is not None and not self.warehouse.startswith("s3://"):
            raise ValueError(
                f"`s3` settings apply to an s3:// warehouse, not to `{self.warehouse}`"
            )
        return self


class State(Strict):
    """Where runs, task runs and other metadata are stored."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default .headwater/state.db")


class Serve(Strict):
    """``headwater serve``: where the query service and Iceberg REST catalog listen, and who
    may call them. Tokens come from variables, e.g. ``tokens: ["${var.api_token}"]``."""

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, ge=0, le=65535, description="port to listen on")
    tokens: tuple[SecretStr, ...] = Field(
        default=(),
        description="bearer tokens accepted (any one); none: no token is asked for",
    )
    query_timeout: float = Field(
        default=300.0,
        gt=0,
        description="seconds the engine may spend on one page of a query's result before the "
        "query is stopped (a 400 that says so)",
    )
    max_queries: int = Field(
        default=4,
        gt=0,
        description="queries computed at once; one more waits up to 5 s, then gets a 503 to "
        "ask again",
    )
    page_bytes: int = Field(
        default=64 << 20,
        gt=0,
        description="about the most one page of a query's result holds, in bytes (at least "
        "one row): a page of a few huge rows is cut by size, and the next page token follows",
    )
    catalog_prefix: str | None = Field(
        default=None,
        description="path prefix the Iceberg REST catalog announces in /v1/config "
        "(routes /v1/{prefix}/namespaces/…); none: no prefix",
    )

    @field_validator("tokens")
    @classmethod
    def _no_empty_token(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(not token.get_secret_value().strip() for token in value):
            raise ValueError("a token is empty: set the variable it comes from")
        return value

    @field_validator("catalog_prefix")
    @classmethod
    def _one_segment(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError(f"`{value}` must be one path segment: letters, digits, _ . -")
        return value


class ProjectConfig(Strict):
    """The whole ``headwater.yaml``."""

    name: str
    description: str | None = None
    variables: dict[str, Variable] = Field(default_factory=dict)
    connections: dict[str, Connection] = Field(default_factory=dict)
    sources: dict[str, Source] = Field(default_factory=dict)
    models: Models = Models()
    quality: Quality = Quality()
    checks: dict[str, list[Any]] = Field(
        default_factory=dict, description="checks per table, like a file under checks/"
    )
    pipelines: dict[str, Pipeline] = Field(default_factory=dict)
    streams: dict[str, StreamConfig] = Field(
        default_factory=dict, description="streams by name: their backend, shards and retention"
    )
    deliveries: dict[str, DeliveryConfig] = Field(
        default_factory=dict,
        description="deliveries by name: a stream's records, buffered, into a table or files",
    )
    processors: dict[str, ProcessorConfig] = Field(
        default_factory=dict,
        description="processors by name: the stream each reads, its transform and its routes",
    )
    feeds: dict[str, FeedConfig] = Field(
        default_factory=dict,
        description="MQTT feeds by name: topics of an mqtt connection put into a stream",
    )
    pools: dict[str, int] = Field(
        default_factory=dict, description="named pools: at most N of their tasks run at once"
    )
    lake: Lake = Lake()
    state: State = State()
    serve: Serve = Serve()

    @field_validator("variables", mode="before")
    @classmethod
    def _coerce_variables(cls, value: Any) -> Any:
        """Accept `name: value` as shorthand for `name: {default: value}`."""
        if isinstance(value, dict):
            return {k: v if isinstance(v, dict) else {"default": v} for k, v in value.items()}
        return value

    @model_validator(mode="before")
    @classmethod
    def _source_types(cls, value: Any) -> Any:
        """A source takes its kind from its connection's `type`, unless it says otherwise."""
        if not isinstance(value, dict):
            return value
        connections, sources = value.get("connections"), value.get("sources")
        if not isinstance(sources, dict) or not isinstance(connections, dict):
            return value
        typed = {}
        for name, source in sources.items():
            if isinstance(source, dict) and "type" not in source:
                connection = connections.get(source.get("connection"))
                if isinstance(connection, dict):
                    source = {**source, "type": _type_of(connection)}
            typed[name] = source
        return {**value, "sources": typed}

    def load_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Load settings that cannot work, each with its path in the file."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for name, source in self.sources.items():
            for index, table in enumerate(source.tables):
                path: tuple[str | int, ...] = ("sources", name, "tables", index)
                if table.load is None:
                    path = ("sources", name, "load")
                settings = source.load_for(table)
                out.extend(
                    (path, f"table `{table.name}`: {problem}")
                    for problem in settings.problems(source.STATEFUL)
                )
                if settings.strategy == "cdc" and source.type != "sql":
                    out.append(
                        (
                            path,
                            f"table `{table.name}`: strategy `cdc` follows a database's change "
                            f"log (PostgreSQL, MySQL, MariaDB), which a {source.type} source "
                            "does not have; use `merge` or `incremental`",
                        )
                    )
                elif settings.strategy == "cdc" and getattr(table, "query", None):
                    out.append(
                        (
                            ("sources", name, "tables", index),
                            f"table `{table.name}`: strategy `cdc` follows a table's changes, "
                            "not a query's; name the table with `table:`, or use another "
                            "strategy",
                        )
                    )
                if getattr(table, "incremental_param", None) and not settings.cursor:
                    out.append(
                        (
                            ("sources", name, "tables", index),
                            f"table `{table.name}`: `incremental_param` is sent the stored "
                            "cursor, so the table needs `load.cursor` (the record field whose "
                            "maximum is stored)",
                        )
                    )
            connection = self.connections.get(source.connection)
            if connection is not None and connection.type != source.type:
                out.append(
                    (
                        ("sources", name, "connection"),
                        f"connection `{source.connection}` is of type `{connection.type}`, "
                        f"but the source is of type `{source.type}`",
                    )
                )
        for name, stream in self.streams.items():
            connection = self.connections.get(stream.connection or "")
            if connection is not None and connection.type not in STREAM_CONNECTION_TYPES:
                out.append(
                    (
                        ("streams", name, "connection"),
                        f"connection `{stream.connection}` is of type `{connection.type}`; a "
                        f"stream lives on a {', '.join(STREAM_CONNECTION_TYPES)} connection, "
                        "or on the embedded log when `connection` is left out",
                    )
                )
        for name, delivery in self.deliveries.items():
            if delivery.table is not None and delivery.errors_table == delivery.table:
                out.append(
                    (
                        ("deliveries", name, "errors"),
                        f"the errors table is the delivery's own table `{delivery.table}`; "
                        "name another one (default `<table>__errors`)",
                    )
                )
            if delivery.files is not None and delivery.errors_prefix == delivery.files.prefix:
                out.append(
                    (
                        ("deliveries", name, "errors"),
                        f"the errors prefix `{delivery.errors_prefix}` is the delivery's own "
                        "prefix; give failed records a prefix of their own (default `errors/`)",
                    )
                )
        for name, feed in self.feeds.items():
            connection = self.connections.get(feed.connection)
            if connection is not None and connection.type != "mqtt":
                out.append(
                    (
                        ("feeds", name, "connection"),
                        f"connection `{feed.connection}` is of type `{connection.type}`; a feed "
                        "reads an mqtt connection",
                    )
                )
        out.extend(self._processor_problems())
        return out

    def _processor_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Processors that would read what they write."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for name, processor in self.processors.items():
            for path, stream in processor.outputs(name):
                if stream == processor.stream:
                    out.append(
                        (
                            ("processors", name, *path),
                            f"processor `{name}` would write into `{stream}`, the stream it "
                            "reads: each output would be read again, for ever",
                        )
                    )
        return out

    def broken_references(self) -> list[tuple[tuple[str | int, ...], str, str, list[str]]]:
        """Names that point at nothing: (path in the file, what, name, the names that exist)."""
        broken: list[tuple[tuple[str | int, ...], str, str, list[str]]] = []
        for name, source in self.sources.items():
            if source.connection not in self.connections:
                path: tuple[str | int, ...] = ("sources", name, "connection")
                broken.append((path, "connection", source.connection, list(self.connections)))
        for name, stream in self.streams.items():
            if stream.connection is not None and stream.connection not in self.connections:
                path = ("streams", name, "connection")
                broken.append((path, "connection", stream.connection, list(self.connections)))
        for name, feed in self.feeds.items():
            if feed.connection not in self.connections:
                path = ("feeds", name, "connection")
                broken.append((path, "connection", feed.connection, list(self.connections)))
        for pname, pipeline in self.pipelines.items():
            steps: list[tuple[tuple[str | int, ...], Any]] = [
                (("pipelines", pname, "tasks", i), st) for i, st in enumerate(pipeline.tasks)
            ]
            while steps:
                where, step = steps.pop(0)
                if isinstance(step, GroupStep):
                    steps.extend(((*where, "tasks", i), st) for i, st in enumerate(step.tasks))
                if isinstance(step, IngestStep) and step.ingest not in self.sources:
                    broken.append(((*where, "ingest"), "source", step.ingest, list(self.sources)))
                for key, what, declared in (
                    ("deliver", "delivery", list(self.deliveries)),
                    ("process", "processor", list(self.processors)),
                    ("feed", "feed", list(self.feeds)),
                ):
                    ref = getattr(step, key, None)  # a deliver:, process: or feed: step's
                    if isinstance(ref, str) and ref not in declared:
                        broken.append(((*where, key), what, ref, declared))
                if isinstance(step, PipelineStep) and step.pipeline not in self.pipelines:
                    broken.append(
                        ((*where, "pipeline"), "pipeline", step.pipeline, list(self.pipelines))
                    )
                if step.pool is not None and step.pool not in self.pools:
                    broken.append(((*where, "pool"), "pool", step.pool, list(self.pools)))
        return broken
