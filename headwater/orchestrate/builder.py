"""Build a pipeline's DAG, from YAML steps or from ``@pipeline`` functions alike.

Both front ends call the same methods, so a pipeline means the same whichever way it is
written. Ingest steps become one task per source table, model steps one task per model; a model
also depends on whatever task of the pipeline writes a table it reads (a load, a model, or a
stream's delivery), and a delivery or processor on whatever task writes the stream it reads (a
processor or a feed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from headwater.errors import DagError, ModelError, did_you_mean
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.task import (
    IngestSpec,
    ModelSpec,
    PythonSpec,
    ShellSpec,
    StreamItem,
    StreamSpec,
    Task,
    TaskKind,
    TaskSpec,
    TriggerRule,
)
from headwater.retry import RetryPolicy

# seconds a stopped stream task has to flush, commit and give its shards back
STREAM_GRACE = 60.0
_SECTIONS = {"delivery": "deliveries", "processor": "processors", "feed": "feeds"}
_VERBS = {"delivery": "deliver", "processor": "process", "feed": "feed"}

if TYPE_CHECKING:
    from headwater.project.config import ProjectConfig, Source
    from headwater.project.pipelines import PipelineSettings, Retries
    from headwater.sql.graph import ModelGraph


def retry_policy(retries: Retries | None) -> RetryPolicy:
    if retries is None:
        return RetryPolicy()
    return RetryPolicy(
        retries=retries.retries,
        delay=retries.delay,
        backoff=retries.backoff,
        max_delay=retries.max_delay,
        jitter=retries.jitter,
    )


def source_retry(source: Source, connection: Any = None) -> RetryPolicy:
    """The retries of an ingest task whose step and pipeline set none: the source's
    ``attempts`` and ``retry_delay``, or for an HTTP API the connection's ``retries``
    (attempts, backoff, max_backoff) unless the source sets its own."""
    own = {"attempts", "retry_delay"} & source.model_fields_set
    http = getattr(connection, "retries", None)
    if http is not None and not own:
        return RetryPolicy(
            retries=http.attempts - 1, delay=http.backoff, max_delay=http.max_backoff
        )
    return RetryPolicy(retries=source.attempts - 1, delay=source.retry_delay)


@dataclass(frozen=True)
class Options:
    """How a task runs, apart from what it does."""

    trigger_rule: TriggerRule = "all_success"
    retry: RetryPolicy | None = None  # None: the pipeline's default
    timeout: float | None = None
    pool: str | None = None


@dataclass
class _Draft:
    id: str
    kind: TaskKind
    target: str | None
    spec: TaskSpec
    after: tuple[str, ...]  # names as written: steps, groups or task ids
    options: Options
    group: str | None


class DagBuilder:
    def __init__(
        self,
        name: str,
        settings: PipelineSettings,
        sources: Mapping[str, Source],
        models: ModelGraph | Callable[[], ModelGraph] | None,
        pools: Iterable[str] = (),
        connections: Mapping[str, Any] | None = None,
        config: ProjectConfig | None = None,
    ) -> None:
        self.name = name
        self.config = config  # the deliveries, processors and feeds stream steps name
        self.settings = settings
        self.sources = sources
        self.connections = connections or {}
        self._models = models  # the graph, or how to make it (only if a step needs models)
        self.pools = set(pools)
        self.drafts: list[_Draft] = []
        self.ids: set[str] = set()
        self.names: dict[str, list[str]] = {}  # step and group names → their task ids
        self.groups: list[str] = []  # the open groups, outermost first

    # -- naming ------------------------------------------------------------------------------

    def qualify(self, name: str) -> str:
        return ".".join([*self.groups, name])

    def unique(self, name: str) -> str:
        """``name`` qualified by the open groups, with ``__2``… when it is taken."""
        base = self.qualify(name)
        candidate, n = base, 1
        while candidate in self.ids or candidate in self.names:
            n += 1
            candidate = f"{base}__{n}"
        return candidate

    def name_step(self, name: str, ids: Sequence[str]) -> None:
        """Let ``depends_on`` find ``ids`` by their step's (qualified) name and by each group
        around them."""
        for key in {name, *self._enclosing()}:
            self.names.setdefault(key, []).extend(ids)

    def _enclosing(self) -> list[str]:
        return [".".join(self.groups[: i + 1]) for i in range(len(self.groups))]

    # -- tasks -----------------------------------------------------------------------------

    def add(
        self,
        task_id: str,
        kind: TaskKind,
        spec: TaskSpec,
        after: Iterable[str] = (),
        options: Options = Options(),
        target: str | None = None,
    ) -> str:
        if options.pool is not None and options.pool not in self.pools:
            raise DagError(
                f"pipeline `{self.name}`, task `{task_id}`: unknown pool `{options.pool}`"
                f"{did_you_mean(options.pool, self.pools)}",
                hint="declare it under `pools:` in headwater.yaml, e.g. `pools: {db: 2}`",
            )
        group = ".".join(self.groups) or None
        self.ids.add(task_id)
        self.drafts.append(_Draft(task_id, kind, target, spec, tuple(after), options, group))
        return task_id

    def ingest(
        self,
        source_name: str,
        tables: Sequence[str] | None,
        after: Iterable[str] = (),
        options: Options = Options(),
    ) -> list[str]:
        if source_name not in self.sources:
            raise DagError(
                f"pipeline `{self.name}`: no source `{source_name}`"
                f"{did_you_mean(source_name, self.sources)}"
            )
        source = self.sources[source_name]
        entries = {t.name: t for t in source.tables}
        ids = []
        for table in tables or tuple(entries):
            if table not in entries:
                raise DagError(
                    f"pipeline `{self.name}`: source `{source_name}` has no table `{table}`"
                    f"{did_you_mean(table, entries)}"
                )
            target = f"{source.namespace}.{table}"
            ids.append(
                self.add(target, "ingest", IngestSpec(source_name, table), after, options, target)
            )
        return ids

    def models(
        self, selectors: Sequence[str], after: Iterable[str] = (), options: Options = Options()
    ) -> list[str]:
        if self._models is None:
            raise DagError(f"pipeline `{self.name}`: the project has no models")
        if callable(self._models):
            self._models = self._models()
        graph = self._models
        ids = []
        try:
            selected = graph.select(selectors)
        except ModelError as exc:  # the pipeline's selector is wrong, not a model
            raise DagError(f"pipeline `{self.name}`: {exc.message}", hint=exc.hint) from exc
        for model in selected:
            spec = ModelSpec(graph.models[model])
            ids.append(self.add(model, "model", spec, after, options, model))
        return ids

    def stream(
        self,
        item: StreamItem,
        name: str,
        after: Iterable[str] = (),
        options: Options = Options(),
        task_id: str | None = None,
        **settings: Any,
    ) -> str:
        """A delivery, processor or feed run until it has taken what is there now; a delivery
        into a table writes that table (a model reading it waits for the delivery)."""
        declared: Mapping[str, Any] = {}
        if self.config is not None:
            sections: dict[str, Mapping[str, Any]] = {
                "delivery": self.config.deliveries,
                "processor": self.config.processors,
                "feed": self.config.feeds,
            }
            declared = sections[item]
        if name not in declared:
            raise DagError(
                f"pipeline `{self.name}`: no {item} `{name}`{did_you_mean(name, declared)}",
                hint=f"declare it under `{_SECTIONS[item]}:` in headwater.yaml",
            )
        config = declared[name]
        target: str | None = None
        if item == "delivery":
            spec = StreamSpec(item, name, reads=config.stream, options=settings)
            target = config.table
        elif item == "processor":
            writes = tuple(stream for _, stream in config.outputs(name))
            spec = StreamSpec(item, name, reads=config.stream, writes=writes, options=settings)
        else:
            writes = (config.stream, config.errors_stream)
            spec = StreamSpec(item, name, writes=writes, options=settings)
        task_id = self.unique(task_id or f"{_VERBS[item]}_{name}")
        return self.add(task_id, "stream", spec, after, options, target)

    # -- the graph -------------------------------------------------------------------------

    def build(self) -> Dag:
        ids = {d.id for d in self.drafts}
        writers = {d.target: d.id for d in self.drafts if d.target}
        stream_writers: dict[str, list[str]] = {}
        for d in self.drafts:
            if isinstance(d.spec, StreamSpec):
                for stream in d.spec.writes:
                    stream_writers.setdefault(stream, []).append(d.id)
        default_retry = retry_policy(self.settings.retries)
        tasks = []
        for draft in self.drafts:
            retry = draft.options.retry or default_retry
            if isinstance(draft.spec, PythonSpec | ShellSpec):  # the user's own code
                retry = replace(retry, unknown=True)
            if isinstance(draft.spec, IngestSpec) and not (
                draft.options.retry or self.settings.retries
            ):
                source = self.sources[draft.spec.source]
                retry = source_retry(source, self.connections.get(source.connection))
            deps: set[str] = set()
            for name in draft.after:
                deps.update(self._resolve(name, draft, ids))
            if isinstance(draft.spec, ModelSpec):
                # every table the model reads that this pipeline writes, loads and models alike
                deps.update(
                    writers[ref.name] for ref in draft.spec.model.references if ref.name in writers
                )
            if isinstance(draft.spec, StreamSpec) and draft.spec.reads is not None:
                deps.update(stream_writers.get(draft.spec.reads, ()))
            deps.discard(draft.id)
            options = draft.options
            tasks.append(
                Task(
                    id=draft.id,
                    kind=draft.kind,
                    target=draft.target,
                    spec=draft.spec,
                    depends_on=frozenset(deps),
                    trigger_rule=options.trigger_rule,
                    retry=retry,
                    timeout=options.timeout
                    if options.timeout is not None
                    else self.settings.timeout,
                    pool=options.pool,
                    group=draft.group,
                    grace=STREAM_GRACE if isinstance(draft.spec, StreamSpec) else 0.0,
                )
            )
        if not tasks:
            raise DagError(f"pipeline `{self.name}` has no tasks")
        return Dag.of(self.name, tasks)

    def _resolve(self, name: str, draft: _Draft, ids: set[str]) -> list[str]:
        # the nearest match: a sibling in the same group first, then outwards
        scopes = (draft.group or "").split(".") if draft.group else []
        for depth in range(len(scopes), -1, -1):
            qualified = ".".join([*scopes[:depth], name])
            if qualified in self.names:
                return self.names[qualified]
            if qualified in ids:
                return [qualified]
        known = sorted(set(self.names) | ids)
        raise DagError(
            f"pipeline `{self.name}`: task `{draft.id}` depends on `{name}`, which names no step, "
            f"group or task{did_you_mean(name, known)}",
            hint=f"names: {', '.join(known)} (a step's name defaults to ingest_<source>, "
            "models_<selector>, check_<target>, the function's name or run_<pipeline>)",
        )
