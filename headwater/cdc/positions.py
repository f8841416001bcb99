"""Source positions as text and as something that sorts: PostgreSQL LSNs (``16/B374D848``)
and MySQL/MariaDB binary-log positions (``mysql-bin.000003:4521``).

A position is stored as text (in snapshot properties and change rows) because that is how a
DBA reads it; comparing two needs its parts as numbers, which :func:`sort_key` gives.
"""

from __future__ import annotations

import re

from headwater.errors import CdcError

_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
_BINLOG = re.compile(r"^(.+)\.(\d+):(\d+)$")


def lsn_value(text: str) -> int:
    """``16/B374D848`` → its 64-bit number."""
    match = _LSN.match(text)
    if match is None:
        raise CdcError(
            f"`{text}` is not a PostgreSQL LSN (two hexadecimal parts, like 16/B374D848)"
        )
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def lsn_text(value: int) -> str:
    """A 64-bit LSN number as PostgreSQL writes it."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def binlog_parts(text: str) -> tuple[str, int, int]:
    """``mysql-bin.000003:4521`` → (``mysql-bin``, 3, 4521)."""
    match = _BINLOG.match(text)
    if match is None:
        raise CdcError(
            f"`{text}` is not a binary-log position (file and offset, like mysql-bin.000003:4521)"
        )
    return match.group(1), int(match.group(2)), int(match.group(3))


def sort_key(text: str) -> tuple[int, int]:
    """A key that orders positions of one source as the source does (an LSN's number; a
    binary log's file number, then its offset)."""
    if _LSN.match(text):
        return (0, lsn_value(text))
    _, number, offset = binlog_parts(text)
    return (number, offset)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two positions (None is before every position)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if sort_key(a) >= sort_key(b) else b
