"""Deterministic random draws built only on ``random.Random.random()``.

Python guarantees that ``random()`` yields the same sequence for the same seed across
versions, but not ``randrange``, ``choice`` or ``sample``; building every draw on ``random()``
keeps a generated dataset identical for a seed and scale on any Python. Cross-table facts
(a customer's number, a product's code and price) come from :func:`keyed_units`, a stateless
hash of (seed, kind, index), so one table can refer to another's rows without holding them.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Generic, TypeVar

T = TypeVar("T")

_UNIT = float(1 << 64)


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream for one table or concern, derived from ``seed``."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def keyed_units(seed: int, kind: str, index: int) -> tuple[float, float, float, float]:
    """Four independent uniform [0, 1) values that depend only on the arguments."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=32).digest()
    a, b, c, d = (int.from_bytes(digest[i : i + 8], "big") / _UNIT for i in range(0, 32, 8))
    return a, b, c, d


def integer(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]``."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """A uniform choice from ``items``."""
    return items[int(rng.random() * len(items))]


def chance(rng: random.Random, probability: float) -> bool:
    """True with ``probability``."""
    return rng.random() < probability


def sample(rng: random.Random, population: int, k: int) -> list[int]:
    """``k`` distinct integers from ``range(population)`` in random order, in O(k) memory.

    A sparse Fisher-Yates shuffle: only the swapped positions are remembered.
    """
    swapped: dict[int, int] = {}
    chosen: list[int] = []
    for i in range(min(k, population)):
        j = i + int(rng.random() * (population - i))
        chosen.append(swapped.get(j, j))
        swapped[j] = swapped.get(i, i)
    return chosen


def cents(amount: int) -> Decimal:
    """``amount`` cents as a two-place Decimal, exactly (``12300`` -> ``Decimal('123.00')``)."""
    return Decimal(amount).scaleb(-2)


class Weighted(Generic[T]):
    """A fixed weighted choice, drawn by inverting the cumulative weights of a uniform value."""

    def __init__(self, weighted: Sequence[tuple[T, float]]) -> None:
        self.items = tuple(item for item, _ in weighted)
        self.cumulative = tuple(itertools.accumulate(weight for _, weight in weighted))

    def at(self, unit: float) -> T:
        """The item at ``unit`` in [0, 1) of the cumulative weight."""
        position = bisect.bisect_right(self.cumulative, unit * self.cumulative[-1])
        return self.items[min(position, len(self.items) - 1)]

    def draw(self, rng: random.Random) -> T:
        """One weighted choice from ``rng``."""
        return self.at(rng.random())
