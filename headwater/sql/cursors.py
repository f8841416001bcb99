"""Server-side cursors: one query's result read page by page over many requests, in bounded memory.

A cursor holds an open DuckDB session and its streaming result; each page is read from the
stream when it is asked for, so memory holds a page and one batch, whatever the result's size,
and every page of one query comes from the same snapshots. A page token is good for one
request (a retried request gets a clear "expired" error rather than silently the next page).
Idle cursors close after ``idle_seconds``; at most ``limit`` are open, the least recently used
one closing to make room. A page being computed stops when its request's :class:`Abort` is
called (the client went away) or when :meth:`Cursors.stop_all` is (the server is stopping).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.errors import HeadwaterError, QueryError, ServerBusy

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Result:
    """How to start a query's stream, and how to stop the engine computing it: the time limit
    covers the start too (an aggregate computes its whole result before the first batch)."""

    start: Callable[[], pa.RecordBatchReader]
    interrupt: Callable[[], None] | None = None


class Abort:
    """Stops, from another thread, the page one request is computing: ``abort(error)``
    interrupts the engine, and the request raises ``error``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._interrupt: Callable[[], None] | None = None
        self.error: HeadwaterError | None = None

    def __call__(self, error: HeadwaterError) -> None:
        with self._lock:
            self.error = self.error or error
            interrupt = self._interrupt
        if interrupt is not None:
            interrupt()

    @contextmanager
    def watching(self, interrupt: Callable[[], None] | None) -> Iterator[None]:
        """While the block computes, a call interrupts it with ``interrupt``."""
        with self._lock:
            self._interrupt = interrupt
            asked = self.error is not None
        if asked and interrupt is not None:  # asked before the engine started
            interrupt()
        try:
            yield
        finally:
            with self._lock:
                self._interrupt = None


Opener = Callable[[str], AbstractContextManager["pa.RecordBatchReader | Result"]]


@dataclass(frozen=True)
class Page:
    """Rows of a result; ``token`` asks for the next page, None after the last."""

    rows: pa.Table
    token: str | None


class _Cursor:
    def __init__(
        self,
        stack: ExitStack,
        reader: pa.RecordBatchReader,
        interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.stack = stack
        self.reader = reader
        self.interrupt = interrupt
        self.pending: pa.RecordBatch | None = None  # read ahead, not yet returned
        self.used = time.monotonic()

    def page(self, rows: int, max_bytes: int | None = None) -> tuple[pa.Table, bool]:
        """Up to ``rows`` rows and about ``max_bytes`` (at least one row), and whether more
        follow: a page of a few huge rows is cut by size, not only by count."""
        import pyarrow as pa

        batches: list[pa.RecordBatch] = []
        count = size = 0
        while count < rows and (max_bytes is None or size < max_bytes):
            batch = self.pending if self.pending is not None else self._next()
            self.pending = None
            if batch is None:
                break
            take = rows - count
            if max_bytes is not None and batch.num_rows:
                per_row = max(1, batch.nbytes // batch.num_rows)
                take = min(take, max(1, (max_bytes - size) // per_row))
            if take < batch.num_rows:
                self.pending = batch.slice(take)
                batch = batch.slice(0, take)
            batches.append(batch)
            count += batch.num_rows
            size += batch.nbytes
        if self.pending is None:
            self.pending = self._next()
        self.used = time.monotonic()
        return pa.Table.from_batches(batches, self.reader.schema), self.pending is not None

    def _next(self) -> pa.RecordBatch | None:
        while True:
            try:
                batch = self.reader.read_next_batch()
            except StopIteration:
                return None
            if batch.num_rows:
                return batch

    def close(self) -> None:
        self.stack.close()


class Cursors:
    """The open cursors of one server; thread-safe."""

    def __init__(
        self,
        opener: Opener,
        limit: int = 16,
        idle_seconds: float = 300.0,
        page_bytes: int | None = None,
        timeout: float | None = None,
        running: int | None = None,
        wait_seconds: float = 5.0,
    ) -> None:
        self.opener = opener  # sql → a context manager giving the result's stream
        self.limit = limit
        self.idle_seconds = idle_seconds
        self.page_bytes = page_bytes  # about the most a page holds (None: no bound)
        self.timeout = timeout  # seconds the engine may take for one page (None: no bound)
        # pages computed at once (None: no bound); one more waits up to wait_seconds for a turn
        self.running = running
        self.wait_seconds = wait_seconds
        self._turns = threading.BoundedSemaphore(running) if running else None
        self._open: OrderedDict[str, _Cursor] = OrderedDict()
        self._computing: set[Abort] = set()
        self._stopping: Callable[[], HeadwaterError] | None = None  # see stop_all
        self._lock = threading.Lock()

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """One of the :attr:`running` turns to compute a page, or ServerBusy."""
        stopping = self._stopping
        if stopping is not None:
            raise stopping()
        if self._turns is None:
            yield
            return
        if not self._turns.acquire(timeout=self.wait_seconds):
            raise ServerBusy(
                f"the server is computing {self.running} queries already",
                hint="ask again in a few seconds",
                retry_after=1.0,
            )
        try:
            yield
        finally:
            self._turns.release()

    def first(self, sql: str, rows: int, abort: Abort | None = None) -> Page:
        """Run ``sql`` and return its first ``rows`` rows (raises QueryError, or ServerBusy
        when :attr:`running` queries are being computed)."""
        with self._turn():
            return self._first(sql, rows, abort or Abort())

    def _first(self, sql: str, rows: int, abort: Abort) -> Page:
        stack = ExitStack()
        try:
            opened = stack.enter_context(self.opener(sql))
            if not isinstance(opened, Result):
                return self._serve(_Cursor(stack, opened), rows, abort)
            with self._limit(opened.interrupt, abort):
                reader = opened.start()
        except BaseException:
            stack.close()
            raise
        return self._serve(_Cursor(stack, reader, opened.interrupt), rows, abort)

    def next(self, token: str, rows: int, abort: Abort | None = None) -> Page:
        """The page after the one that returned ``token``."""
        with self._lock:
            closing = self._expired()  # an idle query is closed however the server is used
            cursor = self._open.pop(token, None)
        for old in closing:
            old.close()
        if cursor is None:
            raise QueryError(
                "the page token is unknown, was used already, or its query was closed "
                f"(idle queries close after {self.idle_seconds:.0f} s)",
                hint="run the query again from its first page",
            )
        with ExitStack() as turn:
            try:
                turn.enter_context(self._turn())
            except ServerBusy:
                with self._lock:  # the page was not read: the same token asks for it again
                    self._open[token] = cursor
                raise
            return self._serve(cursor, rows, abort or Abort())

    def stop_all(self, error: Callable[[], HeadwaterError]) -> None:
        """Stop every page being computed, and every one asked for from now on: each request
        raises an ``error()`` of its own (the server is stopping)."""
        with self._lock:
            self._stopping = error
            computing = list(self._computing)
        for abort in computing:
            abort(error())

    @property
    def computing(self) -> int:
        """How many pages are being computed now."""
        with self._lock:
            return len(self._computing)

    def close(self) -> None:
        """Close every open cursor (the server is stopping)."""
        with self._lock:
            cursors = list(self._open.values())
            self._open.clear()
        for cursor in cursors:
            cursor.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    @contextmanager
    def _limit(self, interrupt: Callable[[], None] | None, abort: Abort) -> Iterator[None]:
        """Compute the block; the engine is interrupted when it takes longer than
        :attr:`timeout` or ``abort`` is called, and the block raises why."""
        if interrupt is None:
            yield
            return
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            interrupt()

        timer = threading.Timer(self.timeout, expire) if self.timeout is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        with self._lock:
            self._computing.add(abort)
            stopping = self._stopping
        if stopping is not None:  # asked for while the server stops: stopped at once
            abort(stopping())
        try:
            with abort.watching(interrupt):
                yield
        except BaseException as exc:
            if abort.error is not None:  # the engine was stopped: say why
                raise abort.error from exc
            if fired.is_set():
                raise self._timed_out() from exc
            raise
        finally:
            with self._lock:
                self._computing.discard(abort)
            if timer is not None:
                timer.cancel()

    def _timed_out(self) -> QueryError:
        return QueryError(
            f"the query ran longer than {self.timeout:g} s and was stopped",
            hint="narrow it (a WHERE, fewer rows or columns), or raise the server's "
            "`serve.query_timeout`",
        )

    def _serve(self, cursor: _Cursor, rows: int, abort: Abort) -> Page:
        try:
            with self._limit(cursor.interrupt, abort):
                table, more = cursor.page(rows, self.page_bytes)
        except BaseException:
            cursor.close()
            raise
        if not more:
            cursor.close()
            return Page(table, None)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._open[token] = cursor
            closing = self._expired()
        for old in closing:
            old.close()
        return Page(table, token)

    def _expired(self) -> list[_Cursor]:
        """Take out the cursors to close: idle too long, then the oldest beyond ``limit``."""
        now = time.monotonic()
        out = []
        for token, cursor in list(self._open.items()):
            if now - cursor.used > self.idle_seconds:
                out.append(self._open.pop(token))
        while len(self._open) > self.limit:
            out.append(self._open.popitem(last=False)[1])
        return out
