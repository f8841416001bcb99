"""Countries customers live in: cities, address and phone formats, and how often each occurs.

Formats use ``#`` for a digit and ``@`` for an upper-case letter. The weights follow the
original's mix of customers per country; the places carry the accents and letters (ä, å, é,
ñ, ø, ß) real addresses have, so a loader that mangles non-ASCII text shows it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from headwater.samples.generate.draw import Weighted, integer, pick


@dataclass(frozen=True)
class Country:
    """One country customers can be in."""

    name: str
    weight: float
    territory: str
    #: (city, state or None)
    cities: tuple[tuple[str, str | None], ...]
    streets: tuple[str, ...]
    #: "{n} {street}" or "{street} {n}"
    street_format: str
    phone: str
    #: None: the country's customers have no postal code
    postal: str | None
    #: names come from this language's pools in ``names``
    language: str
    #: company-name endings used here
    company_suffixes: tuple[str, ...]


def fill(rng: random.Random, pattern: str) -> str:
    """``pattern`` with each ``#`` a random digit and each ``@`` a random capital letter."""
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(integer(rng, 0, 9)))
        elif char == "@":
            out.append(chr(ord("A") + integer(rng, 0, 25)))
        else:
            out.append(char)
    return "".join(out)


def address_line(rng: random.Random, country: Country) -> str:
    """A street address in the country's format."""
    return country.street_format.format(n=integer(rng, 1, 999), street=pick(rng, country.streets))


_EN_SUFFIXES = ("Inc.", "Ltd.", "Co.", "& Co.", "Corp.", "Imports", "Distributors")

COUNTRIES: tuple[Country, ...] = (
    Country(
        "USA",
        36,
        "NA",
        (
            ("San Francisco", "CA"),
            ("San Diego", "CA"),
            ("Pasadena", "CA"),
            ("Boston", "MA"),
            ("Cambridge", "MA"),
            ("NYC", "NY"),
            ("White Plains", "NY"),
            ("Philadelphia", "PA"),
            ("Newark", "NJ"),
            ("Las Vegas", "NV"),
            ("Portland", "OR"),
            ("Burlingame", "CA"),
            ("New Haven", "CT"),
            ("Glendale", "CA"),
        ),
        (
            "Market St.",
            "Oak Ave.",
            "Hillside Dr.",
            "Strong St.",
            "Pompton St.",
            "Maple Rd.",
            "Harbor Blvd.",
        ),
        "{n} {street}",
        "###555####",
        "#####",
        "en",
        _EN_SUFFIXES,
    ),
    Country(
        "Germany",
        13,
        "EMEA",
        (
            ("München", None),
            ("Köln", None),
            ("Düsseldorf", None),
            ("Frankfurt", None),
            ("Berlin", None),
            ("Stuttgart", None),
            ("Leipzig", None),
            ("Münster", None),
        ),
        ("Hauptstraße", "Lindenallee", "Schloßstraße", "Bahnhofstr.", "Gartenweg", "Königsallee"),
        "{street} {n}",
        "0###-555###",
        "#####",
        "de",
        ("GmbH", "AG", "& Co. KG", "Handel"),
    ),
    Country(
        "France",
        12,
        "EMEA",
        (
            ("Paris", None),
            ("Nantes", None),
            ("Lyon", None),
            ("Marseille", None),
            ("Strasbourg", None),
            ("Toulouse", None),
            ("Besançon", None),
            ("Nîmes", None),
        ),
        (
            "rue Royale",
            "avenue de l'Europe",
            "place Kléber",
            "boulevard Saint-Michel",
            "rue des Écoles",
        ),
        "{n}, {street}",
        "##.##.#555",
        "#####",
        "fr",
        ("S.A.", "SARL", "& Cie.", "Associés"),
    ),
    Country(
        "Spain",
        7,
        "EMEA",
        (
            ("Madrid", None),
            ("Barcelona", None),
            ("Sevilla", None),
            ("Málaga", None),
            ("A Coruña", None),
        ),
        ("Gran Vía", "Calle de Alcalá", "Rambla de Cataluña", "Avenida de la Constitución"),
        "{street}, {n}",
        "(91) ### 5555",
        "#####",
        "es",
        ("S.L.", "S.A.", "Hermanos"),
    ),
    Country(
        "Australia",
        5,
        "APAC",
        (
            ("Melbourne", "Victoria"),
            ("North Sydney", "NSW"),
            ("Chatswood", "NSW"),
            ("Brisbane", "Queensland"),
        ),
        ("St Kilda Road", "Miller Street", "Pacific Hwy", "George Street"),
        "{n} {street}",
        "0# 9### 5555",
        "####",
        "en",
        ("Pty Ltd", "Co.", "Traders"),
    ),
    Country(
        "UK",
        5,
        "EMEA",
        (("London", None), ("Manchester", None), ("Liverpool", None), ("Cowes", "Isle of Wight")),
        ("Hanover Sq.", "Baker Street", "Fenchurch Street", "Crowther Way"),
        "{n} {street}",
        "(171) 555-####",
        "@@# #@@",
        "en",
        ("Ltd", "PLC", "& Sons"),
    ),
    Country(
        "Italy",
        4,
        "EMEA",
        (("Milano", None), ("Torino", None), ("Bergamo", None), ("Reggio Emilia", None)),
        ("Via Monte Bianco", "Corso Vittorio Emanuele", "Via Ludovico il Moro"),
        "{street} {n}",
        "035-640555",
        "#####",
        "it",
        ("S.p.A.", "S.r.l.", "& Figli"),
    ),
    Country(
        "New Zealand",
        4,
        "APAC",
        (("Auckland", None), ("Wellington", None), ("Christchurch", None)),
        ("Queen Street", "Lambton Quay", "Karangahape Road"),
        "{n} {street}",
        "+64 9 5555 ###",
        None,
        "en",
        ("Ltd", "Co.", "Traders"),
    ),
    Country(
        "Sweden",
        3,
        "EMEA",
        (("Luleå", None), ("Göteborg", None), ("Malmö", None), ("Bräcke", None)),
        ("Berguvsvägen", "Åkergatan", "Storgatan", "Drottninggatan"),
        "{street} {n}",
        "0921-## 3555",
        "S-### ##",
        "nordic",
        ("AB", "Handelsbolag"),
    ),
    Country(
        "Denmark",
        2,
        "EMEA",
        (("København", None), ("Århus", None), ("Odense", None)),
        ("Vinbæltet", "Smagsløget", "Nørregade"),
        "{street} {n}",
        "31 12 3555",
        "####",
        "nordic",
        ("ApS", "A/S"),
    ),
    Country(
        "Norway",
        3,
        "EMEA",
        (("Bergen", None), ("Stavern", None), ("Tromsø", None), ("Bærum", None)),
        ("Erling Skakkes gate", "Drammensveien", "Brehmen St."),
        "{street} {n}",
        "+47 2267 ####",
        "N ####",
        "nordic",
        ("AS", "ASA"),
    ),
    Country(
        "Finland",
        3,
        "EMEA",
        (("Helsinki", None), ("Espoo", None), ("Oulu", None)),
        ("Keskuskatu", "Torikatu", "Mannerheimintie"),
        "{street} {n}",
        "90-224 8555",
        "#####",
        "nordic",
        ("Oy", "Oyj"),
    ),
    Country(
        "Canada",
        3,
        "NA",
        (("Montréal", "Québec"), ("Vancouver", "BC"), ("Toronto", "ON"), ("Tsawassen", "BC")),
        ("rue St. Laurent", "Granville Street", "Yonge Street"),
        "{n} {street}",
        "(514) 555-####",
        "@#@ #@#",
        "fr",
        ("Inc.", "Ltée", "Co."),
    ),
    Country(
        "Switzerland",
        3,
        "EMEA",
        (("Genève", None), ("Zürich", None), ("Bern", None), ("Fribourg", None)),
        ("Grenzacherweg", "Hauptstr.", "Rte des Arsenaux"),
        "{street} {n}",
        "0452-076555",
        "####",
        "de",
        ("AG", "GmbH", "SA"),
    ),
    Country(
        "Austria",
        2,
        "EMEA",
        (("Graz", None), ("Salzburg", None), ("Wien", None)),
        ("Kirchgasse", "Geislweg", "Mariahilfer Straße"),
        "{street} {n}",
        "7675-3555",
        "####",
        "de",
        ("GmbH", "KG"),
    ),
    Country(
        "Portugal",
        2,
        "EMEA",
        (("Lisboa", None), ("Porto", None)),
        ("Estrada da saúde", "Rua da Prata", "Avenida da Liberdade"),
        "{street} n. {n}",
        "(1) 356-5555",
        "####-###",
        "pt",
        ("Lda.", "S.A."),
    ),
    Country(
        "Japan",
        2,
        "Japan",
        (("Minato-ku", "Tokyo"), ("Kita-ku", "Osaka"), ("Nagoya", "Aichi")),
        ("Ginza", "Umeda", "Sakae"),
        "{n}-1 {street}",
        "+81 3 3584 0555",
        "###-####",
        "ja",
        ("Co., Ltd.", "K.K."),
    ),
    Country(
        "Singapore",
        3,
        "APAC",
        (("Singapore", None),),
        ("Orchard Road", "Temasek Blvd.", "Bras Basah Road"),
        "{n} {street}",
        "+65 221 7555",
        "######",
        "zh",
        ("Pte. Ltd.", "Co."),
    ),
    Country(
        "Ireland",
        2,
        "EMEA",
        (("Dublin", None), ("Cork", None)),
        ("Merchant's Quay", "Grafton Street", "Patrick Street"),
        "{n} {street}",
        "2967 555",
        None,
        "en",
        ("Ltd", "Co."),
    ),
    Country(
        "Belgium",
        2,
        "EMEA",
        (("Bruxelles", None), ("Charleroi", None), ("Liège", None)),
        ("Boulevard Tirou", "Rue Joseph-Bens", "Chaussée de Louvain"),
        "{street} {n}",
        "(02) 201 24 67",
        "B-####",
        "fr",
        ("S.A.", "SPRL"),
    ),
    Country(
        "Hong Kong",
        1,
        "APAC",
        (("Central Hong Kong", None), ("Kowloon", None)),
        ("Garden Road", "Nathan Road", "Queen's Road"),
        "{n} {street}",
        "+852 2251 1555",
        None,
        "zh",
        ("Ltd.", "Co."),
    ),
)

WEIGHTED_COUNTRIES: Weighted[Country] = Weighted(
    [(country, country.weight) for country in COUNTRIES]
)

#: optional second address lines and how they are numbered
SECOND_LINES: tuple[str, ...] = (
    "Suite {n}",
    "Level {n}",
    "Floor No. {n}",
    "Apt. {n}",
    "PB {n} Sentrum",
)
