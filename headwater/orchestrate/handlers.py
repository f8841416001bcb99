"""How python, shell and sensor tasks run (the kinds that need no lake or source)."""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from headwater.errors import HeadwaterError, TransientError
from headwater.orchestrate.code import load_callable
from headwater.orchestrate.context import TaskCancelled, TaskContext
from headwater.orchestrate.task import Branch, PythonSpec, SensorSpec, ShellSpec, TaskOutcome
from headwater.orchestrate.templates import is_template, render


class TaskFailed(HeadwaterError):
    """A shell command exited non-zero, or a sensor gave up."""

    retryable: bool | None = None  # the command's own failure: the task's `retries` decide


class TemporaryFailure(TaskFailed, TransientError):
    """A shell command exited with status 75 (``EX_TEMPFAIL``: try again later); retried."""


EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, the caller is invited to retry


@functools.lru_cache(maxsize=1024)
def _wants_context(function: Callable[..., Any]) -> str | None:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return None
    return next((p for p in ("ctx", "context") if p in parameters), None)


def _resolve(value: Any, ctx: TaskContext) -> Any:
    from headwater.orchestrate.define import TaskRef

    if isinstance(value, TaskRef):
        return ctx.values.get(value.id)
    return value


def outcome_of(result: Any) -> TaskOutcome:
    """A task function's return value as an outcome: a value, a branch, or the outcome itself."""
    if isinstance(result, TaskOutcome):
        return result
    if isinstance(result, Branch):
        return TaskOutcome(value=result.value, branch=result.follow)
    return TaskOutcome(value=result)


def run_python(spec: PythonSpec, ctx: TaskContext, root: Path | None) -> TaskOutcome:
    function = spec.function or load_callable(spec.ref, root)
    args = [_resolve(a, ctx) for a in spec.args]
    kwargs = {k: _resolve(v, ctx) for k, v in spec.params.items()}
    if any(is_template(v) for v in kwargs.values()):
        names = {**ctx.names(), **spec.names}
        kwargs = {k: render(v, names) for k, v in kwargs.items()}
    wants = _wants_context(function)
    if wants and wants not in kwargs:
        kwargs[wants] = ctx
    return outcome_of(function(*args, **kwargs))


def run_shell(spec: ShellSpec, ctx: TaskContext, root: Path | None) -> TaskOutcome:
    """Run the command; its output goes to the task log; the last line is the task's value."""
    command = ctx.render(spec.command, **spec.names)
    env = {**os.environ, **{k: str(ctx.render(v, **spec.names)) for k, v in spec.env.items()}}
    env.update(_standard_env(ctx))
    ctx.log.info(f"$ {command}")
    process = subprocess.Popen(
        command,
        shell=True,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a timeout kills it and its children
    )
    tail: collections.deque[str] = collections.deque(maxlen=20)
    reader = threading.Thread(target=_pump, args=(process, ctx, tail), daemon=True)
    reader.start()
    try:
        while process.poll() is None:
            if ctx.cancelled.wait(0.05):
                _kill(process)
                raise TaskCancelled(f"command stopped: {command}")
    except BaseException:
        _kill(process)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        raise
    reader.join(timeout=5)
    assert process.stdout is not None
    process.stdout.close()
    if process.returncode != 0:
        shown = "".join(tail).rstrip()
        failure = TemporaryFailure if process.returncode == EX_TEMPFAIL else TaskFailed
        raise failure(
            f"`{command}` exited with status {process.returncode}"
            + (f"; its last output:\n{shown}" if shown else ""),
            hint="the whole output is in the task's log: headwater logs RUN TASK",
        )
    last = next((line.strip() for line in reversed(tail) if line.strip()), None)
    return TaskOutcome(value=last)


def _pump(process: subprocess.Popen[str], ctx: TaskContext, tail: collections.deque[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        tail.append(line)
        ctx.log.write(line)


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _standard_env(ctx: TaskContext) -> Mapping[str, str]:
    names = ctx.names()
    out = {"HEADWATER_RUN_ID": ctx.run_id, "HEADWATER_TASK_ID": ctx.task.id}
    if names.get("ds"):
        out["HEADWATER_DS"] = names["ds"]
        out["HEADWATER_LOGICAL_DATE"] = names["ts"]
    return out


def wait_for(
    spec: SensorSpec, ctx: TaskContext, probe: Callable[[Mapping[str, Any]], Any]
) -> TaskOutcome:
    """Poke ``probe`` until it returns something truthy (that becomes the task's value)."""
    pokes = 0
    started = time.monotonic()
    while True:
        ctx.check()
        pokes += 1
        found = probe(spec.condition)
        if found:
            ctx.log.info(f"condition met after {pokes} poke(s), {time.monotonic() - started:.1f}s")
            return TaskOutcome(value=found if isinstance(found, str | int | float | list) else None)
        ctx.sleep(spec.poke)
