"""Server-side cursors of the query service: pages, and idle queries closed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from headwater.errors import QueryError
from headwater.sql.cursors import Cursors


def test_an_idle_query_is_closed_when_its_next_page_is_asked_late() -> None:
    closed: list[str] = []

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[pa.RecordBatchReader]:
        table = pa.table({"x": list(range(10))})
        try:
            yield pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
        finally:
            closed.append(sql)

    cursors = Cursors(opener, idle_seconds=0.1)
    first = cursors.first("q", 4)
    assert first.rows.num_rows == 4 and first.token is not None
    time.sleep(0.3)
    with pytest.raises(QueryError, match="idle queries close after"):
        cursors.next(first.token, 4)
    assert closed == ["q"] and len(cursors) == 0


def test_a_page_of_huge_rows_is_cut_by_size_and_every_row_comes_once() -> None:
    """Ten rows of 1 MB each asked as one page of 10 rows, with pages of about 2.5 MB: pages
    of two rows, then the rest, each row once and in order."""
    big = "x" * (1 << 20)

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[pa.RecordBatchReader]:
        table = pa.table({"id": list(range(10)), "blob": [big] * 10})
        yield pa.RecordBatchReader.from_batches(table.schema, table.to_batches())

    cursors = Cursors(opener, page_bytes=5 << 19)
    page = cursors.first("q", 10)
    seen = page.rows.column("id").to_pylist()
    sizes = [page.rows.num_rows]
    while page.token is not None:
        page = cursors.next(page.token, 10)
        seen += page.rows.column("id").to_pylist()
        sizes.append(page.rows.num_rows)
    assert seen == list(range(10))
    assert max(sizes) <= 3 and len(sizes) >= 4
    one_row = Cursors(opener, page_bytes=1).first("q", 10)  # a page holds one row at least
    assert one_row.rows.num_rows == 1 and one_row.token is not None


def test_a_page_that_takes_too_long_stops_the_engine_and_says_so() -> None:
    import threading

    from headwater.sql.cursors import Result

    stop = threading.Event()
    closed: list[str] = []

    def slow() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1]})
        stop.wait(30)  # an engine computing the next batch, until it is interrupted
        raise RuntimeError("INTERRUPT Error: Interrupted!")

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[Result]:
        try:
            schema = pa.schema([("x", pa.int64())])
            yield Result(lambda: pa.RecordBatchReader.from_batches(schema, slow()), stop.set)
        finally:
            closed.append(sql)

    cursors = Cursors(opener, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"the query ran longer than 0.5 s and was stopped"):
        cursors.first("q", 10)
    assert time.monotonic() - started < 10
    assert stop.is_set() and closed == ["q"] and len(cursors) == 0


def test_queries_beyond_the_running_bound_wait_then_are_told_to_ask_again() -> None:
    import threading

    from headwater.errors import ServerBusy

    release = threading.Event()
    entered = threading.Event()

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[pa.RecordBatchReader]:
        if sql == "slow":
            entered.set()
            release.wait(30)
        table = pa.table({"x": [1, 2, 3]})
        yield pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))

    cursors = Cursors(opener, running=1, wait_seconds=0.2)
    pages: list[Any] = []
    slow = threading.Thread(target=lambda: pages.append(cursors.first("slow", 1)))
    slow.start()
    assert entered.wait(10)
    with pytest.raises(ServerBusy, match="the server is computing 1 queries already"):
        cursors.first("fast", 1)
    release.set()
    slow.join(10)
    [first] = pages
    assert first.rows.num_rows == 1 and first.token is not None
    # the next page's turn taken by another query: the same token asks again later
    held = threading.Event()
    done = threading.Event()

    def hold_a_turn() -> None:
        with cursors._turn():
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold_a_turn)
    holder.start()
    assert held.wait(10)
    with pytest.raises(ServerBusy, match="ask again"):
        cursors.next(first.token, 1)
    done.set()
    holder.join(10)
    assert cursors.next(first.token, 1).rows.column("x").to_pylist() == [2]


def test_a_stopping_server_stops_every_page_now_and_later_each_with_its_own_error() -> None:
    import threading

    from headwater.errors import ServerBusy
    from headwater.sql.cursors import Result

    stops = [threading.Event(), threading.Event()]
    entered = threading.Barrier(3)

    def endless(stop: threading.Event) -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1]})
        yield pa.record_batch({"x": [2]})  # read ahead with the first page
        entered.wait(10)
        stop.wait(30)  # an engine computing the next batch, until it is interrupted
        raise RuntimeError("INTERRUPT Error: Interrupted!")

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[Result]:
        stop = stops[int(sql)]
        schema = pa.schema([("x", pa.int64())])
        yield Result(lambda: pa.RecordBatchReader.from_batches(schema, endless(stop)), stop.set)

    cursors = Cursors(opener)
    first = [cursors.first(str(i), 1) for i in range(2)]  # one row each; the rest computes
    raised: list[BaseException] = []

    def ask(token: str | None) -> None:
        try:
            cursors.next(token or "", 5)
        except ServerBusy as exc:
            raised.append(exc)

    askers = [threading.Thread(target=ask, args=(page.token,)) for page in first]
    for asker in askers:
        asker.start()
    entered.wait(10)  # both pages are computing
    cursors.stop_all(lambda: ServerBusy("the server is stopping", hint="ask again later"))
    for asker in askers:
        asker.join(10)
    assert [str(e) for e in raised] == ["the server is stopping — ask again later"] * 2
    assert raised[0] is not raised[1]  # each request raises, and chains, its own error
    assert all(stop.is_set() for stop in stops) and cursors.computing == 0
    # a stopped page's token is gone with its query: asking again says so
    with pytest.raises(QueryError, match="the page token is unknown"):
        cursors.next(first[0].token or "", 5)
    # and a query asked for while the server stops is refused at once
    with pytest.raises(ServerBusy, match="the server is stopping"):
        cursors.first("0", 1)
