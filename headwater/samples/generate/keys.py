"""Facts one table needs about another's rows, computed from (seed, index) without storing them.

Orders pick customers and order lines pick products by index; the customer's number and the
product's code and price are pure functions of the seed and that index, so the generator never
holds a table in memory and every table can be streamed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from headwater.samples.generate.catalog import WEIGHTED_LINES
from headwater.samples.generate.draw import keyed_units

#: share of customers that never got a sales rep, credit or an order (about 1 in 5 originally)
INACTIVE_SHARE = 0.2

_FIRST_CUSTOMER = 103
_CODE_STEP = 7919  # a prime: coprime with every block size 9 * 10**k, so a bijection per block


@dataclass(frozen=True)
class ProductKey:
    """What order lines need to know about product ``index``."""

    code: str
    line: str
    scale: str
    msrp_cents: int


def customer_number(seed: int, index: int) -> int:
    """``customerNumber`` of customer ``index``: increasing, unique, with small gaps (103, 112…)."""
    return _FIRST_CUSTOMER + 3 * index + int(3 * keyed_units(seed, "customer", index)[0])


def customer_active(seed: int, index: int) -> bool:
    """Whether customer ``index`` has a sales rep, credit, orders and payments (index 0 has)."""
    return index == 0 or keyed_units(seed, "customer", index)[1] >= INACTIVE_SHARE


@lru_cache(maxsize=1 << 14)
def product_key(seed: int, index: int) -> ProductKey:
    """Code, line, scale and MSRP of product ``index`` (cached up to a fixed number of products)."""
    u_line, u_scale, u_price, _ = keyed_units(seed, "product", index)
    line = WEIGHTED_LINES.at(u_line)
    scale = line.scales[int(len(line.scales) * u_scale)]
    low, high = line.msrp
    msrp_cents = 100 * low + int(100 * (high - low) * u_price)
    number = _code_number(index, int(9000 * keyed_units(seed, "product-code", 0)[0]))
    return ProductKey(f"S{scale.split(':')[1]}_{number}", line.name, scale, msrp_cents)


def _code_number(index: int, offset: int) -> int:
    """A distinct number per index: 4 digits for the first 9000, then 5 digits, and so on."""
    low, size = 1000, 9000
    while index >= size:
        index -= size
        low, size = low * 10, size * 10
    return low + (index * _CODE_STEP + offset) % size
