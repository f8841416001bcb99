"""Payments: two to four cheques per active customer, a few big accounts paying often."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from headwater.samples.generate.draw import Weighted, cents, integer, stream
from headwater.samples.generate.keys import customer_active, customer_number
from headwater.samples.generate.places import fill
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row

FIRST_PAYMENT = date(2003, 1, 16)
LAST_PAYMENT = date(2005, 6, 9)

#: payments per active customer, shaped like the original (mean ≈ 2.8)
PAYMENTS_PER_CUSTOMER = Weighted([(1, 4), (2, 41), (3, 39), (4, 12), (9, 1), (13, 1)])

_CHECK_FORMATS = ("@@#####", "@@######")


def payment_rows(plan: Plan) -> Iterator[Row]:
    """The ``payments`` rows, customer by customer; check numbers are unique per customer."""
    rng = stream(plan.seed, "payments")
    span = (LAST_PAYMENT - FIRST_PAYMENT).days
    for index in range(plan.customers):
        if not customer_active(plan.seed, index):
            continue
        number = customer_number(plan.seed, index)
        checks: set[str] = set()
        for _ in range(PAYMENTS_PER_CUSTOMER.draw(rng)):
            check = _check(rng)
            while check in checks:
                check = _check(rng)
            checks.add(check)
            # amounts from about 1,000 to 120,000, most of them modest
            amount = 100_000 + int(11_900_000 * rng.random() ** 1.8)
            yield {
                "customerNumber": number,
                "checkNumber": check,
                "paymentDate": FIRST_PAYMENT + timedelta(days=integer(rng, 0, span)),
                "amount": cents(amount),
            }


def _check(rng: random.Random) -> str:
    return fill(rng, _CHECK_FORMATS[integer(rng, 0, 1)])
