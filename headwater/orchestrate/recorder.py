"""Task state changes written to the metadata store off the runner's thread.

The runner hands over each scheduling step's changes and goes on; a writer thread commits
whatever has piled up in one transaction. The store therefore lags the run by at most one
commit (milliseconds), and a run's record is complete when :meth:`Recorder.drain` returns.
If the process dies in between, the resumed run re-runs the few tasks whose success was not
yet written: at least once, never lost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from headwater.state.store import Store

Update = tuple[str, dict[str, Any]]


class Recorder:
    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._pending: list[Update] = []
        self._cond = threading.Condition()
        self._writing = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="headwater-recorder", daemon=True)
        self._thread.start()

    def add(self, updates: Sequence[Update]) -> None:
        with self._cond:
            self._raise()
            self._pending.extend(updates)
            self._cond.notify()

    def drain(self) -> None:
        """Wait until everything handed over is committed (raises what the writer met)."""
        with self._cond:
            while self._pending or self._writing:
                self._raise()
                self._cond.wait(0.1)
            self._raise()

    def close(self) -> None:
        self.drain()
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _write(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                batch, self._pending = self._pending, []
                self._writing = True
            try:
                self.store.update_tasks(self.run_id, batch)
            except BaseException as exc:  # handed to the runner's thread at its next call
                with self._cond:
                    self._error = exc
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
