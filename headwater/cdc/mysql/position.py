"""A place in the binary log, ``file:offset`` (``mysql-bin.000003:4521``), ordered as the
server writes it: by the file's index, then by the offset within the file.

As text the two do not sort (``…:10000`` before ``…:4521``; an index past 999999 grows a
digit), so positions are compared through :meth:`BinlogPosition.key`, which is
:func:`headwater.cdc.positions.sort_key`'s order for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

from headwater.cdc.positions import binlog_parts


@total_ordering
@dataclass(frozen=True)
class BinlogPosition:
    file: str
    offset: int

    @classmethod
    def parse(cls, text: str) -> BinlogPosition:
        _, _, offset = binlog_parts(text)
        return cls(text.rpartition(":")[0], offset)

    @property
    def index(self) -> int:
        """The file's number (``mysql-bin.000003`` → 3): the server numbers files in order."""
        return int(self.file.rpartition(".")[2])

    def key(self) -> tuple[int, int]:
        """Sorts positions in the order the server wrote them, across file rotations."""
        return (self.index, self.offset)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, BinlogPosition):
            return NotImplemented
        return self.key() < other.key()

    def __str__(self) -> str:
        return f"{self.file}:{self.offset}"
