"""Client-side limits of one API: requests per second, requests in flight, server-asked pauses.

One :class:`Limits` per API in the process (keyed by base URL), so every endpoint, every
thread and every table of a run draws from the same budget, as the server counts them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


class TokenBucket:
    """``rate`` requests per second, bursts of at most ``burst``.

    The default burst of one spaces requests evenly, so no one-second window (which is how
    servers usually count) ever sees more than ``rate`` of them.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one request may go."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)


class Limits:
    """The rate, the concurrency and any pause a server asked for (``Retry-After``)."""

    def __init__(self, rate: float | None, concurrency: int) -> None:
        self.bucket = TokenBucket(rate) if rate else None
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)
        self._resume_at = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """Hold every request of this API for ``seconds`` (a 429 concerns the client, not one call)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    @contextmanager
    def slot(self, bounded: bool = True) -> Iterator[None]:
        """Wait for a pause to end, a free slot and a token; the slot is held until exit.

        ``bounded=False`` skips the concurrency slot: for a request made while a slot is
        already held (a token refresh), which would otherwise wait for itself.
        """
        while (wait := self._resume_at - time.monotonic()) > 0:
            time.sleep(wait)
        with self._slots if bounded else nullcontext():
            if self.bucket is not None:
                self.bucket.acquire()
            yield


_REGISTRY: dict[tuple[str, float | None, int], Limits] = {}
_REGISTRY_LOCK = threading.Lock()


def limits_for(base_url: str, rate: float | None, concurrency: int) -> Limits:
    """The process-wide limits of the API at ``base_url`` with these settings."""
    key = (base_url.rstrip("/"), rate, concurrency)
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = Limits(rate, concurrency)
        return _REGISTRY[key]
