"""Key-value and document stores behind one small Protocol (Redis now; MongoDB, DynamoDB next).

A store scans the keys matching a pattern and returns each one's value in batches, so a
source reads millions of keys with a bounded number of round trips and bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

ReadAs = Literal["auto", "hash", "string"]


@dataclass(frozen=True)
class Document:
    """One key's value: fields (a hash, a document) or text; ``error`` when it was unreadable."""

    key: str
    kind: str  # hash | string | the store's name for another type (list, set…)
    value: Mapping[str, str] | str | None = None
    error: str | None = None


class DocumentStore(Protocol):
    """A store whose keys can be scanned by pattern."""

    @property
    def address(self) -> str:
        """host:port (or a name) for messages."""
        ...

    def check(self) -> None:
        """Raise ``SourceUnreachable`` now if the store does not answer."""
        ...

    def scan(self, pattern: str, read_as: ReadAs) -> Iterator[list[Document]]:
        """The keys matching ``pattern`` with their values, a batch per round trip."""
        ...

    def close(self) -> None: ...
