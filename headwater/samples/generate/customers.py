"""Customers: shops around the world, most with a sales rep from their territory and a credit line.

Like the original, about one customer in five has no sales rep, a credit limit of 0.00 and no
orders or payments; most have no second address line, non-American customers mostly no state,
and a few countries no postal codes.
"""

from __future__ import annotations

from collections.abc import Iterator

from headwater.samples.generate.draw import cents, chance, integer, pick, stream
from headwater.samples.generate.employees import SALES_REP, staff
from headwater.samples.generate.keys import customer_active, customer_number
from headwater.samples.generate.names import company, person
from headwater.samples.generate.places import SECOND_LINES, WEIGHTED_COUNTRIES, address_line, fill
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row

_SECOND_LINE_SHARE = 0.18
_MISSING_POSTAL_SHARE = 0.02


def customer_rows(plan: Plan) -> Iterator[Row]:
    """The ``customers`` rows, in increasing ``customerNumber``."""
    rng = stream(plan.seed, "customers")
    reps = [employee for employee in staff(plan) if employee.title == SALES_REP]
    by_territory: dict[str, list[int]] = {}
    for rep in reps:
        by_territory.setdefault(rep.territory, []).append(rep.number)
    everyone = [rep.number for rep in reps]

    for index in range(plan.customers):
        country = WEIGHTED_COUNTRIES.draw(rng)
        city, state = pick(rng, country.cities)
        first, last = person(rng, country.language)
        second_line = None
        if chance(rng, _SECOND_LINE_SHARE):
            second_line = pick(rng, SECOND_LINES).format(n=integer(rng, 1, 40))
        postal = None
        if country.postal is not None and not chance(rng, _MISSING_POSTAL_SHARE):
            postal = fill(rng, country.postal)
        active = customer_active(plan.seed, index)
        sales_rep = pick(rng, by_territory.get(country.territory) or everyone) if active else None
        # credit lines are whole hundreds of dollars, mostly modest, a few above 200,000
        credit = 100 * (100 + int(2200 * rng.random() ** 1.3)) if active else 0
        yield {
            "customerNumber": customer_number(plan.seed, index),
            "customerName": company(rng, country.company_suffixes),
            "contactLastName": last,
            "contactFirstName": first,
            "phone": fill(rng, country.phone),
            "addressLine1": address_line(rng, country),
            "addressLine2": second_line,
            "city": city,
            "state": state,
            "postalCode": postal,
            "country": country.name,
            "salesRepEmployeeNumber": sales_rep,
            "creditLimit": cents(100 * credit),
        }
