"""The seven product lines: fixed at every scale, with descriptions written for Headwater."""

from __future__ import annotations

from collections.abc import Iterator

from headwater.samples.writer import Row

DESCRIPTIONS: dict[str, str] = {
    "Classic Cars": (
        "Die-cast replicas of the muscle cars, roadsters and grand tourers collectors dream "
        "about, from post-war coupés to modern supercars. Opening doors, hoods and trunks, "
        "detailed engines and steerable wheels; scales from 1:10 to 1:24."
    ),
    "Motorcycles": (
        "Street, racing and touring motorcycles reproduced down to the spokes, chains and "
        "gauges. Working kickstands and suspensions, chrome and leather details; scales from "
        "1:10 to 1:50."
    ),
    "Planes": (
        "Airliners, fighters and vintage biplanes with official liveries, turning propellers "
        "and retractable landing gear, shipped with a display stand."
    ),
    "Ships": (
        "Hand-finished sailing ships, liners and yachts in wood and metal, with rigging, "
        "lifeboats and canvas sails: a centrepiece for any office."
    ),
    "Trains": (
        "Locomotives, streetcars and rolling stock for collectors and young enthusiasts alike, "
        "in wood and die-cast metal, ready for display or for the layout."
    ),
    "Trucks and Buses": (
        "Delivery trucks, tankers, fire engines and coaches from the 1920s to today, with "
        "opening cabs, detailed chassis and period-correct markings."
    ),
    "Vintage Cars": (
        "Automobiles of the brass era and the golden age of motoring, from runabouts to "
        "limousines, in die-cast metal with wooden and Bakelite details."
    ),
}

LINES: tuple[str, ...] = tuple(DESCRIPTIONS)


def productline_rows() -> Iterator[Row]:
    """The ``productlines`` rows (no HTML description or image, like the original)."""
    for line, text in DESCRIPTIONS.items():
        yield {"productLine": line, "textDescription": text, "htmlDescription": None, "image": None}
