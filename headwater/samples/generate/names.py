"""Person and company names by language, for contacts, employees and customer companies."""

from __future__ import annotations

import random
import unicodedata

from headwater.samples.generate.draw import chance, pick


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split("; "))


FIRST: dict[str, tuple[str, ...]] = {
    "en": _names(
        "Susan; Jean; Peter; Julie; Michael; Leslie; William; Anna; Thomas; Sarah; Steve; "
        "Valarie; Wing; Kwai; Dean; Ann; Brydey; Sean"
    ),
    "de": _names("Roland; Rita; Horst; Karin; Sven; Henriette; Jürgen; Günter; Jörg; Ute"),
    "fr": _names(
        "Carine; Janine; Frédérique; Laurence; Annette; Daniel; Martine; Hélène; Rémi; Zoé"
    ),
    "es": _names("Diego; Eduardo; Alejandra; Martín; José; Begoña; Jesús; Ángela"),
    "it": _names("Maurizio; Giovanni; Paolo; Franco; Chiara; Niccolò"),
    "pt": _names("Isabel; Lino; João; Conceição; Estêvão"),
    "nordic": _names("Christina; Jytte; Jonas; Palle; Kalle; Maria; Søren; Åsa; Björn; Pirkko"),
    "ja": _names("Mory; Akiko; Yoshi; Keiko; Hiroshi; Naoko"),
    "zh": _names("Wendy; Eric; Kelvin; Mei; Wei; Jia"),
}

LAST: dict[str, tuple[str, ...]] = {
    "en": _names(
        "Nelson; King; Young; Frick; Taylor; Brown; Murphy; Smith; Hernandez; O'Hara; "
        "Harrison; Connery; Thompson; Franco; Huxley; Lewis; Hirano"
    ),
    "de": _names("Müller; Keitel; Kloss; Pfalzheim; Ottlieb; Feuer; Weiß; Schröder; Groß"),
    "fr": _names("Schmitt; Labrune; Citeaux; Rancé; Roulet; Tonini; Fresnière; Perrier; Bertrand"),
    "es": _names("Saavedra; Freyre; Camino; Sommer; Muñoz; Peña; Domínguez"),
    "it": _names("Accorti; Rovelli; Ricotti; Moroni; Ferrari; Lucchesi"),
    "pt": _names("de Castro; Rodriguez; Gonçalves; Magalhães"),
    "nordic": _names(
        "Berglund; Petersen; Bergulfsen; Larsson; Ibsen; Karttunen; Sørensen; Ålander"
    ),
    "ja": _names("Shimamura; Kentary; Tamuri; Nakamura; Ōtsuka"),
    "zh": _names("Victorino; Natividad; Tam; Lau; Cheng; Leong"),
}

#: customer company names: "<lead> <core> <suffix>"
LEADS: tuple[str, ...] = _names(
    "Atelier; Signal; Harbor; Alpine; Nordic; Golden Gate; Vintage; Classic; Heritage; Mini; "
    "Scale; Corner; Royal; Blue Ridge; Double Decker; Precious; Handji; Suominen; Natürlich; "
    "Québec; Señor; Lyon; Mit Vergnügen; Øresund; Rivière; Kelly's; Dragon"
)
CORES: tuple[str, ...] = _names(
    "Gifts; Collectables; Model Replicas; Auto Imports; Diecast Classics; Miniatures; Toys; "
    "Souvenirs; Hobby Shop; Car Models; Traders; Mini Autos; Gift Stores"
)


def person(rng: random.Random, language: str) -> tuple[str, str]:
    """A (first name, last name) pair in ``language``."""
    return pick(rng, FIRST[language]), pick(rng, LAST[language])


def company(rng: random.Random, suffixes: tuple[str, ...]) -> str:
    """A customer company name of at most 50 characters."""
    name = f"{pick(rng, LEADS)} {pick(rng, CORES)}"
    if chance(rng, 0.7):
        name = (
            f"{name}, {pick(rng, suffixes)}"
            if chance(rng, 0.5)
            else f"{name} {pick(rng, suffixes)}"
        )
    return name[:50]


def ascii_fold(text: str) -> str:
    """``text`` without accents and with only [a-z], for e-mail addresses (Müller -> muller)."""
    lowered = text.lower().replace("ø", "o").replace("æ", "ae").replace("ß", "ss")
    return "".join(char for char in unicodedata.normalize("NFKD", lowered) if "a" <= char <= "z")
