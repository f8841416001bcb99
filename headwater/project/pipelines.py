"""The typed shape of a pipeline in ``headwater.yaml``: its schedule, triggers, hooks and steps.

A step says what to run (``ingest``, ``models``, ``check``, ``python``, ``shell``, ``sensor``,
``pipeline``, a stream's ``deliver``, ``process`` or ``feed``, or a ``group`` of steps) and how: dependencies, retries, timeout, trigger rule,
pool, and ``map`` (one task per item of a list).
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from headwater.project.base import Names, Strict

TriggerRule = Literal[
    "all_success", "all_done", "none_failed", "one_success", "none_failed_or_skipped"
]


def _seconds(value: Any) -> Any:
    """A duration: a number of seconds, or ``90s``, ``15m``, ``2h``, ``1d``, ``PT2H``."""
    if isinstance(value, str):
        from headwater.durations import parse_duration
        from headwater.errors import ProjectError

        try:
            return parse_duration(value).total_seconds()
        except ProjectError as exc:
            raise ValueError(f"{exc.message}; {exc.hint}") from None
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]


class Retries(Strict):
    """Retry a failed task: ``retries`` more attempts, waiting delay × backoff^n (with jitter)."""

    retries: int = Field(default=0, ge=0)
    delay: Seconds = 5.0
    backoff: float = Field(default=2.0, ge=1)
    max_delay: Seconds = 600.0
    jitter: bool = True


def _retries(value: Any) -> Any:
    return {"retries": value} if isinstance(value, int) else value


class StepBase(Strict):
    name: str | None = Field(default=None, description="task id (a default comes from the step)")
    depends_on: Names = Field(default=(), description="steps, groups or tasks")
    retries: Annotated[Retries | None, BeforeValidator(_retries)] = None
    timeout: Seconds | None = Field(default=None, description="stop the task after this long")
    trigger_rule: TriggerRule = "all_success"
    pool: str | None = Field(default=None, description="a pool declared under `pools:`")


class IngestStep(StepBase):
    """Extract a source's tables (all, or the listed ones): one task per table."""

    ingest: str
    tables: tuple[str, ...] | None = None


class ModelsStep(StepBase):
    """Build models selected by namespace (`gold`), name (`gold.dim_customers`) or glob."""

    models: Names


class CheckStep(StepBase):
    """Evaluate checks: a suite, a table, or every check (`check: all`); errors fail the task."""

    check: str


class Mapped(StepBase):
    """A step that can run once per item of ``map`` (``{{ item }}`` in its templates)."""

    map: tuple[Any, ...] | None = Field(default=None, description="one task per item")
    params: dict[str, Any] = Field(default_factory=dict, description="templated arguments")


class PythonStep(Mapped):
    """Call ``module:function`` (a module under pipelines/ or any importable one)."""

    python: str

    @field_validator("python")
    @classmethod
    def _reference(cls, value: str) -> str:
        module, _, function = value.partition(":")
        if not module or not function.isidentifier():
            raise ValueError(f"`{value}` must be `module:function`, e.g. `labs.orders:extract`")
        return value


class ShellStep(Mapped):
    """Run a shell command in the project folder; a non-zero exit fails the task."""

    shell: str
    env: dict[str, str] = Field(default_factory=dict)


class FileCondition(Strict):
    file: str = Field(description="glob under the project folder (or a files connection)")
    connection: str | None = None
    min_files: int = Field(default=1, ge=1)


class TableCondition(Strict):
    table_updated: str = Field(description="a table that must get a new snapshot")


class NewRows(Strict):
    source: str
    table: str


class NewRowsCondition(Strict):
    new_rows: NewRows = Field(description="a source table whose cursor would advance")


class PythonCondition(Strict):
    python: str = Field(description="module:function returning true when ready")


def _condition_kind(value: Any) -> str | None:
    # a task written as a bare value (a string, a list, a number) has no keys: no kind
    keys = value if isinstance(value, dict) else getattr(value, "__dict__", {})
    for key in ("file", "table_updated", "new_rows", "python"):
        if key in keys:
            return key
    return None


Condition = Annotated[
    Annotated[FileCondition, Tag("file")]
    | Annotated[TableCondition, Tag("table_updated")]
    | Annotated[NewRowsCondition, Tag("new_rows")]
    | Annotated[PythonCondition, Tag("python")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message="a sensor or trigger needs `file:`, `table_updated:`, "
        "`new_rows: {source, table}` or `python: module:function`",
    ),
]


class SensorStep(StepBase):
    """Wait until a condition holds, checking every ``poke`` seconds, up to ``timeout``."""

    sensor: Condition
    poke: Seconds = 30.0


class PipelineStep(StepBase):
    """Run another pipeline to its end as one task (its failure fails this task)."""

    pipeline: str
    conf: dict[str, Any] = Field(default_factory=dict)


class MaintainStep(StepBase):
    """Table maintenance (`headwater maintain`): a table, or every table with `maintain: all`."""

    maintain: str
    compact: bool = True
    expire: bool = True
    orphans: bool = True
    keep_last: int = Field(default=5, ge=1)
    older_than: Seconds | None = None
    orphan_age: Seconds = 86400.0


class CrawlStep(StepBase):
    """Crawl a folder or S3 prefix into tables of ``namespace`` (`headwater crawl`)."""

    crawl: str = Field(description="a folder (relative to the project) or s3://bucket/prefix")
    namespace: str
    import_files: bool = Field(default=False, alias="import", description="load into Iceberg")
    policy: Literal["log", "update", "deprecate"] = "update"
    recrawl: Literal["everything", "new-folders-only"] = "everything"


class DeliverStep(StepBase):
    """Deliver what a delivery's stream holds now into its table or files, then stop."""

    deliver: str = Field(description="a delivery under `deliveries:`")


class ProcessStep(StepBase):
    """Process what a processor's stream holds now, then stop."""

    process: str = Field(description="a processor under `processors:`")
    flush_windows: bool = Field(
        default=False, description="emit the windows still open at the end (a finished input)"
    )


class FeedStep(StepBase):
    """Put what an MQTT feed's broker hands over into its stream: until nothing came for
    ``idle``, or ``seconds`` passed, or ``max_messages`` were put."""

    feed: str = Field(description="a feed under `feeds:`")
    idle: Seconds = Field(default=5.0, gt=0, description="stop when nothing came this long")
    seconds: Seconds | None = Field(default=None, description="stop after this long at most")
    max_messages: int | None = Field(default=None, ge=1)


class GroupStep(StepBase):
    """Steps under one name: task ids become ``group.task``; depending on a group waits for it."""

    group: str
    tasks: tuple[Step, ...] = Field(min_length=1)


_KINDS = (
    "ingest",
    "models",
    "check",
    "python",
    "shell",
    "sensor",
    "pipeline",
    "maintain",
    "crawl",
    "deliver",
    "process",
    "feed",
    "group",
)


def _step_kind(value: Any) -> str | None:
    # a task written as a bare value (a string, a list, a number) has no keys: no kind
    keys = value if isinstance(value, dict) else getattr(value, "__dict__", {})
    return next((k for k in _KINDS if k in keys), None)


Step = Annotated[
    Annotated[IngestStep, Tag("ingest")]
    | Annotated[ModelsStep, Tag("models")]
    | Annotated[CheckStep, Tag("check")]
    | Annotated[PythonStep, Tag("python")]
    | Annotated[ShellStep, Tag("shell")]
    | Annotated[SensorStep, Tag("sensor")]
    | Annotated[PipelineStep, Tag("pipeline")]
    | Annotated[MaintainStep, Tag("maintain")]
    | Annotated[CrawlStep, Tag("crawl")]
    | Annotated[DeliverStep, Tag("deliver")]
    | Annotated[ProcessStep, Tag("process")]
    | Annotated[FeedStep, Tag("feed")]
    | Annotated[GroupStep, Tag("group")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a task needs one of `ingest:`, `models:`, `check:`, `python:`, "
        "`shell:`, `sensor:`, `pipeline:`, `maintain:`, `crawl:`, `deliver:`, `process:`, "
        "`feed:` or `group:`",
    ),
]


class ExecutorConfig(Strict):
    """Where tasks run: threads in this process, worker processes, or a Dask cluster."""

    type: Literal["threads", "processes", "dask"] = "threads"
    address: str | None = Field(default=None, description="Dask scheduler, tcp://host:8786")

    @model_validator(mode="after")
    def _address_for_dask(self) -> ExecutorConfig:
        if self.type == "dask" and not self.address:
            raise ValueError("a dask executor needs `address: tcp://HOST:8786`")
        if self.type != "dask" and self.address:
            raise ValueError(f"`address` is for the dask executor, not `{self.type}`")
        return self


class Hooks(Strict):
    """Webhooks called (POST, JSON) on events; every failure is also logged and recorded."""

    on_failure: Names = Field(default=(), description="task/run failed, SLA missed")
    on_retry: Names = ()
    on_success: Names = ()


_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def cron_of(schedule: str) -> str | None:
    """The cron expression of a schedule, or None for an interval (``every 15m``)."""
    if schedule.startswith("every "):
        return None
    return _PRESETS.get(schedule, schedule)


class PipelineSettings(Strict):
    """How and when a pipeline runs; shared by YAML pipelines and ``@pipeline`` functions."""

    description: str | None = None
    schedule: str | None = Field(
        default=None, description="cron (`0 6 * * *`), a preset (`@daily`) or `every 15m`"
    )
    timezone: str = Field(default="UTC", description="the schedule's time zone, e.g. Europe/Paris")
    start_date: datetime | date | None = None
    end_date: datetime | date | None = None
    catchup: bool = Field(default=False, description="run every missed interval since start")
    max_active_runs: int = Field(default=1, gt=0)
    parallelism: int = Field(default=4, gt=0, description="tasks running at once")
    executor: ExecutorConfig = ExecutorConfig()
    params: dict[str, Any] = Field(default_factory=dict, description="`{{ params.x }}`")
    retries: Annotated[Retries | None, BeforeValidator(_retries)] = None
    timeout: Seconds | None = Field(default=None, description="default task timeout")
    sla: Seconds | None = Field(
        default=None, description="a run not finished this long after it is due raises an alert"
    )
    hooks: Hooks = Hooks()
    triggers: tuple[Condition, ...] = Field(
        default=(), description="start a run when one of these conditions becomes true"
    )
    poke: Seconds = Field(default=30.0, description="how often triggers are checked")

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.startswith("every "):
            _seconds(value.removeprefix("every ").strip())
            return value
        from croniter import croniter

        cron = _PRESETS.get(value, value)
        if not croniter.is_valid(cron):
            raise ValueError(
                f"`{value}` is not a valid cron expression: write five fields "
                "(minute hour day-of-month month day-of-week, e.g. `0 6 * * *`), "
                "a preset (@hourly, @daily, @weekly, @monthly) or `every 15m`"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone `{value}`: use an IANA name like UTC or Europe/Paris"
            ) from None
        return value


class Pipeline(PipelineSettings):
    """A pipeline written in headwater.yaml: its settings and its steps."""

    tasks: tuple[Step, ...] = Field(min_length=1)


GroupStep.model_rebuild()
