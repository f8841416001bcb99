"""A classicmodels-shaped dataset generated from a seed and a scale, one stream per table.

Every table is an independent, deterministic stream of rows (its own random stream derived from
the seed); what one table needs of another comes from :mod:`.keys`, so nothing is held in
memory and the tables can be written in any order, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from headwater.samples.generate.customers import customer_rows
from headwater.samples.generate.employees import employee_rows
from headwater.samples.generate.offices import office_rows
from headwater.samples.generate.orderdetails import orderdetail_rows
from headwater.samples.generate.orders import order_rows
from headwater.samples.generate.payments import payment_rows
from headwater.samples.generate.plan import Plan
from headwater.samples.generate.productlines import productline_rows
from headwater.samples.generate.products import product_rows
from headwater.samples.writer import Row

__all__ = ["GENERATORS", "Plan", "generated_rows"]

#: table name -> the function streaming its rows
GENERATORS: dict[str, Callable[[Plan], Iterator[Row]]] = {
    "offices": lambda plan: office_rows(),
    "productlines": lambda plan: productline_rows(),
    "employees": employee_rows,
    "customers": customer_rows,
    "products": product_rows,
    "orders": order_rows,
    "orderdetails": orderdetail_rows,
    "payments": payment_rows,
}


def generated_rows(plan: Plan) -> dict[str, Iterator[Row]]:
    """One lazy row stream per table for ``plan``."""
    return {name: generate(plan) for name, generate in GENERATORS.items()}
