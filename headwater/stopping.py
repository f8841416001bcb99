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
def stop_gracefully() -> Iterator[threading.Event]:
    """While the block runs, the first Ctrl-C or SIGTERM sets the event it yields instead of
    interrupting (a long-running loop finishes the work in hand, then returns); a second one
    interrupts as usual. Outside the main thread, the event is only set by its owner."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def asked(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        stop.set()

    before = {s: signal.signal(s, asked) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
