"""Pipelines as Python code: ``@pipeline`` functions that call ``@task`` functions.

The decorators only validate and attach metadata. A pipeline's function runs when the
pipeline is planned; inside it, calling a task adds it to the DAG and returns a reference.
Passing a reference to another task makes it a dependency and hands over its value::

    from headwater import pipeline, task, tasks

    @task
    def count_valid(ctx) -> int: ...

    @task
    def notify(count: int) -> None:
        print(f"Number of valid records: {count}")

    @pipeline(schedule="@daily", start_date="2024-01-01")
    def orders():
        loaded = tasks.ingest("classicmodels", tables=["orders"])
        notify(count_valid(after=loaded))

``a >> b`` also orders two tasks; ``with tasks.group("payments"):`` prefixes task ids.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, overload

from headwater.errors import DagError
from headwater.orchestrate.builder import DagBuilder, Options
from headwater.orchestrate.task import (
    CheckSpec,
    PipelineSpec,
    PythonSpec,
    SensorSpec,
    ShellSpec,
    TriggerRule,
)
from headwater.project.pipelines import PipelineSettings
from headwater.retry import RetryPolicy

_building: ContextVar[DagBuilder | None] = ContextVar("headwater_building", default=None)


@dataclass(frozen=True)
class TaskRef:
    """Tasks added by one call inside a pipeline; usable as an argument or with ``>>``."""

    ids: tuple[str, ...]

    @property
    def id(self) -> str:
        if len(self.ids) != 1:
            raise DagError(f"{len(self.ids)} tasks ({', '.join(self.ids)}) have no single value")
        return self.ids[0]

    def __rshift__(self, other: TaskRef | Sequence[TaskRef]) -> Any:
        builder = _builder("`>>`")
        for ref in [other] if isinstance(other, TaskRef) else other:
            for draft in builder.drafts:
                if draft.id in ref.ids:
                    draft.after = (*draft.after, *self.ids)
        return other

    def __rrshift__(self, other: Sequence[TaskRef]) -> TaskRef:
        for ref in other:
            ref >> self
        return self


def _builder(what: str) -> DagBuilder:
    builder = _building.get()
    if builder is None:
        raise DagError(f"{what} is used inside a @pipeline function, when the pipeline is planned")
    return builder


def _after(after: TaskRef | Iterable[TaskRef | str] | None) -> tuple[str, ...]:
    if after is None:
        return ()
    if isinstance(after, TaskRef):
        return after.ids
    out: list[str] = []
    for item in after:
        out.extend(item.ids if isinstance(item, TaskRef) else [item])
    return tuple(out)


def _options(
    trigger_rule: TriggerRule = "all_success",
    retries: int | None = None,
    retry_delay: float = 5.0,
    timeout: float | None = None,
    pool: str | None = None,
) -> Options:
    retry = RetryPolicy(retries=retries, delay=retry_delay) if retries else None
    return Options(trigger_rule=trigger_rule, retry=retry, timeout=timeout, pool=pool)


@dataclass(eq=False)
class TaskFunction:
    """A function made a task by ``@task``; called in a pipeline, it adds a task."""

    function: Callable[..., Any]
    id: str | None = None
    options: Options = field(default_factory=Options)

    def __call__(self, *args: Any, after: Any = None, **kwargs: Any) -> Any:
        builder = _building.get()
        if builder is None:
            return self.function(*args, **kwargs)  # a plain call, e.g. in a unit test
        refs = [a for a in (*args, *kwargs.values()) if isinstance(a, TaskRef)]
        name = builder.unique(self.id or self.function.__name__)
        spec = PythonSpec(
            ref=f"{self.function.__module__}:{self.function.__qualname__}",
            args=args,
            params=kwargs,
            function=self.function,
        )
        deps = (*_after(after), *(i for r in refs for i in r.ids))
        builder.add(name, "python", spec, deps, self.options)
        builder.name_step(name, [name])
        return TaskRef((name,))

    def override(self, id: str | None = None, **options: Any) -> TaskFunction:
        """The same function with another task id or options (``retries``, ``timeout``…);
        what is not given stays as the decorator set it."""
        changed = _options(**options)
        kept = {
            name: getattr(changed, name)
            for name, key in (
                ("trigger_rule", "trigger_rule"),
                ("retry", "retries"),
                ("timeout", "timeout"),
                ("pool", "pool"),
            )
            if key in options or (name == "retry" and "retry_delay" in options)
        }
        return TaskFunction(self.function, id or self.id, dataclasses.replace(self.options, **kept))

    @property
    def __wrapped_task__(self) -> Callable[..., Any]:
        return self.function


@overload
def task(function: Callable[..., Any], /) -> TaskFunction: ...


@overload
def task(
    *,
    id: str | None = None,
    trigger_rule: TriggerRule = "all_success",
    retries: int | None = None,
    retry_delay: float = 5.0,
    timeout: float | None = None,
    pool: str | None = None,
) -> Callable[[Callable[..., Any]], TaskFunction]: ...


def task(
    function: Callable[..., Any] | None = None, /, *, id: str | None = None, **options: Any
) -> Any:
    """Make a function a task. Its parameters are its inputs: a ``ctx`` parameter receives
    the :class:`TaskContext`; the rest come from the call in the pipeline."""

    def wrap(fn: Callable[..., Any]) -> TaskFunction:
        if not callable(fn):
            raise DagError(f"@task needs a function, not {type(fn).__name__}")
        made = TaskFunction(fn, id, _options(**options))
        functools.update_wrapper(made, fn)
        return made

    return wrap(function) if function is not None else wrap


@dataclass(frozen=True)
class PipelineDefinition:
    """A pipeline written in Python: its settings, and the function that adds its tasks."""

    name: str
    settings: PipelineSettings
    body: Callable[[], Any] = field(compare=False)
    origin: str = ""

    def plan(self, builder: DagBuilder) -> None:
        token = _building.set(builder)
        try:
            self.body()
        finally:
            _building.reset(token)


def pipeline(
    function: Callable[[], Any] | None = None, /, *, name: str | None = None, **settings: Any
) -> Any:
    """Make a function a pipeline (``@pipeline(schedule="@daily", start_date="2024-01-01")``);
    the settings are those of a pipeline in headwater.yaml."""

    def wrap(fn: Callable[[], Any]) -> PipelineDefinition:
        try:
            validated = PipelineSettings.model_validate(settings)
        except Exception as exc:
            raise DagError(f"@pipeline {name or fn.__name__}: {exc}") from None
        origin = f"{inspect.getsourcefile(fn)}:{fn.__code__.co_firstlineno}"
        return PipelineDefinition(name or fn.__name__, validated, fn, origin)

    return wrap(function) if function is not None else wrap


# -- the other kinds of task, for use inside a pipeline function -----------------------------


def ingest(
    source: str, tables: Sequence[str] | None = None, after: Any = None, **options: Any
) -> TaskRef:
    """Load a source's tables (one task each)."""
    builder = _builder("tasks.ingest()")
    ids = builder.ingest(source, tables, _after(after), _options(**options))
    builder.name_step(builder.qualify(f"ingest_{source}"), ids)
    return TaskRef(tuple(ids))


def models(*selectors: str, after: Any = None, **options: Any) -> TaskRef:
    """Build the models a selector picks (namespace, name or glob; one task each)."""
    builder = _builder("tasks.models()")
    ids = builder.models(selectors, _after(after), _options(**options))
    return TaskRef(tuple(ids))


def deliver(delivery: str, after: Any = None, name: str | None = None, **options: Any) -> TaskRef:
    """Deliver what a delivery's stream holds now into its table or files (``--once``)."""
    return _stream("delivery", delivery, name, after, options, {})


def process(
    processor: str,
    after: Any = None,
    name: str | None = None,
    flush_windows: bool = False,
    **options: Any,
) -> TaskRef:
    """Process what a processor's stream holds now (``--once``)."""
    settings = {"flush_windows": flush_windows}
    return _stream("processor", processor, name, after, options, settings)


def feed(
    feed_name: str,
    after: Any = None,
    name: str | None = None,
    idle: float = 5.0,
    seconds: float | None = None,
    max_messages: int | None = None,
    **options: Any,
) -> TaskRef:
    """Put what an MQTT feed's broker hands over into its stream, until nothing came for
    ``idle`` seconds (or ``seconds`` passed, or ``max_messages`` were put)."""
    settings = {"idle": idle, "seconds": seconds, "max_messages": max_messages}
    return _stream("feed", feed_name, name, after, options, settings)


def _stream(
    item: Any,
    target: str,
    name: str | None,
    after: Any,
    options: dict[str, Any],
    settings: dict[str, Any],
) -> TaskRef:
    builder = _builder(
        {"delivery": "tasks.deliver()", "processor": "tasks.process()"}.get(item, "tasks.feed()")
    )
    task_id = builder.stream(item, target, _after(after), _options(**options), name, **settings)
    builder.name_step(task_id, [task_id])
    return TaskRef((task_id,))


def _single(name: str, kind: Any, spec: Any, after: Any, options: dict[str, Any]) -> TaskRef:
    builder = _builder(f"tasks.{kind}()")
    task_id = builder.unique(name)
    builder.add(task_id, kind, spec, _after(after), _options(**options))
    builder.name_step(task_id, [task_id])
    return TaskRef((task_id,))


def check(
    target: str = "all", name: str | None = None, after: Any = None, **options: Any
) -> TaskRef:
    """Evaluate checks (a suite, a table, or ``all``); a failed error check fails the task."""
    spec = CheckSpec(None if target == "all" else target)
    return _single(name or f"check_{target.replace('.', '_')}", "check", spec, after, options)


def shell(
    command: str,
    name: str = "shell",
    env: dict[str, str] | None = None,
    after: Any = None,
    **options: Any,
) -> TaskRef:
    """Run a templated shell command in the project folder."""
    return _single(name, "shell", ShellSpec(command, env or {}), after, options)


def sensor(
    name: str = "wait",
    poke: float = 30.0,
    after: Any = None,
    timeout: float | None = None,
    **condition: Any,
) -> TaskRef:
    """Wait for ``file=GLOB``, ``table_updated=TABLE`` or ``new_rows={"source":…, "table":…}``."""
    from headwater.project.pipelines import SensorStep

    checked = SensorStep.model_validate({"sensor": condition, "poke": poke}).sensor
    spec = SensorSpec(checked.model_dump(), poke)
    return _single(name, "sensor", spec, after, {"timeout": timeout})


def run_pipeline(
    pipeline_name: str, conf: dict[str, Any] | None = None, after: Any = None, **options: Any
) -> TaskRef:
    """Run another pipeline to its end, as one task."""
    spec = PipelineSpec(pipeline_name, conf or {})
    return _single(f"run_{pipeline_name}", "pipeline", spec, after, options)


class GroupRef(TaskRef):
    """The tasks of a group, known once its ``with`` block has run."""

    def __init__(self, builder: DagBuilder, qualified: str) -> None:
        object.__setattr__(self, "_builder", builder)
        object.__setattr__(self, "_qualified", qualified)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._builder.names.get(self._qualified, ()))  # type: ignore[attr-defined]


@contextlib.contextmanager
def group(name: str) -> Iterator[TaskRef]:
    """Tasks added inside are named ``name.task``; ``after=`` the group waits for all of them::

    with tasks.group("payments") as payments:
        ...
    report(after=payments)
    """
    builder = _builder("tasks.group()")
    builder.groups.append(name)
    qualified = ".".join(builder.groups)
    builder.names.setdefault(qualified, [])
    try:
        yield GroupRef(builder, qualified)
    finally:
        builder.groups.pop()
