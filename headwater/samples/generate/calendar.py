"""When orders are placed: 2003-01-06 to 2005-05-31, busier each year and each autumn.

Orders are numbered in date order, so an order's date is the calendar's quantile at the
order's position: dates never go backwards and the seasonal shape is the same at every scale.
"""

from __future__ import annotations

import bisect
import itertools
from datetime import date, timedelta

FIRST_ORDER = date(2003, 1, 6)
LAST_ORDER = date(2005, 5, 31)

_MONTH = (1.0, 0.9, 1.0, 1.0, 1.0, 1.1, 1.1, 1.0, 1.1, 1.8, 3.6, 1.2)
_YEAR = {2003: 0.8, 2004: 1.2, 2005: 1.3}

_DAYS = tuple(
    FIRST_ORDER + timedelta(days=offset) for offset in range((LAST_ORDER - FIRST_ORDER).days + 1)
)
_CUMULATIVE = tuple(itertools.accumulate(_MONTH[day.month - 1] * _YEAR[day.year] for day in _DAYS))


def order_date(quantile: float) -> date:
    """The day at ``quantile`` in [0, 1) of all orders."""
    position = bisect.bisect_right(_CUMULATIVE, quantile * _CUMULATIVE[-1])
    return _DAYS[min(position, len(_DAYS) - 1)]
