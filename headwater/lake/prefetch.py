"""Read the next record batches on a background thread while the current ones are written.

Readers (database drivers, DuckDB) and the Parquet writer both release the GIL, so
overlapping them is close to free throughput; the queue bound keeps memory bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import pyarrow as pa

_DONE = object()


def prefetch(
    reader: pa.RecordBatchReader,
    transform: Callable[[pa.RecordBatch], pa.RecordBatch],
    schema: pa.Schema,
    depth: int = 2,
) -> pa.RecordBatchReader:
    """A reader yielding ``transform(batch)`` for each batch of ``reader``, read ahead by ``depth``."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                if stop.is_set():
                    return
                item: object = transform(batch)
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # handed to the consumer, which re-raises it
            slots.put(exc)
            return
        slots.put(_DONE)

    def consume() -> Iterator[pa.RecordBatch]:
        thread = threading.Thread(target=produce, name="headwater-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item = slots.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, pa.RecordBatch)
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    slots.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.1)

    return pa.RecordBatchReader.from_batches(schema, consume())
