"""The one value that describes a change of a table: what :func:`headwater.lake.commits.commit`
publishes in a single Iceberg commit.

Every writer of the lake — loads of every strategy, models, the quarantine, compaction,
snapshot expiry, crawler imports — builds a :class:`TableChange` and hands it to that one
function. A change is a value, not a transaction: when another writer commits first, the
commit applies the same value again on top of the newer table (unless the change says it was
computed from one snapshot and must not be rebased).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


class Keep(Enum):
    """Which of the table's current data files a change removes, besides named ones."""

    ALL = "all"  # none is removed
    NONE = "none"  # every one is removed: the table holds the added files only


class Base(Enum):
    """A change that may be applied on top of whatever the table holds when it commits."""

    ANY = "any"


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet data file written for a change, not yet part of the table."""

    path: str
    record_count: int
    size: int
    field_ids: bool = True  # False: written by an engine that sets none (a name mapping reads it)


@dataclass(frozen=True)
class TableChange:
    """One atomic change of one table (see the module docstring).

    ``schema`` is the Arrow schema the added files are written with; the table is created with
    it when missing, and evolved to it (new columns, safe promotions) when not. ``keep`` and
    ``remove`` pick the current files that go; ``remove`` naming a file that is no longer live
    is a conflict (another writer removed it); ``remove_where`` deletes rows by a filter.
    ``base`` is the snapshot a change was computed from, when it must not be applied to any other (compaction carries the load state of the
    snapshot it replaces); ``Base.ANY`` for changes that rebase cleanly (appends, replaces).
    """

    table: str
    schema: pa.Schema | None = None
    add: tuple[WrittenFile, ...] = ()
    keep: Keep = Keep.ALL
    remove: frozenset[str] = frozenset()
    # rows to delete first, in pyiceberg's filter syntax (``"id < 5"``): files whose rows all
    # match go, files with some matching rows are rewritten without them (copy-on-write)
    remove_where: str | None = None
    snapshot_properties: Mapping[str, str] = field(default_factory=dict)
    table_properties: Mapping[str, str] = field(default_factory=dict)
    expire_snapshots: tuple[int, ...] = ()
    base: int | Base | None = Base.ANY
    # the field id each column of the added files was written with (by name): a commit on a
    # table whose columns got other ids meanwhile cannot publish them
    field_ids: Mapping[str, int] = field(default_factory=dict)
    # the table takes ``schema`` as it is (a model rebuilt from a changed SELECT): columns it
    # lacks are dropped, a column of another type is replaced; only with ``Keep.NONE``
    replace_schema: bool = False

    def __post_init__(self) -> None:
        if self.replace_schema and self.keep is not Keep.NONE:
            raise ValueError("replace_schema needs keep=Keep.NONE: the old files would not fit")

    @property
    def replaces(self) -> bool:
        """True when files go (an OVERWRITE snapshot); else an APPEND."""
        return self.keep is Keep.NONE or bool(self.remove) or self.remove_where is not None

    @property
    def rows(self) -> int:
        return sum(f.record_count for f in self.add)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.add)
