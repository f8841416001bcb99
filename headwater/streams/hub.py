"""The project's streams: each declared one on the backend its connection names, any other on
the embedded log. The CLI, the web server, processors and deliveries reach streams here."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from headwater.errors import StreamNotFound
from headwater.streams.backends import open_backend
from headwater.streams.log import Retention, StreamInfo, StreamLog
from headwater.streams.records import Batch, Entry, Position, Put

if TYPE_CHECKING:
    from headwater.project import Project
    from headwater.project.streams import StreamConfig


class Streams:
    """The streams of one project (see the module docstring)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._backends: dict[str | None, StreamLog] = {}
        self._ready: set[str] = set()  # declared streams known to exist
        self._lock = threading.Lock()

    @property
    def declared(self) -> dict[str, StreamConfig]:
        return dict(self.project.config.streams)

    def backend(self, stream: str) -> StreamLog:
        """The backend ``stream`` lives on."""
        config = self.project.config.streams.get(stream)
        connection = config.connection if config is not None else None
        with self._lock:
            backend = self._backends.get(connection)
            if backend is None:
                backend = self._backends[connection] = open_backend(self.project, connection)
            return backend

    def settings(self, stream: str) -> tuple[int, Retention]:
        """Shards and retention a new ``stream`` is created with (declared, or the defaults)."""
        from headwater.durations import parse_duration
        from headwater.project.streams import StreamConfig

        config = self.project.config.streams.get(stream) or StreamConfig()
        hours = parse_duration(config.retention).total_seconds() / 3600
        size = None if config.retention_mb is None else config.retention_mb << 20
        return config.shards, Retention(hours=hours, bytes=size)

    def create(
        self, stream: str, shards: int | None = None, retention: Retention | None = None
    ) -> StreamInfo:
        declared_shards, declared_retention = self.settings(stream)
        self.backend(stream).create(
            stream, shards or declared_shards, retention or declared_retention
        )
        return self.describe(stream)

    def ensure(self, stream: str) -> StreamLog:
        """The backend of ``stream``, after creating it when it is declared and missing."""
        backend = self.backend(stream)
        if stream in self._ready:
            return backend
        if stream in self.project.config.streams and stream not in backend.names():
            from headwater.errors import StreamExists

            shards, retention = self.settings(stream)
            with contextlib.suppress(StreamExists):  # another process created it meanwhile
                backend.create(stream, shards, retention)
        self._ready.add(stream)
        return backend

    def delete(self, stream: str) -> None:
        self._ready.discard(stream)
        self.backend(stream).delete(stream)

    def names(self) -> list[str]:
        """Every stream there is: the declared ones that exist and the embedded log's."""
        found: set[str] = set()
        connections = {c.connection for c in self.project.config.streams.values()}
        for connection in connections | {None}:
            with self._lock:
                backend = self._backends.get(connection)
                if backend is None:
                    backend = self._backends[connection] = open_backend(self.project, connection)
            names = backend.names()
            if connection is None:
                found.update(names)
            else:
                found.update(
                    n
                    for n in names
                    if n in self.project.config.streams
                    and self.project.config.streams[n].connection == connection
                )
        return sorted(found)

    def describe(self, stream: str) -> StreamInfo:
        return self.ensure(stream).describe(stream)

    def put(self, stream: str, entries: Sequence[Entry]) -> list[Put]:
        return self.ensure(stream).put(stream, entries)

    def read(
        self, stream: str, shard: str, position: Position, limit: int = 1000, wait: float = 0.0
    ) -> Batch:
        return self.ensure(stream).read(stream, shard, position, limit, wait)

    def shards(self, stream: str) -> list[str]:
        return [s.shard.id for s in self.describe(stream).shards]

    def require(self, names: Iterable[str]) -> None:
        """Raise for the first of ``names`` that is neither declared nor existing."""
        existing = set(self.names()) | set(self.project.config.streams)
        for name in names:
            if name not in existing:
                raise StreamNotFound(
                    f"no stream `{name}`",
                    stream=name,
                    hint="declare it under `streams:` in headwater.yaml or create it with "
                    f"`headwater stream create {name}`",
                )

    def close(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()
