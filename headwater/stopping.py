"""Stopping a command from outside: SIGTERM is handled as Ctrl-C is.

:class:`Terminated` is a ``KeyboardInterrupt``, so every place that stops cleanly on Ctrl-C
(the runner cancels its tasks, a run is recorded ``cancelled``, staged files are deleted)
does the same on SIGTERM; the command then exits 143 instead of 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process was sent SIGTERM."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def stop_on_sigterm() -> None:
    """Raise :class:`Terminated` in the main thread on SIGTERM (from the main thread only:
    Python delivers signals there)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def stop_event_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGINT or SIGTERM while the block runs, instead of raising: for a
    long-running command that finishes its work in hand and exits 0 (from the main thread
    only; elsewhere the block runs unchanged). The previous handlers come back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def _set(signum: int, frame: FrameType | None) -> None:
        stop.set()

    before = {s: signal.signal(s, _set) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
