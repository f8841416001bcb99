"""The seven sales offices, fixed at every scale: the original's codes, cities and territories."""

from __future__ import annotations

from collections.abc import Iterator

from headwater.samples.writer import Row

_COLUMNS = (
    "officeCode",
    "city",
    "phone",
    "addressLine1",
    "addressLine2",
    "state",
    "country",
    "postalCode",
    "territory",
)

_OFFICES: tuple[tuple[str | None, ...], ...] = (
    (
        "1",
        "San Francisco",
        "+1 415 555 0142",
        "1 Market Street",
        "Suite 1200",
        "CA",
        "USA",
        "94105",
        "NA",
    ),
    (
        "2",
        "Boston",
        "+1 617 555 0187",
        "200 Clarendon Street",
        "Floor 9",
        "MA",
        "USA",
        "02116",
        "NA",
    ),
    ("3", "NYC", "+1 212 555 0123", "350 Fifth Avenue", "Suite 4100", "NY", "USA", "10118", "NA"),
    (
        "4",
        "Paris",
        "+33 1 55 55 01 47",
        "12 Rue de l'Arcade",
        None,
        None,
        "France",
        "75008",
        "EMEA",
    ),
    (
        "5",
        "Tokyo",
        "+81 3 5555 0190",
        "2-7-1 Marunouchi",
        None,
        "Chiyoda-Ku",
        "Japan",
        "100-0005",
        "Japan",
    ),
    (
        "6",
        "Sydney",
        "+61 2 5550 1234",
        "200 George Street",
        "Level 12",
        None,
        "Australia",
        "NSW 2000",
        "APAC",
    ),
    (
        "7",
        "London",
        "+44 20 7946 0321",
        "30 St Mary Axe",
        "Floor 5",
        None,
        "UK",
        "EC3A 8EP",
        "EMEA",
    ),
)

#: office code -> territory ("NA", "EMEA", "APAC", "Japan")
TERRITORY: dict[str, str] = {str(office[0]): str(office[8]) for office in _OFFICES}

#: office code -> country, used to draw employee names
COUNTRY: dict[str, str] = {str(office[0]): str(office[6]) for office in _OFFICES}


def office_rows() -> Iterator[Row]:
    """The ``offices`` rows."""
    for office in _OFFICES:
        yield dict(zip(_COLUMNS, office, strict=True))
