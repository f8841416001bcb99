"""Deliveries, processors and MQTT feeds as pipeline tasks: each runs until it has taken what
is there now (the ``--once`` mode of ``headwater stream run|process``), then stops.

The task's cancellation flag is the worker's ``stop`` event: a timeout, ``headwater cancel`` or
Ctrl-C makes a delivery flush what it buffered, commit it with its positions and give its
shards back, and a processor put and checkpoint the batch in hand, before the task ends (the
runner gives such a task :data:`~headwater.orchestrate.builder.STREAM_GRACE` seconds first).
What a task did — records in and out, errors — is its outcome, recorded on its task run.

:func:`run_item` is shared with :mod:`headwater.orchestrate.stream_workers`, which runs the
same workers without an end beside the scheduler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.orchestrate.task import StreamItem, StreamSpec, TaskOutcome

if TYPE_CHECKING:
    from headwater.orchestrate.context import TaskContext
    from headwater.orchestrate.scope import Scope
    from headwater.streams.delivery import DeliveryReport
    from headwater.streams.hub import Streams
    from headwater.streams.mqtt_feed import FeedReport
    from headwater.streams.processor_report import ProcessorReport

    Report = DeliveryReport | ProcessorReport | FeedReport

IDLE_POLL = 0.1  # seconds between looks at a feed that may have gone idle


def run_stream(scope: Scope, spec: StreamSpec, ctx: TaskContext) -> TaskOutcome:
    """Run the delivery, processor or feed of ``spec`` once; stop early when cancelled."""
    from headwater.streams.hub import Streams

    streams = Streams(scope.project)
    try:
        report = run_item(scope, streams, spec.item, spec.name, ctx.cancelled, True, spec.options)
    finally:
        streams.close()
    outcome = outcome_of(report)
    ctx.log.info(f"{spec.item} {spec.name}: {dict(outcome.details or {})}")
    ctx.check()  # stopped part-way: what was done is committed, but the task did not finish
    return outcome


def run_item(
    scope: Scope,
    streams: Streams,
    item: StreamItem,
    name: str,
    stop: threading.Event,
    once: bool,
    options: Mapping[str, Any] | None = None,
) -> Report:
    """Run one worker of delivery, processor or feed ``name`` until ``stop`` is set or, with
    ``once``, until it has taken what is there now."""
    options = options or {}
    if item == "delivery":
        from headwater.streams.delivery import DeliveryWorker

        worker = DeliveryWorker(scope.project, streams, scope.lake, scope.store, name)
        return worker.run(once=once, stop=stop)
    if item == "processor":
        from headwater.streams.processor import open_processor
        from headwater.streams.processor_run import run_workers
        from headwater.streams.processor_worker import Worker

        processor = open_processor(scope.project, streams, name)
        flush = bool(options.get("flush_windows")) and once
        try:
            one = Worker(processor, streams, scope.store, once=once, flush_windows=flush)
        except BaseException:
            processor.close()
            raise
        [report] = run_workers([one], stop=stop)
        return report
    return _feed(streams, name, stop, once, options)


def _feed(
    streams: Streams, name: str, stop: threading.Event, once: bool, options: Mapping[str, Any]
) -> FeedReport:
    """Run feed ``name``; ``once``: until nothing came for ``idle`` seconds (MQTT has no end of
    what is there: a persistent session hands over what it kept at once, then goes quiet)."""
    from headwater.streams.mqtt_feed import open_feed

    feed = open_feed(streams, name)
    if not once:
        return feed.run(stop)
    idle = float(options.get("idle") or 5.0)
    ended = threading.Event()
    quiet = threading.Event()  # the feed's own stop: asked to stop, or idle
    last = [time.monotonic(), 0]  # when the count of messages last changed, and the count

    def progress(report: FeedReport) -> None:
        if report.messages != last[1]:
            last[:] = [time.monotonic(), report.messages]

    def watch() -> None:
        while not ended.wait(IDLE_POLL):
            if stop.is_set() or time.monotonic() - last[0] >= idle:
                quiet.set()
                return

    watcher = threading.Thread(target=watch, name=f"feed-{name}-idle", daemon=True)
    watcher.start()
    try:
        return feed.run(quiet, options.get("seconds"), options.get("max_messages"), progress)
    finally:
        ended.set()
        watcher.join()


def outcome_of(report: Report) -> TaskOutcome:
    """A worker's report as a task's outcome: rows are the records it wrote."""
    from headwater.streams.delivery import DeliveryReport
    from headwater.streams.processor_report import ProcessorReport

    if isinstance(report, DeliveryReport):
        counts = {
            "records_in": report.records_read,
            "records_out": report.records_written,
            "errors": report.errors,
        }
        written = {**counts, "files": report.files, "snapshots": report.snapshots}
        return TaskOutcome(rows=report.records_written, details=written, value=counts)
    if isinstance(report, ProcessorReport):
        counts = {
            "records_in": report.records_in,
            "records_out": report.records_out,
            "errors": report.errors,
        }
        details = {
            **counts,
            "outputs": dict(report.outputs),
            "dropped": report.dropped,
            "late": report.late,
            "unrouted": report.unrouted,
        }
        return TaskOutcome(rows=report.records_out, details=details, value=counts)
    counts = {"records_in": report.messages, "records_out": report.records, "errors": report.errors}
    fed = {**counts, "duplicates": report.duplicates, "reconnects": report.reconnects}
    return TaskOutcome(rows=report.records, details=fed, value=counts)
