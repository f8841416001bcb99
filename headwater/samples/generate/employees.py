"""The staff: a president, two VPs, three regional sales managers and the sales reps.

The hierarchy is the original's: reps report to their territory's manager (Japan's straight to
the VP Sales), managers to the VP Sales, the VPs to the president, whose ``reportsTo`` is NULL.
The staff list grows with the square root of the scale, so it stays small enough to hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from headwater.samples.generate.draw import Weighted, integer, stream
from headwater.samples.generate.names import ascii_fold, person
from headwater.samples.generate.offices import COUNTRY, TERRITORY
from headwater.samples.generate.plan import Plan
from headwater.samples.writer import Row

SALES_REP = "Sales Rep"

_LANGUAGE = {"USA": "en", "UK": "en", "Australia": "en", "France": "fr", "Japan": "ja"}
#: the first reps cover every office, so every territory has someone to sell
_FIRST_OFFICES = ("4", "1", "6", "2", "7", "3", "5")
_REP_OFFICES = Weighted([("1", 2), ("2", 2), ("3", 2), ("4", 5), ("5", 2), ("6", 3), ("7", 2)])
_MANAGERS = (
    ("1", "Sales Manager (NA)"),
    ("4", "Sales Manager (EMEA)"),
    ("6", "Sales Manager (APAC)"),
)


@dataclass(frozen=True)
class Employee:
    """One ``employees`` row."""

    number: int
    last_name: str
    first_name: str
    extension: str
    email: str
    office: str
    reports_to: int | None
    title: str

    @property
    def territory(self) -> str:
        return TERRITORY[self.office]

    def row(self) -> Row:
        return {
            "employeeNumber": self.number,
            "lastName": self.last_name,
            "firstName": self.first_name,
            "extension": self.extension,
            "email": self.email,
            "officeCode": self.office,
            "reportsTo": self.reports_to,
            "jobTitle": self.title,
        }


def staff(plan: Plan) -> list[Employee]:
    """Every employee of the plan, in increasing ``employeeNumber``."""
    rng = stream(plan.seed, "employees")
    people: list[Employee] = []

    def hire(office: str, reports_to: int | None, title: str) -> Employee:
        number = 1002 if not people else people[-1].number + integer(rng, 10, 60)
        first, last = person(rng, _LANGUAGE[COUNTRY[office]])
        email = f"{ascii_fold(first)[:1]}{ascii_fold(last)[:8]}@classicmodelcars.com"
        extension = f"x{integer(rng, 1000, 9999)}"
        people.append(Employee(number, last, first, extension, email, office, reports_to, title))
        return people[-1]

    president = hire("1", None, "President")
    vp_sales = hire("1", president.number, "VP Sales")
    hire("1", president.number, "VP Marketing")
    managers = {
        TERRITORY[office]: hire(office, vp_sales.number, title) for office, title in _MANAGERS
    }
    for index in range(plan.sales_reps):
        office = _FIRST_OFFICES[index] if index < len(_FIRST_OFFICES) else _REP_OFFICES.draw(rng)
        manager = managers.get(TERRITORY[office], vp_sales)
        hire(office, manager.number, SALES_REP)
    return people


def employee_rows(plan: Plan) -> Iterator[Row]:
    """The ``employees`` rows."""
    for employee in staff(plan):
        yield employee.row()
