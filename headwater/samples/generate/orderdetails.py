"""Order lines: about nine distinct products per order, priced at 80 to 100 % of their MSRP."""

from __future__ import annotations

from collections.abc import Iterator

from headwater.samples.generate.draw import Weighted, cents, chance, integer, sample, stream
from headwater.samples.generate.keys import product_key
from headwater.samples.generate.orders import FIRST_ORDER_NUMBER
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row

#: lines per order, shaped like the original (mean ≈ 9.2)
LINES_PER_ORDER = Weighted(
    [
        (1, 17), (2, 22), (3, 14), (4, 17), (5, 18), (6, 26), (7, 11), (8, 24), (9, 28),
        (10, 15), (11, 20), (12, 13), (13, 19), (14, 25), (15, 14), (16, 17), (17, 15), (18, 11),
    ]
)  # fmt: skip


def orderdetail_rows(plan: Plan) -> Iterator[Row]:
    """The ``orderdetails`` rows, order by order, lines numbered 1..n."""
    rng = stream(plan.seed, "orderdetails")
    for position in range(plan.orders):
        order_number = FIRST_ORDER_NUMBER + position
        wanted = LINES_PER_ORDER.draw(rng)
        for line_number, index in enumerate(sample(rng, plan.products, wanted), start=1):
            product = product_key(plan.seed, index)
            quantity = integer(rng, 6, 97) if chance(rng, 0.1) else integer(rng, 20, 50)
            yield {
                "orderNumber": order_number,
                "productCode": product.code,
                "quantityOrdered": quantity,
                "priceEach": cents(int(product.msrp_cents * (0.80 + 0.20 * rng.random()))),
                "orderLineNumber": line_number,
            }
