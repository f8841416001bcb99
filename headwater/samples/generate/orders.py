"""Orders: numbered from 10100 in date order, almost all shipped, the recent ones still open.

Statuses follow the original's story: old orders are Shipped, a few Cancelled or Resolved;
orders from 2005 can be On Hold or Disputed; orders of the last month are often In Process.
``shippedDate`` is NULL for orders that have not shipped, and comments are mostly NULL.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from headwater.samples.generate import comments
from headwater.samples.generate.calendar import order_date
from headwater.samples.generate.draw import Weighted, chance, integer, pick, stream
from headwater.samples.generate.keys import customer_active, customer_number
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row

FIRST_ORDER_NUMBER = 10100

STATUSES = ("Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process")

_OLD = Weighted([("Shipped", 96.5), ("Cancelled", 2.0), ("Resolved", 1.5)])
_THIS_YEAR = Weighted([("Shipped", 88.0), ("On Hold", 5.0), ("Disputed", 4.0), ("Resolved", 3.0)])
_LAST_MONTH = Weighted(
    [("Shipped", 40.0), ("In Process", 45.0), ("On Hold", 8.0), ("Disputed", 7.0)]
)
_THIS_YEAR_FROM = date(2005, 1, 1)
_LAST_MONTH_FROM = date(2005, 5, 1)

#: an index drawn as ``customers * u**skew``: long-standing customers order more
_CUSTOMER_SKEW = 1.4


def order_rows(plan: Plan) -> Iterator[Row]:
    """The ``orders`` rows, in increasing ``orderNumber`` and ``orderDate``."""
    rng = stream(plan.seed, "orders")
    for position in range(plan.orders):
        ordered = order_date((position + rng.random()) / plan.orders)
        status = _status(rng, ordered)
        shipped = _shipped(rng, ordered, status)
        yield {
            "orderNumber": FIRST_ORDER_NUMBER + position,
            "orderDate": ordered,
            "requiredDate": ordered + timedelta(days=integer(rng, 6, 12)),
            "shippedDate": shipped,
            "status": status,
            "comments": _comment(rng, status, shipped or ordered),
            "customerNumber": customer_number(plan.seed, _customer(rng, plan)),
        }


def _status(rng: random.Random, ordered: date) -> str:
    if ordered >= _LAST_MONTH_FROM:
        return _LAST_MONTH.draw(rng)
    if ordered >= _THIS_YEAR_FROM:
        return _THIS_YEAR.draw(rng)
    return _OLD.draw(rng)


def _shipped(rng: random.Random, ordered: date, status: str) -> date | None:
    if status in ("In Process", "On Hold"):
        return None
    if status == "Cancelled" and not chance(rng, 1 / 3):
        return None
    late = chance(rng, 0.01)
    return ordered + timedelta(days=integer(rng, 20, 65) if late else integer(rng, 1, 6))


def _comment(rng: random.Random, status: str, shipped: date) -> str | None:
    if status == "Shipped":
        return pick(rng, comments.SHIPPED) if chance(rng, 0.22) else None
    if status == "In Process":
        return pick(rng, comments.IN_PROCESS) if chance(rng, 0.3) else None
    if status == "Resolved":
        return comments.resolved(rng, shipped + timedelta(days=integer(rng, 10, 40)))
    by_status = {"Cancelled": comments.CANCELLED, "Disputed": comments.DISPUTED}
    return pick(rng, by_status.get(status, comments.ON_HOLD))


def _customer(rng: random.Random, plan: Plan) -> int:
    """An active customer's index; the first customer is always active, so this ends."""
    for _ in range(64):
        index = int(plan.customers * rng.random() ** _CUSTOMER_SKEW)
        if customer_active(plan.seed, index):
            return index
    return 0
