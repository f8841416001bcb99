"""Where each row of a batch came from, so that a row refused after it was read can be found.

A source whose rows have a place of their own (a file source: a file and a line) adds two
hidden columns to its batches: ``FILE`` (the file's number in the source's read) and ``ROW``
(the row's position among the rows it read from that file, from 0). The load splits them off
before the contract, carries them beside the rows it keeps, and never writes them to a table.

A rejected row keeps its file and position (:class:`RowReject`); the source turns those into
``path:line`` (``Extraction.locate``) once, for the rejected rows only. Counting lines is the
source's business and happens only when something is rejected: an ordinary load pays for a
row counter, not for a second pass over its files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from headwater.lake.quarantine import Reject

__all__ = ["COLUMNS", "FILE", "ROW", "Locate", "Origins", "RowReject", "resolve", "visible"]

FILE = "__headwater_file"
ROW = "__headwater_row"
COLUMNS = (FILE, ROW)

# (a file's number, positions of rows in it) → "path:line" of each row
Locate = Callable[[int, Sequence[int]], list[str]]


@dataclass(frozen=True)
class RowReject(Reject):
    """A rejected row known by its file and position; ``resolve`` gives it its location."""

    file: int = 0
    row: int = 0


@dataclass(frozen=True)
class Origins:
    """The file and position of each row of a batch, in the batch's order."""

    files: pa.Array
    rows: pa.Array

    def filter(self, mask: pa.Array) -> Origins:
        return Origins(pc.filter(self.files, mask), pc.filter(self.rows, mask))

    def mark(self, rejects: Sequence[Reject], mask: pa.Array) -> list[Reject]:
        """``rejects``, one per row where ``mask`` is true (in order), with those rows' places."""
        files = pc.filter(self.files, mask).to_pylist()
        rows = pc.filter(self.rows, mask).to_pylist()
        return [
            RowReject(r.reason, r.record, r.location, r.column, file=f, row=n)
            for r, f, n in zip(rejects, files, rows, strict=True)
        ]

    def place(self, index: int, locate: Locate | None) -> str | None:
        """``path:line`` of the row at ``index``, or None when the source cannot say."""
        if locate is None:
            return None
        return locate(int(self.files[index].as_py()), [int(self.rows[index].as_py())])[0]


def split(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, Origins | None]:
    """``batch`` without the hidden columns, and the places they held (None: not given)."""
    names = batch.schema.names
    if FILE not in names or ROW not in names:
        return batch, None
    origins = Origins(batch.column(FILE), batch.column(ROW))
    keep = [i for i, name in enumerate(names) if name not in COLUMNS]
    return batch.select(keep), origins


def visible(schema: pa.Schema) -> pa.Schema:
    """``schema`` without the hidden columns: the columns a table may get."""
    return pa.schema([f for f in schema if f.name not in COLUMNS])


def resolve(rejects: Sequence[Reject], locate: Locate | None) -> list[Reject]:
    """``rejects`` with every row reject's place turned into its location, asked per file."""
    pending: dict[int, list[int]] = {}
    for r in rejects:
        if isinstance(r, RowReject):
            pending.setdefault(r.file, []).append(r.row)
    if not pending or locate is None:
        return [_plain(r, r.location) for r in rejects]
    found: dict[tuple[int, int], str] = {}
    for file, rows in pending.items():
        wanted = sorted(set(rows))
        found.update(zip(((file, n) for n in wanted), locate(file, wanted), strict=True))
    return [_plain(r, found[(r.file, r.row)]) if isinstance(r, RowReject) else r for r in rejects]


def _plain(reject: Reject, location: str) -> Reject:
    if isinstance(reject, RowReject):
        return Reject(reject.reason, reject.record, location, reject.column)
    return replace(reject, location=location)
