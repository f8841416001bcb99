"""Every error Headwater raises on purpose, under one root.

Each message says what failed, where, and what to do next; context is kept as attributes so
callers (the CLI, the web UI, tests) never parse text. Retryable failures derive from
``TransientError``, the rest are terminal (:func:`headwater.retry.retryable` decides for
errors from outside the hierarchy). Every error pickles with its type, message, hint and
context, so a task that fails in a worker process or on a Dask worker is reported, and
retried or not, exactly as in this process.

    HeadwaterError
    ├── ProjectError                 the project folder or headwater.yaml is wrong
    │   ├── ProjectNotFound
    │   ├── ProjectFileError         YAML syntax or schema; carries file, line, key path
    │   └── VariableError            unknown / unset variable, bad --var
    ├── ConnectionError_             (exported as SourceConnectionError)
    │   ├── SourceUnreachable        TransientError too: the server may come back
    │   │   └── ConnectionLost       the connection dropped in the middle of a read
    │   └── MissingDependency        an optional package / extension is not installed
    ├── SourceError                  a source table/query is missing or unreadable
    │   ├── ContractViolation        new data breaks the table's schema contract
    │   └── BadRows                  input a load would quarantine, under `on_bad_rows: fail`
    ├── ModelError                   a model's SQL: parse/bind/runtime error, unknown table, cycle
    ├── DagError                     a pipeline's task graph is invalid
    ├── LakeError                    catalog / table / storage problems
    │   ├── TableNotFound
    │   ├── LakeMoved                the catalog's tables live outside this project's warehouse
    │   └── CommitConflict           TransientError too: another writer committed first
    ├── QueryError                   an interactive query failed
    ├── QualityFailed                new data failed its error checks and was not published
    ├── StateError                   metadata store problems
    │   └── MigrationRequired
    ├── StreamError                  a stream, processor or delivery cannot do what was asked
    │   ├── StreamNotFound
    │   ├── StreamExists
    │   ├── RecordRefused            a record the log does not take (too big, no key)
    │   └── StreamUnavailable        TransientError too: the broker did not answer
    ├── CdcError                     change data capture cannot do what was asked
    │   ├── CdcSetupError            the source server or table is not set up for capture
    │   └── CdcSlotBusy              another process reads the same slot / capture
    ├── TaskTimedOut                 TransientError too: a task outlived its timeout
    └── RunFailed                    a pipeline run finished with failed tasks
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class HeadwaterError(Exception):
    """Root of every error Headwater raises on purpose."""

    #: a retry may succeed (the network, a server, a lock); None: nothing says (a failure of a
    #: task's own code, which its ``retries`` decide)
    retryable: bool | None = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__ (as dlt's DltException does): subclasses take
        # keyword-only context, which Exception's default (type(*args)) cannot pass. The text
        # is in args; message, hint and every context attribute are in __dict__.
        return (type(self).__new__, (type(self), *self.args), self.__dict__)


class TransientError(HeadwaterError):
    """A failure that may go away on retry; ``retry_after`` is the least wait a server asked for."""

    retryable: bool | None = True
    retry_after: float | None = None

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ProjectError(HeadwaterError):
    """The project folder or its files are wrong."""


class ProjectNotFound(ProjectError):
    """No headwater.yaml where one was expected."""


class ProjectFileError(ProjectError):
    """A project file is malformed or does not validate; points at file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        where = f"{file}:{line}" if line else file
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}", hint=hint)


class VariableError(ProjectError):
    """A variable is unknown, unset, or given in a bad form."""


class ConnectionError_(HeadwaterError):
    """A system could not be reached or used."""


class SourceUnreachable(ConnectionError_, TransientError):
    """The server did not answer, or answered "not now" (HTTP 429/5xx); nothing was published."""

    def __init__(
        self,
        message: str,
        *,
        dialect: str,
        address: str,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.dialect = dialect
        self.address = address
        super().__init__(message, hint=hint, retry_after=retry_after)


class ConnectionLost(SourceUnreachable):
    """The connection dropped in the middle of a read (killed, server restarted, network)."""

    def __init__(
        self,
        message: str,
        *,
        dialect: str,
        address: str,
        what: str,
        rows: int,
        hint: str | None = None,
    ) -> None:
        self.what = what  # what was being read: table `orders`, or a query
        self.rows = rows  # read before the connection dropped
        super().__init__(message, dialect=dialect, address=address, hint=hint)


class MissingDependency(ConnectionError_):
    """An optional package is needed for this feature."""


class SourceError(HeadwaterError):
    """A source table or query is missing or cannot be read."""


class ContractViolation(SourceError):
    """New data does not fit the table's schema and the contract forbids the change."""

    def __init__(self, message: str, *, table: str, diff: list[str], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.table = table
        self.diff = diff


class BadRows(SourceError):
    """Input the load would have quarantined, refused because the table says ``on_bad_rows:
    fail``; ``location`` (``file:line`` for a file) and ``reason`` are those of the first."""

    def __init__(
        self,
        message: str,
        *,
        table: str,
        location: str,
        reason: str,
        count: int,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.table = table
        self.location = location
        self.reason = reason
        self.count = count


class ModelError(HeadwaterError):
    """A model's SQL cannot be parsed, bound or run, or the model graph is invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}", hint=hint)


class DagError(HeadwaterError):
    """A pipeline's task graph is invalid (unknown dependency, cycle, duplicate task)."""


class LakeError(HeadwaterError):
    """The catalog, a table or the storage failed."""


class TableNotFound(LakeError):
    """A table name that is not in the catalog."""


class LakeMoved(LakeError):
    """The catalog's tables live outside the project's own warehouse (the project was copied or
    moved): nothing may read or write them until ``headwater relocate``."""

    def __init__(
        self, message: str, *, warehouse: str, elsewhere: tuple[str, ...], hint: str | None = None
    ) -> None:
        self.warehouse = warehouse
        self.elsewhere = elsewhere
        super().__init__(message, hint=hint)


class CommitConflict(LakeError, TransientError):
    """Another writer committed to the table first; nothing of this write was published."""

    def __init__(self, message: str, *, table: str, hint: str | None = None) -> None:
        self.table = table
        super().__init__(message, hint=hint)


class QueryError(HeadwaterError):
    """An interactive query failed."""


class QualityFailed(HeadwaterError):
    """New data failed checks of severity `error`; nothing was published."""

    def __init__(self, message: str, *, table: str, failed: list[str], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.table = table
        self.failed = failed


class StateError(HeadwaterError):
    """The metadata store failed."""


class MigrationRequired(StateError):
    """The metadata store's schema is older or newer than this Headwater."""


class StreamError(HeadwaterError):
    """A stream, processor or delivery cannot do what was asked."""

    def __init__(self, message: str, *, stream: str = "", hint: str | None = None) -> None:
        self.stream = stream
        super().__init__(message, hint=hint)


class StreamNotFound(StreamError):
    """No stream of that name on its backend."""


class StreamExists(StreamError):
    """A stream of that name exists already."""


class RecordRefused(StreamError):
    """A record the log does not take: over the size limit, no partition key, bad hash key."""


class StreamUnavailable(StreamError, TransientError):
    """The broker holding a stream did not answer; nothing was acknowledged."""

    def __init__(
        self,
        message: str,
        *,
        stream: str = "",
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, stream=stream, hint=hint)


class CdcError(HeadwaterError):
    """Change data capture cannot do what was asked."""

    def __init__(self, message: str, *, source: str = "", hint: str | None = None) -> None:
        self.source = source
        super().__init__(message, hint=hint)


class CdcSetupError(CdcError):
    """The source server or table is not set up for capture (``wal_level``, privileges,
    ``binlog_format``, a table without a primary key); the hint says how to fix it."""


class CdcSlotBusy(CdcError, TransientError):
    """Another process reads the same replication slot or capture; it may end."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, source=source, hint=hint)


class TaskTimedOut(TransientError):
    """A task ran past its ``timeout`` and was stopped; it runs again if it has retries left."""

    def __init__(self, message: str, *, task: str, seconds: float, hint: str | None = None):
        self.task = task
        self.seconds = seconds
        super().__init__(message, hint=hint)


class ServerBusy(TransientError):
    """``headwater serve`` is computing as many queries as it may; ask again shortly."""


class RunFailed(HeadwaterError):
    """A pipeline run ended with failed tasks; ``run`` holds the details."""

    def __init__(self, message: str, *, run: object, hint: str | None = None) -> None:
        self.run = run
        super().__init__(message, hint=hint)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean `x`?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
