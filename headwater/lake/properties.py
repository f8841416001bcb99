"""The properties Headwater writes: in snapshot summaries, who wrote a snapshot and the load
state it carries (committed with the rows it covers; see headwater.ingest.state); on tables,
the catalog that holds them (see headwater.lake.identity)."""

from __future__ import annotations

from collections.abc import Mapping

RUN_ID = "headwater.run-id"  # the run that wrote the snapshot
TASK = "headwater.task"  # the task of that run
READER = "headwater.reader"  # the reader a SQL load used
LOADED = "headwater.loaded"  # marks a snapshot written by a load (not by maintenance)
CURSOR = "headwater.cursor"  # the load's cursor after it
SOURCE_STATE = "headwater.source-state"  # the source's own state after it (JSON)
MAINTENANCE = "headwater.maintenance"  # names the maintenance operation that wrote it

# who wrote a snapshot, not state: a compaction does not carry them from the snapshot it rewrote
WRITER = frozenset({RUN_ID, TASK, READER})


def carried(summary: Mapping[str, str]) -> dict[str, str]:
    """The properties of a load's snapshot that a snapshot rewriting its files without changing
    rows (compaction, relocation) carries: every ``headwater.*`` key but the writer's."""
    return {k: v for k, v in summary.items() if k.startswith("headwater.") and k not in WRITER}


# the table property naming the catalog a table belongs to (its id, see lake.identity)
CATALOG_ID = "headwater.catalog-id"
