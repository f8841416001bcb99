"""How many rows of each kind one generated classicmodels dataset holds, from scale and seed."""

from __future__ import annotations

import math
from dataclasses import dataclass

from headwater.errors import HeadwaterError

#: the original sample database at scale 1
CUSTOMERS_PER_SCALE = 122
PRODUCTS_PER_SCALE = 110
ORDERS_PER_SCALE = 326
#: sales reps grow with the square root of the scale: a bigger business, not a bigger staff list
SALES_REPS_AT_SCALE_1 = 17


@dataclass(frozen=True)
class Plan:
    """The sizes of one dataset; every row is a function of this plan alone."""

    seed: int
    scale: float
    customers: int
    products: int
    orders: int
    sales_reps: int

    @classmethod
    def of(cls, scale: float, seed: int) -> Plan:
        """The plan for ``scale`` (1 ≈ the original's size) and ``seed``."""
        if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
            raise HeadwaterError(
                f"scale must be a positive number, got {scale!r}",
                hint="1 is the original's size, 0.1 a tenth of it, 100 about 300,000 order lines",
            )
        return cls(
            seed=seed,
            scale=float(scale),
            customers=max(1, round(CUSTOMERS_PER_SCALE * scale)),
            products=max(1, round(PRODUCTS_PER_SCALE * scale)),
            orders=max(1, round(ORDERS_PER_SCALE * scale)),
            sales_reps=max(1, round(SALES_REPS_AT_SCALE_1 * math.sqrt(scale))),
        )
