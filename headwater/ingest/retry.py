"""Retry a load that failed on a transient error: nothing was published, so it is safe."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from headwater.errors import TransientError

T = TypeVar("T")
log = logging.getLogger(__name__)


def with_retries(
    work: Callable[[], T],
    attempts: int,
    delay: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work``; after a :class:`TransientError`, wait (exponential, with jitter) and run it
    again, ``attempts`` times in all. The last error is raised with the count in its message."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except TransientError as exc:
            if attempt == attempts:
                if attempts > 1:
                    exc.message = f"{exc.message} (gave up after {attempts} attempts)"
                    hint = f" — {exc.hint}" if exc.hint else ""
                    exc.args = (exc.message + hint,)
                raise
            wait = delay * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.warning("%s: %s; attempt %d of %d in %.1fs", what, exc, attempt + 1, attempts, wait)
            sleep(wait)
    raise AssertionError("unreachable")
