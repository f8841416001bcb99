"""Durations as users write them: ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or ISO 8601."""

from __future__ import annotations

import re
from datetime import timedelta

from headwater.errors import ProjectError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIMPLE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or ISO 8601 (``PT2H``, ``P1D``)."""
    simple = _SIMPLE.match(text)
    if simple:
        return timedelta(seconds=float(simple.group(1)) * _UNITS[simple.group(2).lower()])
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()):
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return timedelta(
            weeks=parts.get("w", 0),
            days=parts.get("d", 0),
            hours=parts.get("h", 0),
            minutes=parts.get("m", 0),
            seconds=parts.get("s", 0),
        )
    raise ProjectError(
        f"`{text}` is not a duration", hint="write it like 90s, 15m, 2h, 1d, 1w or PT2H"
    )
