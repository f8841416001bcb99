"""A place in the binary log, ``file:offset`` (``mysql-bin.000003:4521``), ordered as the
server writes it: by the file's index, then by the offset within the file.

As text the two do not sort (``…:10000`` before ``…:4521``; an index past 999999 grows a
digit), so positions are compared through :meth:`BinlogPosition.key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering

from headwater.errors import CdcError


@total_ordering
@dataclass(frozen=True)
class BinlogPosition:
    file: str
    offset: int

    @classmethod
    def parse(cls, text: str) -> BinlogPosition:
        name, sep, offset = text.rpartition(":")
        index = name.rpartition(".")[2]
        if not sep or not name or not offset.isdigit() or not index.isdigit():
            raise CdcError(
                f"`{text}` is not a binary log position",
                hint="a MySQL/MariaDB position is the binary log file and the offset in it, "
                "as SHOW MASTER STATUS shows them: mysql-bin.000003:4521",
            )
        return cls(name, int(offset))

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
