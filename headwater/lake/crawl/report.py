"""What a crawl did: a line per table, the files it skipped and why, and a summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.lake.crawl.plan import TablePlan

# What happened to a table. `logged`: a schema change was seen and kept out (policy log);
# `conflict`: the name is taken by a table of the other kind; `failed`: an import failed.
ACTIONS = ("added", "updated", "unchanged", "logged", "deprecated", "conflict", "failed")


@dataclass(frozen=True)
class TableOutcome:
    name: str  # namespace.table
    action: str
    location: str
    format: str
    files: int = 0
    partitions: int = 0  # partition folders the table has
    partitions_added: int = 0
    changes: tuple[str, ...] = ()  # schema changes seen: "+col TYPE", "col: A → B", "-col"
    rows: int | None = None  # rows imported (--import)
    detail: str = ""

    @classmethod
    def of(
        cls,
        name: str,
        plan: TablePlan,
        action: str,
        *,
        partitions_added: int = 0,
        changes: Sequence[str] = (),
        rows: int | None = None,
        detail: str = "",
    ) -> TableOutcome:
        """What ``action`` did to table ``name``, crawled as ``plan`` describes it."""
        return cls(
            name,
            action,
            plan.location,
            plan.format,
            files=len(plan.files),
            partitions=len(plan.partition_values()),
            partitions_added=partitions_added,
            changes=tuple(changes),
            rows=rows,
            detail=detail,
        )


@dataclass(frozen=True)
class SkippedFile:
    path: str  # relative to the crawl root
    reason: str


@dataclass
class CrawlReport:
    """The outcome of one crawl, for the CLI, a pipeline task's log, or a test."""

    root: str
    namespace: str
    imported: bool
    policy: str
    recrawl: str
    files_seen: int = 0
    tables: list[TableOutcome] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, name: str) -> TableOutcome:
        """The outcome of table ``name`` (``namespace.table`` or just ``table``)."""
        full = name if "." in name else f"{self.namespace}.{name}"
        for outcome in self.tables:
            if outcome.name == full:
                return outcome
        raise KeyError(f"{name}: not among {[t.name for t in self.tables]}")

    def count(self, action: str) -> int:
        return sum(1 for t in self.tables if t.action == action)

    @property
    def partitions_added(self) -> int:
        return sum(t.partitions_added for t in self.tables)

    @property
    def ok(self) -> bool:
        """No table failed or conflicted (skipped files are reported, not failures)."""
        return not any(t.action in ("failed", "conflict") for t in self.tables)

    def summary(self) -> str:
        """One line: ``2 tables added, 1 updated, 0 unchanged; 12 partitions added; …``."""
        counts = Counter(t.action for t in self.tables)
        parts = [
            f"{counts['added']} added",
            f"{counts['updated']} updated",
            f"{counts['unchanged']} unchanged",
        ]
        parts += [f"{counts[a]} {a}" for a in ACTIONS[3:] if counts[a]]
        what = "tables imported" if self.imported else "tables"
        skipped = f"{len(self.skipped)} of {self.files_seen} files skipped"
        return (
            f"{what}: {', '.join(parts)}; {self.partitions_added} partitions added; "
            f"{skipped} ({self.seconds:.2f}s)"
        )

    def skipped_by_reason(self) -> list[tuple[str, list[str]]]:
        """Skipped files grouped by reason, the most frequent reason first."""
        groups: dict[str, list[str]] = {}
        for item in self.skipped:
            groups.setdefault(item.reason, []).append(item.path)
        return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
