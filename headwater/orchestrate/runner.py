"""Run a DAG: start each task when its trigger rule allows, record every state change.

Tasks start in dependency order, bounded by the executor's workers and by named pools. A task
that fails with a retryable error (:func:`headwater.retry.retryable`) runs again after a
backoff while its policy has attempts left: this is the only place Headwater retries. One that
outlives its timeout is stopped and counts as a (retryable) failure; a task with a ``grace``
(a stream task) is first asked to stop through its cancellation flag and given that long to
finish the work in hand. What happens downstream follows each task's trigger rule (a failure
blocks ``all_success`` tasks, a branch not taken skips them). A run asked to stop
(`headwater cancel`) stops its tasks and ends ``cancelled``. State changes are written to the
metadata store in one transaction per scheduling step, so recording costs little per task.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Protocol

from headwater.errors import HeadwaterError, TaskTimedOut
from headwater.orchestrate.context import RunContext, TaskCancelled, TaskContext, TaskInterrupted
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.executor import Executor, LocalExecutor
from headwater.orchestrate.failures import describe_error, error_details
from headwater.orchestrate.hooks import Hooks, emit
from headwater.orchestrate.logs import TaskLog, capture, log_path, release
from headwater.orchestrate.pools import Pools
from headwater.orchestrate.recorder import Recorder
from headwater.orchestrate.task import Task, TaskOutcome
from headwater.orchestrate.trigger_rules import Upstream, decide
from headwater.state.records import RunStatus, TaskStatus
from headwater.state.store import Store, now

TaskHandler = Callable[[Task, TaskContext], TaskOutcome]


class RunListener(Protocol):
    """Progress callbacks (the CLI's display, tests); called from the runner's thread."""

    def task_started(self, task: Task) -> None: ...

    def task_progress(self, task: Task, rows: int) -> None:
        """``rows`` more rows were read by a running task (called from worker threads)."""

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None: ...


class _Silent:
    def task_started(self, task: Task) -> None:
        pass

    def task_progress(self, task: Task, rows: int) -> None:
        pass

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None:
        pass


def invoke(handler: TaskHandler, task: Task, ctx: TaskContext) -> TaskOutcome:
    """Run ``handler`` in this thread with its prints going to the task's log."""
    router = capture(ctx.log) if ctx.log.path is not None or ctx.log.echo else None
    try:
        return handler(task, ctx)
    except TaskInterrupted:
        raise TaskCancelled(f"task `{task.id}` was stopped") from None
    finally:
        release(router)
        ctx.log.close()


@dataclass
class _Running:
    task: Task
    ctx: TaskContext
    started: float
    deadline: float | None


def run_dag(
    dag: Dag,
    handler: TaskHandler,
    executor: Executor,
    store: Store,
    run: RunContext | str,
    listener: RunListener | None = None,
    pools: Pools | None = None,
    hooks: Hooks | None = None,
    poll: float = 1.0,
) -> RunStatus:
    """Execute every task of ``dag`` with ``handler``; returns the run's final status.

    A run that already has task runs (a resumed run) keeps its succeeded and skipped tasks and
    runs the rest again."""
    context = run if isinstance(run, RunContext) else RunContext(run_id=run, pipeline=dag.name)
    return _Runner(dag, handler, executor, store, context, listener, pools, hooks, poll).run()


class _Runner:
    def __init__(
        self,
        dag: Dag,
        handler: TaskHandler,
        executor: Executor,
        store: Store,
        run: RunContext,
        listener: RunListener | None,
        pools: Pools | None,
        hooks: Hooks | None,
        poll: float,
    ) -> None:
        self.dag = dag
        self.handler = handler
        self.executor = executor
        self.store = store
        self.run_ctx = run
        self.listen = listener or _Silent()
        self.pools = pools or Pools()
        self.hooks = hooks or Hooks()
        self.poll = poll
        self.state = {tid: TaskStatus.PENDING for tid in dag.tasks}
        self.seen = {tid: Upstream(len(t.depends_on)) for tid, t in dag.tasks.items()}
        self.values: dict[str, Any] = {}
        self.attempts: dict[str, int] = {}
        self.ready: deque[str] = deque()
        self.queued: set[str] = set()  # what ``ready`` holds
        self.retries: list[tuple[float, str]] = []
        self.running: dict[Future[TaskOutcome], _Running] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.recorder: Recorder | None = None

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> RunStatus:
        run_id = self.run_ctx.run_id
        self.store.add_tasks(run_id, {t.id: (t.kind, t.target) for t in self.dag.tasks.values()})
        self._resume()
        next_poll = time.monotonic() + self.poll
        try:
            while True:
                self._launch()
                if not self.running and not self.ready and not self.retries:
                    break
                self._flush()
                current = time.monotonic()
                if current >= next_poll:
                    next_poll = current + self.poll
                    if self.store.cancel_requested(run_id):
                        self._cancel_all("cancelled on request")
                        self._flush(wait=True)
                        return RunStatus.CANCELLED
                wake = [next_poll]
                if self.retries:
                    wake.append(self.retries[0][0])
                wake.extend(r.deadline for r in self.running.values() if r.deadline)
                timeout = max(0.0, min(wake) - time.monotonic())
                if self.running:
                    done, _ = wait(self.running, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._finished(future)
                    self._expire()
                else:  # waiting for a retry, or for a pool slot another run holds
                    time.sleep(min(timeout, 0.05) if self.ready else timeout)
                self._due_retries()
        except BaseException:
            # interrupted (Ctrl-C): what was queued never starts; what runs is recorded as cut off
            self._cancel_all("interrupted")
            self._flush(wait=True)
            raise
        self._flush(wait=True)
        bad = (TaskStatus.FAILED, TaskStatus.UPSTREAM_FAILED, TaskStatus.CANCELLED)
        return RunStatus.FAILED if any(s in bad for s in self.state.values()) else RunStatus.SUCCESS

    def _resume(self) -> None:
        """Start from the tasks without upstream, or from where a resumed run stopped."""
        record = self.store.run(self.run_ctx.run_id)
        kept = {
            t.task_id: t
            for t in record.tasks
            if t.status in (TaskStatus.SUCCESS, TaskStatus.SKIPPED) and t.task_id in self.dag.tasks
        }
        for tid, t in kept.items():
            self.values[tid] = t.value
        if len(kept) != len(record.tasks):
            for t in record.tasks:
                if t.task_id not in kept and t.status is not TaskStatus.PENDING:
                    self._record(t.task_id, status=TaskStatus.PENDING, error=None, ended_at=None)
        for tid in self.dag.order():
            if tid in kept:
                self._finish(tid, kept[tid].status, None)
        for tid, task in self.dag.tasks.items():
            if not task.depends_on:
                self._evaluate(tid)

    def _launch(self) -> None:
        deferred: list[str] = []
        while self.ready and len(self.running) < self.executor.max_workers:
            tid = self.ready.popleft()
            task = self.dag.tasks[tid]
            if not self.pools.acquire(task.pool):
                deferred.append(tid)
                continue
            self.queued.discard(tid)
            attempt = self.attempts.get(tid, 0) + 1
            self.attempts[tid] = attempt
            log_dir = self.run_ctx.log_dir
            ctx = TaskContext(
                run=self.run_ctx,
                task=task,
                attempt=attempt,
                values={d: self.values[d] for d in sorted(task.depends_on) if d in self.values},
                log=TaskLog(
                    log_path(log_dir, self.run_ctx.run_id, tid) if log_dir else None,
                    echo=self.run_ctx.echo,
                ),
                on_rows=self._progress(task),
            )
            self.state[tid] = TaskStatus.RUNNING
            self._record(tid, status=TaskStatus.RUNNING, started_at=now(), attempts=attempt)
            started = time.monotonic()
            deadline = started + task.timeout if task.timeout else None
            future = self.executor.submit(invoke, self.handler, task, ctx)
            self.running[future] = _Running(task, ctx, started, deadline)
            self.listen.task_started(task)
        self.ready.extendleft(reversed(deferred))

    def _progress(self, task: Task) -> Callable[[int], None]:
        return lambda rows: self.listen.task_progress(task, rows)

    def _finished(self, future: Future[TaskOutcome]) -> None:
        entry = self.running.pop(future)
        task = entry.task
        self.pools.release(task.pool)
        exc = future.exception()
        if exc is None:
            outcome = future.result()
            problem = self._check_outcome(task, outcome)
            if problem is None:
                self._succeeded(task, outcome)
                return
            exc = problem
        self._failed(task, exc)

    def _check_outcome(self, task: Task, outcome: TaskOutcome) -> Exception | None:
        if outcome.value is not None:
            try:
                json.dumps(outcome.value)
            except (TypeError, ValueError):
                return HeadwaterError(
                    f"task `{task.id}` returned a {type(outcome.value).__name__}, which is not "
                    "a JSON value",
                    hint="return small values (numbers, strings, lists, dicts); write data to "
                    "tables or files and return where it is",
                )
        if outcome.branch is not None:
            children = set(self.dag.children[task.id])
            unknown = [b for b in outcome.branch if b not in children]
            if unknown:
                return HeadwaterError(
                    f"task `{task.id}` chose `{unknown[0]}`, which is not one of its downstream "
                    f"tasks ({', '.join(sorted(children)) or 'none'})"
                )
        return None

    def _succeeded(self, task: Task, outcome: TaskOutcome) -> None:
        self.values[task.id] = outcome.value
        self._record(
            task.id,
            status=TaskStatus.SUCCESS,
            ended_at=now(),
            rows=outcome.rows,
            bytes=outcome.bytes,
            snapshot_id=outcome.snapshot_id,
            details=dict(outcome.details) if outcome.details else None,
            value=outcome.value,
            error=None,
        )
        self.listen.task_finished(task, TaskStatus.SUCCESS, outcome, None)
        if self.hooks.on_success:
            emit(
                self.store,
                self.hooks,
                "task_succeeded",
                f"task `{task.id}` succeeded",
                self.run_ctx.pipeline,
                self.run_ctx.run_id,
                task.id,
            )
        self._finish(task.id, TaskStatus.SUCCESS, outcome.branch)

    def _failed(self, task: Task, exc: BaseException) -> None:
        """Schedule another attempt if the task's policy retries ``exc`` (headwater.retry),
        else record the failure with how many attempts were made."""
        attempt = self.attempts.get(task.id, 1)
        where = (self.run_ctx.pipeline, self.run_ctx.run_id, task.id)
        message = describe_error(exc)
        details = {"error": error_details(exc)}
        delay = task.retry.next_wait(attempt, exc)
        if delay is not None:
            self.state[task.id] = TaskStatus.UP_FOR_RETRY
            heapq.heappush(self.retries, (time.monotonic() + delay, task.id))
            self._record(task.id, status=TaskStatus.UP_FOR_RETRY, error=message, details=details)
            self.listen.task_finished(task, TaskStatus.UP_FOR_RETRY, None, message)
            emit(
                self.store,
                self.hooks,
                "task_retry",
                f"task `{task.id}` failed (attempt {attempt} of {task.retry.attempts}), "
                # the error without its hint: the hint comes once, with the last attempt
                f"retrying in {delay:.1f}s: {getattr(exc, 'message', None) or message}",
                *where,
            )
            return
        if attempt > 1:
            retried = task.retry.retries_after(exc)
            message = describe_error(
                exc,
                f" (gave up after {attempt} attempts)"
                if retried
                else f" (attempt {attempt}: this error is not retried)",
            )
        self._record(
            task.id, status=TaskStatus.FAILED, ended_at=now(), error=message, details=details
        )
        self.listen.task_finished(task, TaskStatus.FAILED, None, message)
        emit(
            self.store,
            self.hooks,
            "task_failed",
            f"task `{task.id}` of pipeline `{self.run_ctx.pipeline}` failed: {message}",
            *where,
        )
        self._finish(task.id, TaskStatus.FAILED, None)

    def _expire(self) -> None:
        """Stop tasks past their timeout; they fail (and may retry)."""
        current = time.monotonic()
        for future, entry in list(self.running.items()):
            if entry.deadline is not None and current >= entry.deadline:
                del self.running[future]
                self._stop([(future, entry)])
                self.pools.release(entry.task.pool)
                seconds = entry.task.timeout
                assert seconds is not None
                self._failed(
                    entry.task,
                    TaskTimedOut(
                        f"timed out after {seconds:g}s and was stopped",
                        task=entry.task.id,
                        seconds=seconds,
                    ),
                )

    def _due_retries(self) -> None:
        current = time.monotonic()
        while self.retries and self.retries[0][0] <= current:
            _, tid = heapq.heappop(self.retries)
            self.state[tid] = TaskStatus.PENDING
            self.ready.append(tid)
            self.queued.add(tid)

    def _stop(self, entries: list[tuple[Future[TaskOutcome], _Running]]) -> None:
        """Set the tasks' cancellation flags, give those that honour it (a ``grace``) up to
        that long to finish the work in hand, and interrupt what still runs. Only a thread
        shares the flag with the runner: a worker process or a Dask task is stopped at once
        (a stream task there resumes from its committed positions on its next run)."""
        for _, entry in entries:
            entry.ctx.cancelled.set()
        if isinstance(self.executor, LocalExecutor):
            graceful = [(f, e.task.grace) for f, e in entries if e.task.grace > 0]
            if graceful:
                wait([f for f, _ in graceful], timeout=max(g for _, g in graceful))
        for future, _ in entries:
            if not future.done():
                self.executor.stop(future)

    def _cancel_all(self, reason: str) -> None:
        self._stop(list(self.running.items()))
        for entry in list(self.running.values()):
            self.pools.release(entry.task.pool)
            self.state[entry.task.id] = TaskStatus.CANCELLED
            self._record(entry.task.id, status=TaskStatus.CANCELLED, ended_at=now(), error=reason)
            self.listen.task_finished(entry.task, TaskStatus.CANCELLED, None, reason)
        self.running.clear()
        for tid, status in self.state.items():
            if status in (TaskStatus.PENDING, TaskStatus.UP_FOR_RETRY):
                self.state[tid] = TaskStatus.CANCELLED
                self._record(tid, status=TaskStatus.CANCELLED, error=f"not run: {reason}")
        self.ready.clear()
        self.queued.clear()
        self.retries.clear()

    # -- downstream ------------------------------------------------------------------------

    def _finish(self, tid: str, status: TaskStatus, branch: tuple[str, ...] | None) -> None:
        """``tid`` ended: tell its downstream tasks, and settle those that can be settled."""
        work = [(tid, status, branch)]
        while work:
            current, state, chosen = work.pop()
            self.state[current] = state
            for child in self.dag.children[current]:
                edge = state
                if state is TaskStatus.SUCCESS and chosen is not None and child not in chosen:
                    edge = TaskStatus.SKIPPED
                self.seen[child].add(edge)
                settled = self._evaluate(child)
                if settled is not None:
                    work.append((child, settled, None))

    def _evaluate(self, tid: str) -> TaskStatus | None:
        """Queue ``tid`` if its trigger rule says run; return its state if it is settled
        without running (skipped, or blocked by a failure upstream)."""
        if self.state[tid] is not TaskStatus.PENDING or tid in self.queued:
            return None
        task = self.dag.tasks[tid]
        decision = decide(task.trigger_rule, self.seen[tid])
        if decision == "run":
            self.ready.append(tid)
            self.queued.add(tid)
            return None
        if decision == "wait":
            return None
        if decision == "skip":
            self.state[tid] = TaskStatus.SKIPPED
            self._record(tid, status=TaskStatus.SKIPPED, ended_at=now())
            self.listen.task_finished(task, TaskStatus.SKIPPED, None, None)
            return TaskStatus.SKIPPED
        failed = next(
            (
                d
                for d in sorted(task.depends_on)
                if self.state.get(d) in (TaskStatus.FAILED, TaskStatus.UPSTREAM_FAILED)
            ),
            None,
        )
        self.state[tid] = TaskStatus.UPSTREAM_FAILED
        self._record(
            tid,
            status=TaskStatus.UPSTREAM_FAILED,
            error=f"not run: upstream task `{failed}` failed" if failed else "not run",
        )
        self.listen.task_finished(task, TaskStatus.UPSTREAM_FAILED, None, None)
        return TaskStatus.UPSTREAM_FAILED

    # -- recording ---------------------------------------------------------------------------

    def _record(self, tid: str, **values: Any) -> None:
        self.updates.append((tid, values))

    def _flush(self, wait: bool = False) -> None:
        """Hand this step's changes to the recorder; ``wait`` until the store holds them."""
        if self.recorder is None:
            self.recorder = Recorder(self.store, self.run_ctx.run_id)
        if self.updates:
            updates, self.updates = self.updates, []
            self.recorder.add(updates)
        if wait:
            self.recorder.close()
            self.recorder = None
