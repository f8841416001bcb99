"""How long to wait before retrying a request: exponential backoff with jitter, or Retry-After."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from headwater.project.http import Retries

# statuses worth another try: the server is busy, restarting or overloaded
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def backoff(policy: Retries, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1 = the first retry).

    Half the exponential delay is fixed and half random ("equal jitter"), so clients that
    failed together do not come back together, yet each waits a sensible minimum.
    """
    delay = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: fall back to our own backoff
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
