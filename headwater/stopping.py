"""Stopping a command from outside: SIGTERM is handled as Ctrl-C is.

:class:`Terminated` is a ``KeyboardInterrupt``, so every place that stops cleanly on Ctrl-C
(the runner cancels its tasks, a run is recorded ``cancelled``, staged files are deleted)
does the same on SIGTERM; the command then exits 143 instead of 130.
"""

from __future__ import annotations

import signal
import threading
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
