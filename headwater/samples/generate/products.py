"""Products: scale models with a code such as ``S18_1749``, a line, a vendor and two prices.

Code, line, scale and MSRP come from :func:`~headwater.samples.generate.keys.product_key`, so
order lines can price a product without the table in memory; the buying price is 40 to 70 % of
the MSRP, always below it.
"""

from __future__ import annotations

from collections.abc import Iterator

from headwater.samples.generate.catalog import LINES_BY_NAME, VENDORS
from headwater.samples.generate.draw import cents, integer, pick, stream
from headwater.samples.generate.keys import product_key
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row


def product_rows(plan: Plan) -> Iterator[Row]:
    """The ``products`` rows."""
    rng = stream(plan.seed, "products")
    for index in range(plan.products):
        key = product_key(plan.seed, index)
        line = LINES_BY_NAME[key.line]
        name = line.product_name(rng)
        buy_cents = int(key.msrp_cents * (0.40 + 0.30 * rng.random()))
        yield {
            "productCode": key.code,
            "productName": name,
            "productLine": key.line,
            "productScale": key.scale,
            "productVendor": pick(rng, VENDORS),
            "productDescription": line.description(rng),
            "quantityInStock": integer(rng, 15, 9997),
            "buyPrice": cents(buy_cents),
            "MSRP": cents(key.msrp_cents),
        }
