"""A processor: a consumer group that reads one stream, transforms its records (a Python
function or DuckDB SQL over each micro-batch) and routes the outputs to other streams.

This module turns the ``processors:`` entry into a ready processor (its transform loaded, its
streams checked) and turns one micro-batch of a shard into the records to put: every output
gets the de-duplication id ``<processor>/<shard>/<input sequence>/<output index>`` (``…/error``
for a failure), so the replay of a batch after a crash or a take-over is dropped by the
backend instead of stored twice. A windowed processor (``window:`` and ``aggregate:``) keeps
the open windows of each shard instead, and emits each window once it closes
(:mod:`headwater.streams.processor_window`). The reading, leasing and checkpointing loop is
:mod:`headwater.streams.processor_worker`.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from headwater.errors import ProjectError, StreamExists, StreamNotFound, did_you_mean
from headwater.streams.processor_batch import NO_ROUTE, Applied, Failure, isolating
from headwater.streams.processor_routes import Routes
from headwater.streams.records import Entry, Record

if TYPE_CHECKING:
    from headwater.project import Project
    from headwater.project.processors import ProcessorConfig
    from headwater.streams.hub import Streams
    from headwater.streams.processor_window import Stepped, Windows


class Transform(Protocol):
    def apply(self, records: Sequence[Record]) -> Applied: ...

    def close(self) -> None: ...


@dataclass
class Prepared:
    """The records to put for one micro-batch, and what they count."""

    entries: dict[str, list[Entry]] = field(default_factory=dict)  # per stream
    outputs: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    dropped: int = 0
    unrouted: int = 0
    late: int = 0  # windows: records whose window had closed (in ``errors`` too)
    # the sequence to checkpoint: the batch's last, or for windows the one before the open
    # windows' records (None: nothing can be checkpointed yet)
    checkpoint: str | None = None


class _NoTransform:
    """A windowed processor's: it aggregates the records as they are."""

    def apply(self, records: Sequence[Record]) -> Applied:
        raise NotImplementedError("a windowed processor has no per-record transform")

    def close(self) -> None:
        pass


@dataclass
class Processor:
    """One processor, ready to run (see the module docstring)."""

    name: str
    config: ProcessorConfig
    transform: Transform
    routes: Routes
    windows: Windows | None = None

    @property
    def consumer(self) -> str:
        return self.consumer_of(self.name)

    @staticmethod
    def consumer_of(name: str) -> str:
        """A processor's name among the stream consumers in the metadata store (checkpoints,
        leases): ``processor:<name>``."""
        return f"processor:{name}"

    @property
    def stream(self) -> str:
        return self.config.stream

    @property
    def errors(self) -> str:
        return self.config.errors_stream(self.name)

    def restart(self, shard: str, after: str | None) -> None:
        """``shard`` is read (again) from after ``after`` (None: from its start)."""
        if self.windows is not None:
            self.windows.restart(shard, after)

    def forget(self, shard: str) -> None:
        """``shard`` is no longer read here."""
        if self.windows is not None:
            self.windows.forget(shard)

    def prepare(self, shard: str, records: Sequence[Record]) -> Prepared:
        """Transform and route one micro-batch of ``shard`` into the records to put."""
        if self.windows is not None:
            return self._stepped(records, self.windows.step(shard, records))
        applied = isolating(self.transform.apply, records)
        out = Prepared(checkpoint=records[-1].sequence if records else None)
        made = [0] * len(records)
        for output in applied.outputs:
            record = records[output.source]
            index = made[output.source]
            made[output.source] += 1
            if output.route == NO_ROUTE:
                out.unrouted += 1
                continue
            stream = self.routes.streams[output.route]
            out.entries.setdefault(stream, []).append(
                Entry(
                    data=output.data,
                    partition_key=output.key or record.partition_key,
                    id=f"{self.name}/{shard}/{record.sequence}/{index}",
                )
            )
            out.outputs[stream] = out.outputs.get(stream, 0) + 1
        failed = set()
        for failure in applied.failures:
            record = records[failure.source]
            failed.add(failure.source)
            out.entries.setdefault(self.errors, []).append(
                Entry(
                    data=self.error_record(record, failure),
                    partition_key=record.partition_key,
                    id=f"{self.name}/{shard}/{record.sequence}/error",
                )
            )
        out.errors = len(failed)
        out.dropped = sum(1 for i, n in enumerate(made) if n == 0 and i not in failed)
        return out

    def flush(self, shard: str) -> Prepared:
        """Windows: emit the open windows of ``shard`` now (``--flush-windows``)."""
        if self.windows is None:
            return Prepared()
        return self._stepped([], self.windows.flush(shard))

    def _stepped(self, records: Sequence[Record], stepped: Stepped) -> Prepared:
        out = Prepared(checkpoint=stepped.checkpoint, late=stepped.late)
        out.unrouted = stepped.unrouted
        for stream, entries in stepped.windows.items():
            out.entries.setdefault(stream, []).extend(entries)
            out.outputs[stream] = out.outputs.get(stream, 0) + len(entries)
        errors = [
            Entry(
                data=self.error_record(records[f.source], f),
                partition_key=records[f.source].partition_key,
                id=f"{self.name}/{records[f.source].shard}/{records[f.source].sequence}/error",
            )
            for f in stepped.failures
        ]
        errors += stepped.window_errors
        if errors:
            out.entries.setdefault(self.errors, []).extend(errors)
        out.errors = len(stepped.failures) + len(stepped.window_errors)
        return out

    def error_record(self, record: Record, failure: Failure) -> bytes:
        """What the error stream gets for a failed record: the error and the raw record."""
        shown: dict[str, object] = {
            "processor": self.name,
            "error_type": failure.error_type,
            "error_message": failure.message[:4000],
            "stream": self.stream,
            "shard": record.shard,
            "sequence": record.sequence,
            "partition_key": record.partition_key,
            "arrived_ms": record.arrived_ms,
        }
        try:
            shown["raw"] = record.data.decode()
        except UnicodeDecodeError:
            shown["raw_base64"] = base64.b64encode(record.data).decode()
        return json.dumps(shown, ensure_ascii=False).encode()

    def close(self) -> None:
        self.transform.close()
        if self.windows is not None:
            self.windows.close()


def open_processor(project: Project, streams: Streams, name: str) -> Processor:
    """The processor ``name`` of the project, its transform loaded and its streams checked."""
    config = project.config.processors.get(name)
    if config is None:
        known = list(project.config.processors)
        raise ProjectError(
            f"no processor `{name}` in {project.file.name}{did_you_mean(name, known)}",
            hint=f"processors defined: {', '.join(known) or 'none'} (under `processors:`)",
        )
    where = f"processors.{name}"
    check_streams(project, streams, name, config)
    routes = Routes(config.all_routes)
    transform: Transform
    if config.window is not None:
        from headwater.streams.processor_window import Windows

        windows = Windows(name, config, routes, where)
        try:
            windows.check()
        except BaseException:
            windows.close()
            raise
        return Processor(name, config, _NoTransform(), routes, windows)
    if config.sql is not None:
        from headwater.streams.processor_sql import SqlTransform

        transform = SqlTransform(config.sql, routes, config.partition_key, f"{where}.sql")
    else:
        from headwater.streams.processor_python import PythonTransform, load_function

        function = load_function(config.python or "", project.root, f"{where}.python")
        transform = PythonTransform(function, routes, config.partition_key)
    return Processor(name, config, transform, routes)


def check_streams(project: Project, streams: Streams, name: str, config: ProcessorConfig) -> None:
    """Raise for a stream the processor names that is neither declared nor there; create its
    default error stream when missing."""
    existing = set(streams.names()) | set(project.config.streams)
    errors = config.errors_stream(name)
    if config.errors is None and errors not in existing:
        with contextlib.suppress(StreamExists):  # another worker created it meanwhile
            streams.create(errors)
        existing.add(errors)
    for path, stream in [(("stream",), config.stream), *config.outputs(name)]:
        if stream not in existing:
            key = ".".join(str(p) for p in ("processors", name, *path))
            raise StreamNotFound(
                f"{project.file.name}, {key}: no stream `{stream}`{did_you_mean(stream, existing)}",
                stream=stream,
                hint="declare it under `streams:` in headwater.yaml or create it with "
                f"`headwater stream create {stream}`",
            )
