"""Task definitions (immutable, built once from the project) and what running one yields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from headwater.project.pipelines import TriggerRule
from headwater.retry import RetryPolicy

if TYPE_CHECKING:
    from headwater.sql.models import Model

TaskKind = Literal[
    "ingest",
    "model",
    "check",
    "python",
    "shell",
    "sensor",
    "pipeline",
    "maintain",
    "crawl",
    "stream",
]

StreamItem = Literal["delivery", "processor", "feed"]


@dataclass(frozen=True)
class IngestSpec:
    source: str
    table: str  # the source-table entry's name


@dataclass(frozen=True)
class ModelSpec:
    model: Model  # parsed once, when the pipeline is planned

    @property
    def name(self) -> str:
        return self.model.name


@dataclass(frozen=True)
class CheckSpec:
    target: str | None  # a suite, a table, or every check of the project


@dataclass(frozen=True)
class PythonSpec:
    """A Python callable: ``ref`` is ``module:function`` (re-imported in worker processes)."""

    ref: str
    params: Mapping[str, Any] = field(default_factory=dict)  # templated keyword arguments
    # positional/keyword arguments given in a Python pipeline; a TaskRef is an upstream value
    args: tuple[Any, ...] = ()
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    names: Mapping[str, Any] = field(default_factory=dict)  # extra template names ({{ item }})


@dataclass(frozen=True)
class ShellSpec:
    command: str  # templated; runs in the project folder
    env: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, Any] = field(default_factory=dict)  # extra template names ({{ item }})


@dataclass(frozen=True)
class SensorSpec:
    """Waits until ``condition`` holds: poked every ``poke`` seconds, up to ``timeout``."""

    condition: Mapping[str, Any]  # {file: glob} | {table_updated: t} | {new_rows: {…}}
    poke: float = 30.0


@dataclass(frozen=True)
class PipelineSpec:
    pipeline: str  # run another pipeline to the end, as one task
    conf: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MaintainSpec:
    target: str | None  # a table, or every table
    options: Mapping[str, Any] = field(default_factory=dict)  # headwater.lake.maintenance options


@dataclass(frozen=True)
class CrawlSpec:
    url: str
    namespace: str
    import_files: bool = False
    policy: str = "update"
    recrawl: str = "everything"


@dataclass(frozen=True)
class StreamSpec:
    """A delivery, processor or feed run until it has taken what is there now (``--once``).

    ``reads`` and ``writes`` are the streams it consumes and produces, so that a task reading a
    stream waits for the tasks of the pipeline that write it."""

    item: StreamItem
    name: str
    reads: str | None = None
    writes: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)  # flush_windows, idle, seconds…


TaskSpec = (
    IngestSpec
    | ModelSpec
    | CheckSpec
    | PythonSpec
    | ShellSpec
    | SensorSpec
    | PipelineSpec
    | MaintainSpec
    | CrawlSpec
    | StreamSpec
)


@dataclass(frozen=True)
class Task:
    """One unit of work: ``id`` is unique in its pipeline, ``target`` the table it writes."""

    id: str
    kind: TaskKind
    target: str | None
    spec: TaskSpec
    depends_on: frozenset[str] = field(default_factory=frozenset)
    trigger_rule: TriggerRule = "all_success"
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # headwater.retry
    timeout: float | None = None  # seconds; the task is stopped after it
    pool: str | None = None  # a named pool bounds how many such tasks run at once
    group: str | None = None
    # seconds a stopped task may take to finish the work in hand (it honours its cancellation
    # flag: a delivery flushes, commits and gives its shards back) before it is interrupted
    grace: float = 0.0


@dataclass(frozen=True)
class Branch:
    """Returned by a task to choose which of its downstream tasks run; the others are skipped."""

    follow: tuple[str, ...]
    value: Any = None

    def __init__(self, *follow: str, value: Any = None) -> None:
        object.__setattr__(self, "follow", follow)
        object.__setattr__(self, "value", value)


@dataclass(frozen=True)
class TaskOutcome:
    """What a successful task reports."""

    rows: int = 0
    bytes: int = 0
    snapshot_id: int | None = None
    details: Mapping[str, Any] | None = None  # what the task did, for the run history
    value: Any = None  # a small JSON value handed to downstream tasks (like Airflow's XCom)
    branch: tuple[str, ...] | None = None  # the downstream tasks to run; None: all
