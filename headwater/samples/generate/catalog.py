"""What the company sells: per product line its scales, price band, models and selling points."""

from __future__ import annotations

import random
from dataclasses import dataclass

from headwater.samples.generate.draw import Weighted, chance, integer, pick, sample


def _items(text: str) -> tuple[str, ...]:
    return tuple(text.split("; "))


@dataclass(frozen=True)
class Line:
    """One product line as the generator sees it."""

    name: str
    #: share of the catalogue, as in the original
    weight: float
    scales: tuple[str, ...]
    #: MSRP band in dollars
    msrp: tuple[int, int]
    models: tuple[str, ...]
    #: model years; None for lines whose names carry no year
    years: tuple[int, int] | None
    features: tuple[str, ...]

    def product_name(self, rng: random.Random) -> str:
        """A product name of at most 70 characters, e.g. ``1968 Ford Mustang``."""
        model = pick(rng, self.models)
        if self.years is not None:
            model = f"{integer(rng, *self.years)} {model}"
        if chance(rng, 0.15):
            model = f"{model} {pick(rng, EDITIONS)}"
        return model[:70]

    def description(self, rng: random.Random) -> str:
        """A product description: a few of the line's features and a closing sentence."""
        chosen = [self.features[i] for i in sample(rng, len(self.features), integer(rng, 2, 4))]
        text = "; ".join(chosen)
        return f"{text[:1].upper()}{text[1:]}. {pick(rng, CLOSINGS)}"


EDITIONS = _items("Limited Edition; Convertible; Special Edition; Racing Livery; Gold Edition")

CLOSINGS = _items(
    "Comes fully assembled with a display stand.; "
    "Includes a certificate of authenticity.; "
    "Hand-finished and individually numbered.; "
    "Materials: die-cast metal with plastic parts.; "
    'Measures about 9 1/2" long.; '
    "Ideal for the office, the den or the classroom."
)

VENDORS = _items(
    "Redline Diecast Works; Harbour Scale Models; Apex Miniatures; Silverline Collectibles; "
    "Motorhead Replicas; Blue Anchor Models; Autohaus Modellbau; Petite Voiture Atelier; "
    "Kyoto Precision Models; Gearwheel Classics; Summit Scale Art; Northstar Diecast; "
    "Vintage Lane Creations"
)

LINES: tuple[Line, ...] = (
    Line(
        "Classic Cars",
        38,
        _items("1:10; 1:12; 1:18; 1:18; 1:18; 1:24"),
        (70, 215),
        _items(
            "Ford Mustang; Ferrari Testarossa; Chevrolet Camaro Z28; Dodge Charger; "
            "Plymouth Road Runner; Aston Martin DB5; Porsche 911 Carrera; Jaguar E-Type; "
            "Alfa Romeo Spider; Lamborghini Countach; Mercedes-Benz 300SL; Citroën DS 21; "
            "BMW 2002; Shelby Cobra 427; Pontiac GTO; Chevrolet Corvette Stingray; Toyota 2000GT; "
            "Datsun 240Z; Lancia Stratos; Alpine Renault A110; Volkswagen Karmann Ghia"
        ),
        (1952, 2004),
        _items(
            "opening doors, hood and trunk; detailed engine; steerable front wheels; "
            "rubber tires on spoked rims; detailed interior with dashboard gauges; "
            "working suspension; chrome bumpers and trim; two-tone paint with clear coat"
        ),
    ),
    Line(
        "Vintage Cars",
        24,
        _items("1:18; 1:18; 1:24; 1:24; 1:32"),
        (30, 180),
        _items(
            "Ford Model T; Bugatti Type 35; Duesenberg Model J; Cadillac V-16 Limousine; "
            "Packard Twelve; Rolls-Royce Silver Ghost; Mercedes-Benz SSK; Buick Runabout; "
            "Hispano-Suiza H6; Pierce-Arrow Roadster; Austin Seven; Horch 853 Cabriolet; "
            "Lincoln Model K; Bentley Blower"
        ),
        (1903, 1949),
        _items(
            "folding canvas roof; wooden running boards; brass headlamps; spare wheel on the side; "
            "leather-look seats; opening engine covers; working crank"
        ),
    ),
    Line(
        "Motorcycles",
        13,
        _items("1:10; 1:12; 1:18; 1:24; 1:32; 1:50"),
        (60, 195),
        _items(
            "Harley-Davidson Fat Boy; Ducati Monster 900; Triumph Bonneville; BMW R 75/5; "
            "Honda CB750; Kawasaki Z1; Vespa GS150; Moto Guzzi Le Mans; Indian Chief; "
            "Norton Commando; Yamaha YZF-R1; Suzuki Hayabusa; BSA Gold Star"
        ),
        (1936, 2004),
        _items(
            "working kickstand; front suspension; gear-shift and brake levers; drive chain; "
            "rotating wheels; chrome exhaust pipes; leather saddle bags"
        ),
    ),
    Line(
        "Planes",
        12,
        _items("1:24; 1:72; 1:72; 1:700; 1:700"),
        (50, 160),
        _items(
            "Supermarine Spitfire Mk IX; P-51D Mustang; Boeing 747-400; Douglas DC-3; "
            "Lockheed Constellation; Concorde; Fokker Dr.I Triplane; Sopwith Camel; F-14 Tomcat; "
            "Airbus A320; Corsair F4U; Bell UH-1 Huey Helicopter"
        ),
        None,
        _items(
            "official logos and insignias; rotating propellers; retractable landing gear; "
            "10-inch wingspan; opening cockpit canopy; pilot figure included"
        ),
    ),
    Line(
        "Ships",
        9,
        _items("1:72; 1:700; 1:700; 1:24"),
        (55, 125),
        _items(
            "HMS Victory; The Cutty Sark; USS Constitution; The Mayflower; Santa María; "
            "RMS Queen Elizabeth; Endeavour Bark; Vasa Warship; Riva Aquarama Speed Boat; "
            "Amerigo Vespucci"
        ),
        None,
        _items(
            "all wood with canvas sails; full rigging; long boats and anchors; three masts; "
            "brass fittings; display cradle"
        ),
    ),
    Line(
        "Trains",
        3,
        _items("1:18; 1:32; 1:50"),
        (60, 105),
        _items(
            "Flying Scotsman Locomotive; Union Pacific Big Boy; Orient Express Dining Car; "
            "Wooden Toy Train Set; Mallard A4 Pacific; Shinkansen 0 Series; PCC Streetcar"
        ),
        None,
        _items(
            "rolling wheels; detailed cab; coupling hooks; painted wood and metal; "
            "interior lighting; track section included"
        ),
    ),
    Line(
        "Trucks and Buses",
        11,
        _items("1:12; 1:18; 1:24; 1:32; 1:50"),
        (55, 140),
        _items(
            "Ford F-100 Pickup; Mack Fire Engine; Volkswagen Type 2 Microbus; "
            "Routemaster Double Decker Bus; Kenworth W900 Tanker; Peterbilt 379 Flatbed; "
            "Greyhound Scenicruiser; Citroën H Van; Chevrolet Delivery Van; Unimog 406"
        ),
        (1920, 2004),
        _items(
            "opening cab doors; detailed chassis; period markings; working ladder; "
            "tilting trailer; rubber tires; sliding side door"
        ),
    ),
)

LINES_BY_NAME: dict[str, Line] = {line.name: line for line in LINES}

WEIGHTED_LINES: Weighted[Line] = Weighted([(line, line.weight) for line in LINES])
