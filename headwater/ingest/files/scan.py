"""What a format's reader hands the file resource: SELECTs of one schema, and their rejects."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.connect.sql.quoting import ident, literal
from headwater.ingest.extraction import Reject
from headwater.ingest.origin import FILE

if TYPE_CHECKING:
    import duckdb

__all__ = ["FILE", "Lines", "Numbering", "Scan", "nth_kept", "numbering"]

# (a file's number, positions of rows read from that file) → the line of each, from 1; None
# when the file cannot be read as lines (a line that does not decode)
Lines = Callable[[int, Sequence[int]], list[int] | None]


# the file name column of a read whose files cannot be numbered by ``file_index``
_NAME = "__headwater_name"


@dataclass(frozen=True)
class Numbering:
    """How a read numbers its files in ``FILE``: a SELECT item, with what the reader needs."""

    item: str  # the SELECT item
    option: str = ""  # a read function's option, with its leading comma
    exclude: str = ""  # what ``SELECT *`` must leave out, as `` EXCLUDE (…)``


def numbering(first: int, locations: Sequence[str], columns: Sequence[str] | None) -> Numbering:
    """Number the files of one read from ``first``, in the order of ``locations``.

    DuckDB's ``file_index`` costs an integer per row, a file name (``filename =``) a string
    per row, measurably more on a million rows. A column of the files named ``file_index``
    hides the former, and so do ``columns`` None (not known): then the name is mapped."""
    if columns is not None and "file_index" not in {c.lower() for c in columns}:
        return Numbering(f"(file_index + {first})::BIGINT AS {ident(FILE)}")
    pairs = ", ".join(f"{literal(loc)}: {first + i}" for i, loc in enumerate(locations))
    return Numbering(
        f"MAP {{{pairs}}}[{ident(_NAME)}] AS {ident(FILE)}",
        f", filename = {literal(_NAME)}",
        f" EXCLUDE ({ident(_NAME)})",
    )


@dataclass
class Scan:
    """SELECTs run one after another on one connection, each with the same columns + ``FILE``.

    ``FILE`` holds each row's file number; ``locations`` maps it to the file's path under the
    storage root;
    ``rejects`` is asked once every SELECT is drained, on the same connection, with the number
    of rows read from each file (by its number). ``lines``
    gives the line of a row the load refuses (None: the format has no lines).
    """

    queries: list[str]
    locations: dict[int, str]
    rejects: Callable[[duckdb.DuckDBPyConnection, Mapping[int, int]], list[Reject]] = (
        lambda con, read: []
    )
    found: list[Reject] = field(default_factory=list)  # rejects known before reading
    lines: Lines | None = None


def nth_kept(skipped: Sequence[int], ranks: Sequence[int]) -> list[int]:
    """The line of the ``rank``-th line (from 0) that is not in ``skipped`` (sorted, from 1).

    The lines before the ``j``-th skipped one that are kept number ``skipped[j] - j - 1``; so
    the wanted line is past exactly the skipped lines with ``skipped[j] - j <= rank + 1``.
    """
    gaps = [line - j for j, line in enumerate(skipped)]
    return [rank + 1 + bisect.bisect_right(gaps, rank + 1) for rank in ranks]
